"""Leases on deliveries: the one way any channel's worker claims, releases and records.

A worker takes due deliveries of its channel with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
has one writer), holds each under a lease that expires, sends outside any transaction, then
records the outcome only if it still holds the lease. A lease found expired means a worker died
holding it: the attempt's outcome is unknown and the delivery goes again (at-least-once).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.config import Settings
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.retries import next_attempt
from app.letters.models import Letter
from app.recipients.files import ChannelKind

log = logging.getLogger(__name__)
S = DeliveryStatus


async def due_ids(
    session: AsyncSession, *, channel: ChannelKind, now: datetime, limit: int
) -> Sequence[int]:
    """Up to `limit` deliveries of `channel` due now or left by a dead worker, locked.

    A paused campaign's letters wait: pausing is how staff stop a mailing that went wrong."""
    due = or_(
        and_(Delivery.status == S.queued, Delivery.next_attempt_at <= now),
        and_(Delivery.status == S.sending, Delivery.lease_expires_at < now),
    )
    rows = await session.scalars(
        select(Delivery.id)
        .join(Letter, Letter.id == Delivery.letter_id)
        .join(Campaign, Campaign.id == Letter.campaign_id)
        .where(Delivery.channel == channel, due, Campaign.status != CampaignStatus.paused)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    return rows.all()


def take(
    session: AsyncSession,
    delivery: Delivery,
    *,
    owner: str,
    now: datetime,
    seconds: int,
    again: str = "sending again (at-least-once)",
    detail: str | None = None,
) -> None:
    """Lease `delivery` to `owner` for a new attempt (after logging a dead worker's lease)."""
    if delivery.status is S.sending:
        service.transition(
            session,
            delivery,
            S.queued,
            actor=owner,
            detail=(
                f"lease of {delivery.lease_owner} expired: the outcome of attempt "
                f"{delivery.attempts} is unknown; {again}"
            ),
            now=now,
        )
    service.transition(session, delivery, S.sending, actor=owner, detail=detail, now=now)
    delivery.attempts += 1
    delivery.lease_owner = owner
    delivery.lease_expires_at = now + timedelta(seconds=seconds)


async def release(
    session: AsyncSession, *, delivery_id: int, attempt: int, owner: str
) -> Delivery | None:
    """The delivery, locked and released, if `owner` still holds the lease of `attempt`."""
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if (
        delivery is None
        or delivery.status is not S.sending
        or delivery.lease_owner != owner
        or delivery.attempts != attempt
    ):
        log.warning("delivery %s: lease lost before its outcome was recorded", delivery_id)
        return None
    delivery.lease_owner = None
    delivery.lease_expires_at = None
    return delivery


def failed_attempt(
    session: AsyncSession,
    delivery: Delivery,
    *,
    code: int | None,
    detail: str,
    temporary: bool,
    settings: Settings,
    rng: random.Random,
    actor: str,
    now: datetime,
) -> None:
    """A failed attempt: wait for the next one, or fail (permanent, or failing for too long)."""
    delivery.last_error, delivery.last_error_code = detail, code
    if delivery.retrying_since is None:
        delivery.retrying_since = now
    when = (
        next_attempt(
            attempt=delivery.attempts,
            failing_since=delivery.retrying_since,
            now=now,
            delays_minutes=settings.retry_delays_minutes,
            give_up_days=settings.retry_give_up_days,
            rng=rng,
        )
        if temporary
        else None
    )
    if when is not None:
        delivery.next_attempt_at = when
        service.transition(
            session,
            delivery,
            S.queued,
            actor=actor,
            code=code,
            detail=f"temporary failure; next attempt at {when.isoformat()}: {detail}",
            now=now,
        )
        return
    why = (
        "permanent failure"
        if not temporary
        else f"gave up after {delivery.attempts} attempts since "
        f"{delivery.retrying_since.isoformat(timespec='minutes')}"
    )
    service.transition(
        session, delivery, S.failed, actor=actor, code=code, detail=f"{why}: {detail}", now=now
    )


def put_back(
    session: AsyncSession,
    delivery: Delivery,
    *,
    until: datetime,
    code: int | None,
    detail: str,
    actor: str,
    now: datetime,
) -> None:
    """Back to the queue until `until` without spending the attempt (our fault, not its)."""
    delivery.attempts -= 1
    delivery.next_attempt_at = until
    service.transition(session, delivery, S.queued, actor=actor, code=code, detail=detail, now=now)
