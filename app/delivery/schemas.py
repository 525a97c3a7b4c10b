"""API shapes of deliveries and their event timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.delivery.models import DeliveryStatus
from app.recipients.channels import ChannelKind
from app.text import Paragraphs


class DeliveryEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_status: str | None
    to_status: str
    attempt: int
    code: int | None
    detail: str | None
    actor: str


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    letter_id: int
    recipient_id: str
    channel: ChannelKind
    address: str | None
    status: DeliveryStatus
    status_changed_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error_code: int | None
    last_error: str | None
    external_id: str | None


class DeliveryDetail(DeliveryRead):
    events: list[DeliveryEventRead]


class DeliveryAction(BaseModel):
    """A staff action: retry (failed → queued), cancel, or close a manual task (done, skipped)."""

    model_config = ConfigDict(extra="forbid")

    to: DeliveryStatus
    note: Annotated[str, Paragraphs(1000)] | None = None


class PrintBatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    created_by: str
    created_at: datetime
    posted_at: datetime | None
    posted_by: str | None
    test_mode: bool  # a rehearsal: every page is marked TEST, not to be posted
    letters: int = 0


class OfficeScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    recipient_id: str
    office: str
    channel: ChannelKind
    waiting: int
    next_attempt_at: datetime
    drains_by: datetime | None = Field(
        description="Estimated from the pacing; none for post and manual tasks (people do them)."
    )


class RetargetRead(BaseModel):
    retargeted: int
    without_usable_channel: int


class ChannelPauseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: ChannelKind
    reason: str
    paused_at: datetime
    until: datetime
    paused_by: str
