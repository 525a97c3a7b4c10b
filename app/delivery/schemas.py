"""API shapes of deliveries and their event timeline."""

from __future__ import annotations

from datetime import date, datetime
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


class FunnelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    signed: int
    confirmed: int
    letters: int
    deliveries: int = Field(description="Deliveries made: one per letter and channel.")
    sent: int = Field(description="Accepted by the mail server, posted, or sent by hand.")
    delivered: int
    bounced: int = Field(description="Bounced e-mail and returned post.")
    failed: int
    responded: int | None = Field(description="Filled in by the response log, when present.")
    states: dict[DeliveryStatus, int] = Field(
        description="Every delivery counted once, under its status now; they add up to "
        "`deliveries`, as the delivery log lists them. Statuses with none are left out."
    )


class OfficeStatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    recipient_id: str
    office: str
    channels: list[str]
    waiting: int
    sent: int
    delivered: int
    bounced: int
    failed: int
    stopped: int = Field(description="Cancelled deliveries and skipped manual tasks.")
    next_send_at: datetime | None
    drains_by: datetime | None
    last_response_at: datetime | None
    response_rate: float | None


class TimelineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    days: list[date]
    series: dict[str, list[int]] = Field(description="Per funnel step, one count per day (UTC).")


class DigestSummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    count: int
    cosigners: int
    last_at: datetime | None


class DashboardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    funnel: FunnelRead
    offices: list[OfficeStatusRead]
    timeline: TimelineRead
    digests: DigestSummaryRead
