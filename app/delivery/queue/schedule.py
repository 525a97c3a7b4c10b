"""When will each office's queue drain? An estimate from the waiting letters and the pacing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.campaigns.schemas import Pacing
from app.delivery.models import Delivery, DeliveryStatus
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient


@dataclass(frozen=True, slots=True)
class OfficeSchedule:
    recipient_id: str
    office: str
    channel: str
    waiting: int
    next_attempt_at: datetime
    drains_by: datetime | None  # None: not paced (post and manual tasks wait for people)


def drain_estimate(waiting: int, start: datetime, pacing: Pacing) -> datetime:
    """Working hours × hourly cap, bounded by the daily cap, spread over the working days."""
    hours = pacing.office_hours_end - pacing.office_hours_start
    per_day = min(pacing.per_office_per_day, pacing.per_office_per_hour * hours)
    working_days = math.ceil(waiting / per_day)
    calendar_days = working_days * 7 / len(pacing.office_days)
    return start + timedelta(days=calendar_days)


async def campaign_schedule(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> list[OfficeSchedule]:
    """Per office and channel, the campaign's waiting letters, read from
    ix_deliveries_campaign_status alone (the campaign's own rows, not the table's)."""
    rows = await session.execute(
        select(
            Delivery.recipient_id,
            Recipient.office,
            Delivery.channel,
            func.count(Delivery.id),
            func.min(Delivery.next_attempt_at),
        )
        .join(Recipient, Recipient.id == Delivery.recipient_id)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.status.in_((DeliveryStatus.queued, DeliveryStatus.open)),
        )
        .group_by(Delivery.recipient_id, Recipient.office, Delivery.channel)
        .order_by(Delivery.recipient_id, Delivery.channel)
    )
    pacing = Pacing.model_validate(campaign.pacing)
    schedule = []
    for recipient_id, office, channel, waiting, first in rows:
        start = max(now, first)
        paced = ChannelKind(channel) is ChannelKind.email
        schedule.append(
            OfficeSchedule(
                recipient_id=recipient_id,
                office=office,
                channel=ChannelKind(channel).value,
                waiting=int(waiting),
                next_attempt_at=first,
                drains_by=drain_estimate(int(waiting), start, pacing) if paced else None,
            )
        )
    return schedule
