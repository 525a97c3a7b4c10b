"""API shapes of responses, inbound messages and the review inbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.params import BodyId
from app.responses.models import InboundKind, InboundStatus, ResponseKind, ResponseMedium
from app.schemas import StrictInput

Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class ResponseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    campaign: str | None = Field(default=None, description="The campaign's slug.")
    recipient_id: str
    office: str | None = None
    case_id: str | None
    letter_id: int | None
    delivery_id: int | None
    inbound_message_id: int | None
    medium: ResponseMedium
    kind: ResponseKind
    suggested_kind: ResponseKind | None
    received_at: datetime
    from_name: str | None
    from_address: str | None
    subject: str | None
    excerpt: str
    notes: str
    recorded_by: str
    classified_by: str | None
    classified_at: datetime | None


class ResponseUpdate(StrictInput):
    """Classify a response, or change its notes (every change is audited)."""

    kind: ResponseKind | None = None
    notes: str | None = Field(default=None, max_length=10_000)


class ResponseCreate(StrictInput):
    """An answer that did not come by e-mail to a tracked address: a letter, a call."""

    campaign: str = Field(max_length=80, description="The campaign's slug.")
    office: str = Field(max_length=80, description="The office (recipient id) that answered.")
    letter_id: BodyId | None = Field(
        default=None, description="The letter answered, if known (of this campaign and office)."
    )
    case: str | None = Field(default=None, max_length=80)
    medium: ResponseMedium = ResponseMedium.postal
    kind: ResponseKind = ResponseKind.unclassified
    received_on: date
    from_name: Line | None = None
    subject: Line | None = None
    text: str = Field(default="", max_length=20_000, description="The answer, or its gist.")
    notes: str = Field(default="", max_length=10_000)


class InboundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    source: str
    size: int
    truncated: bool
    envelope_to: str | None
    message_id: str | None
    from_address: str | None
    subject: str | None
    status: InboundStatus
    kind: InboundKind | None
    delivery_id: int | None
    matched_by: str | None
    dsn_recipient: str | None
    dsn_status: str | None
    hard_bounce: bool
    detail: str | None
    processed_at: datetime | None
    handled_by: str | None


class InboundResult(InboundRead):
    response_id: int | None
    duplicate: bool = Field(description="These bytes had arrived before: nothing was redone.")


class InboundDetail(InboundRead):
    text: str = Field(description="The message's readable text (empty when it cannot be read).")
    unreadable: str | None = Field(
        default=None,
        description="Why the message cannot be read (nested too deep, too many parts or header "
        "fields...): it is kept as it came, as .eml.",
    )


class InboundMatch(StrictInput):
    delivery_id: BodyId


class InboundReview(StrictInput):
    ignored: bool = Field(description="true: dismiss it; false: back to the review inbox.")
