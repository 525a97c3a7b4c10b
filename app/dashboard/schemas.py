"""API shapes of the campaign dashboard."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.delivery.models import DeliveryStatus


class FunnelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    signed: int
    confirmed: int
    withdrawn: int = Field(description="Signatures the supporter took back.")
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
