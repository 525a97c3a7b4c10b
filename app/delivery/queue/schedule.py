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
from app.delivery.queue.pacing import _next_opening, _zone
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


def drain_estimate(
    waiting: int, start: datetime, pacing: Pacing, *, timezone: str = "UTC"
) -> datetime:
    """When the last of `waiting` letters goes, if the first may go at `start`.

    Letters leave one per `1 / per_office_per_hour` hours while the office is open (its hours,
    its days, its zone), at most `per_office_per_day` a day. So the n-th letter of a day goes
    (n - 1) spacings after the day's first one: two letters at one an hour are out an hour after
    the first, not a working day later (issue 16). Whole weeks are skipped at once, so a long
    queue costs no more than a short one."""
    local = start.astimezone(_zone(timezone))
    spacing = timedelta(hours=1) / pacing.per_office_per_hour
    left = max(waiting, 1)
    while True:
        if not _open(local, pacing):
            local = _next_opening(local, pacing)
            continue
        closing = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            hours=pacing.office_hours_end
        )
        slots = min(pacing.per_office_per_day, math.ceil((closing - local) / spacing))
        if left <= slots:
            return (local + (left - 1) * spacing).astimezone(start.tzinfo)
        left -= slots
        local = _next_opening(local, pacing)
        week = _full_day(pacing) * len(set(pacing.office_days))
        if left > week:
            weeks = (left - 1) // week
            left -= weeks * week
            local += timedelta(weeks=weeks)


def _open(local: datetime, pacing: Pacing) -> bool:
    return local.weekday() in pacing.office_days and (
        pacing.office_hours_start <= local.hour < pacing.office_hours_end
    )


def _full_day(pacing: Pacing) -> int:
    """Letters a whole working day carries."""
    hours = pacing.office_hours_end - pacing.office_hours_start
    return min(pacing.per_office_per_day, pacing.per_office_per_hour * hours)


async def campaign_schedule(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> list[OfficeSchedule]:
    """Per office and channel, the campaign's waiting letters, read from
    ix_deliveries_campaign_status alone (the campaign's own rows, not the table's)."""
    rows = await session.execute(
        select(
            Delivery.recipient_id,
            Recipient.office,
            Recipient.timezone,
            Delivery.channel,
            func.count(Delivery.id),
            func.min(Delivery.next_attempt_at),
        )
        .join(Recipient, Recipient.id == Delivery.recipient_id)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.status.in_((DeliveryStatus.queued, DeliveryStatus.open)),
        )
        .group_by(Delivery.recipient_id, Recipient.office, Recipient.timezone, Delivery.channel)
        .order_by(Delivery.recipient_id, Delivery.channel)
    )
    pacing = Pacing.model_validate(campaign.pacing)
    schedule = []
    for recipient_id, office, zone, channel, waiting, first in rows:
        start = max(now, first)
        paced = ChannelKind(channel) is ChannelKind.email
        schedule.append(
            OfficeSchedule(
                recipient_id=recipient_id,
                office=office,
                channel=ChannelKind(channel).value,
                waiting=int(waiting),
                next_attempt_at=first,
                drains_by=(
                    drain_estimate(int(waiting), start, pacing, timezone=zone) if paced else None
                ),
            )
        )
    return schedule
