"""Pacing by office: caps per hour and per day, the office's working hours, and jitter.

Every supporter writes to the same twenty offices; flooding them gets a campaign filtered as
spam. So the limits belong to the office, whatever campaign a letter comes from. A delivery
that may not go now is given a later attempt time: the claim loop never sleeps. What an
office has received lately is counted by `recent_sends`, the one query of this module.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.schemas import Pacing
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import leases
from app.recipients.channels import ChannelKind

S = DeliveryStatus
# What counts as sent to an office: being sent, or gone out (a bounce went out too).
COUNTED = (S.sending, S.sent, S.delivered, S.bounced)


@dataclass(frozen=True, slots=True)
class Recent:
    """E-mails the office received from us in the last hour and the last day."""

    last_hour: int
    last_day: int


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    """ZoneInfo keeps only the last few zones it made; an office's zone is wanted per letter
    and was read from disk again (seen in bench/dispatch.py's profile)."""
    return ZoneInfo(name)


def _next_opening(local: datetime, pacing: Pacing) -> datetime:
    """The next start of working hours on a working day, after `local`."""
    day = local.replace(hour=pacing.office_hours_start, minute=0, second=0, microsecond=0)
    if day <= local:
        day += timedelta(days=1)
    while day.weekday() not in pacing.office_days:
        day += timedelta(days=1)
    return day


def next_slot(
    now: datetime, *, timezone: str, pacing: Pacing, recent: Recent, rng: random.Random
) -> datetime | None:
    """None if a letter may go to the office now, else the earliest time worth trying again."""
    local = now.astimezone(_zone(timezone))
    jitter = timedelta(seconds=rng.uniform(0, pacing.jitter_seconds))
    working = local.weekday() in pacing.office_days and (
        pacing.office_hours_start <= local.hour < pacing.office_hours_end
    )
    if not working:
        return _next_opening(local, pacing).astimezone(now.tzinfo) + jitter
    if recent.last_day >= pacing.per_office_per_day:
        return _next_opening(local, pacing).astimezone(now.tzinfo) + jitter
    if recent.last_hour >= pacing.per_office_per_hour:
        # Spread the hour's letters out rather than releasing them together.
        spacing = timedelta(hours=1) / pacing.per_office_per_hour
        return now + spacing + jitter
    return None


async def recent_sends(
    session: AsyncSession, *, offices: Sequence[str], now: datetime
) -> dict[str, list[int]]:
    """Per office: e-mails sent (or being sent) in the last hour and in the last day.

    Reads ix_deliveries_office_sends (channel, recipient_id, status_changed_at, status): each
    office's last day of changes, from the index alone, however many letters it received
    before; the channel and the states are written into the statement, so that PostgreSQL's
    generic plan of it (a long-running worker's) is as good as the first ones. Offices
    without any send are left out."""
    if not offices:
        return {}
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    rows = await session.execute(
        select(
            Delivery.recipient_id,
            func.sum(case((Delivery.status_changed_at >= hour_ago, 1), else_=0)),
            func.count(),
        )
        .where(
            Delivery.channel == leases.written(Delivery.channel, ChannelKind.email),
            Delivery.recipient_id.in_(sorted(set(offices))),
            Delivery.status_changed_at >= day_ago,
            Delivery.status.in_([leases.written(Delivery.status, s) for s in COUNTED]),
        )
        .group_by(Delivery.recipient_id)
    )
    return {office: [int(hour or 0), int(day)] for office, hour, day in rows}
