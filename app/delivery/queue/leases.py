"""Leases on deliveries: the one way any channel's worker claims, releases and records.

A worker takes due deliveries of its channel with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
has one writer), holds each under a lease that expires, sends outside any transaction, then
records the outcome only if it still holds the lease. A lease found expired means a worker died
holding it: the attempt's outcome is unknown and the delivery goes again (at-least-once). Claims
and leases live here; recording an outcome (`accepted`, `failed_attempt`) in `outcomes`, which
this module also offers, since every worker reaches the queue through `leases`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Row, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.campaigns.models import Campaign, CampaignStatus
from app.db import UTCDateTime
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import events
from app.delivery.queue.outcomes import accepted, failed_attempt
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient

__all__ = [
    "LEASE_COLUMNS",
    "accepted",
    "due",
    "due_ids",
    "failed_attempt",
    "hold",
    "put_back",
    "release",
    "take",
    "take_all",
    "written",
]

log = logging.getLogger(__name__)
S = DeliveryStatus
T = TypeVar("T")


async def due_ids(
    session: AsyncSession, *, channel: ChannelKind, now: datetime, limit: int
) -> list[int]:
    """Up to `limit` deliveries of `channel` left by a dead worker or due now, locked (on
    PostgreSQL, skipping those another worker has locked), oldest due first."""
    return [row.id for row in await due(session, channel=channel, now=now, limit=limit)]


async def due(
    session: AsyncSession,
    *,
    channel: ChannelKind,
    now: datetime,
    limit: int,
    columns: Sequence[Any] = (Delivery.id,),
) -> Sequence[Row[Any]]:
    """`columns` of up to `limit` deliveries of `channel` left by a dead worker or due now,
    with their letter, campaign and office joined; locked (on PostgreSQL, skipping those
    another worker has locked), oldest due first.

    Two queries, so that each walks ix_deliveries_due (channel, status, next_attempt_at, id) in
    order and stops at `limit`: one query with an OR of the two states sorted every due row
    (and joined it first), which grew with the queue. Each reads its columns as it locks: a
    third query for them by id was a quarter of a claim. A paused campaign's letters wait:
    pausing is how staff stop a mailing that went wrong. The channel and the state are
    `written` into each statement, so that its generic plan on PostgreSQL stays this one."""
    connection = await session.connection()

    def locked(count: int, *where: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(Delivery)
            .join(Letter, Letter.id == Delivery.letter_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .where(
                Delivery.channel == written(Delivery.channel, channel),
                *where,
                Campaign.status != CampaignStatus.paused,
            )
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(count)
            .with_for_update(skip_locked=True, of=Delivery)
        )

    # Expired leases are few (a worker died holding them): they go first, as they are oldest.
    sending = Delivery.status == written(Delivery.status, S.sending)
    rows = list(await connection.execute(locked(limit, sending, Delivery.lease_expires_at < now)))
    if len(rows) < limit:
        queued = Delivery.status == written(Delivery.status, S.queued)
        rows += await connection.execute(
            locked(limit - len(rows), queued, Delivery.next_attempt_at <= now)
        )
    return rows


def written(column: QueryableAttribute[T], value: T) -> BindParameter[T]:
    """`value` written into the statement, not bound: PostgreSQL's generic plan of a prepared
    statement (what a long-running worker's connection uses after five runs) then still knows
    which channel and state it reads (few deliveries are being sent, most have gone), instead
    of planning for any value of a parameter; each value is a statement of its own."""
    return bindparam(None, value, type_=column.type, literal_execute=True)


# What `take_all` needs of each delivery.
LEASE_COLUMNS = (Delivery.id, Delivery.status, Delivery.attempts, Delivery.lease_owner)


async def take_all(
    session: AsyncSession,
    deliveries: Sequence[Row[Any]],
    *,
    channel: ChannelKind,
    owner: str,
    now: datetime,
    seconds: int,
    again: str = "sending again (at-least-once)",
) -> None:
    """`take`, for many deliveries in two statements: their `LEASE_COLUMNS` are enough (no
    ORM objects to load and flush, which cost a worker more than its SMTP dialogue)."""
    if not deliveries:
        return
    logged = []
    for delivery in deliveries:
        if delivery.status is S.sending:
            service.check(channel, S.sending, S.queued)
            detail = _expired(delivery.lease_owner, delivery.attempts, again)
            logged.append(_claimed(delivery, S.sending, S.queued, owner, now, detail=detail))
        service.check(channel, S.queued, S.sending)
        attempt = delivery.attempts + 1
        logged.append(_claimed(delivery, S.queued, S.sending, owner, now, attempt=attempt))
    connection = await session.connection()
    await connection.execute(
        update(Delivery)
        .where(Delivery.id.in_([delivery.id for delivery in deliveries]))
        .values(
            status=S.sending,
            status_changed_at=now,
            attempts=Delivery.attempts + 1,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=seconds),
        )
    )
    await events.add_all(connection, logged)


def _claimed(
    delivery: Row[Any],
    start: DeliveryStatus,
    to: DeliveryStatus,
    owner: str,
    now: datetime,
    *,
    detail: str | None = None,
    attempt: int | None = None,
) -> events.Event:
    """The event of one step of a claim by `owner` (a dead worker's lease ended, or taken)."""
    return events.Event(
        delivery_id=delivery.id,
        at=now,
        from_status=start,
        to_status=to,
        attempt=delivery.attempts if attempt is None else attempt,
        code=None,
        detail=detail,
        actor=owner,
    )


def _expired(owner: str | None, attempt: int, again: str) -> str:
    """What the log says when a dead worker's lease is taken over (the kill test reads it)."""
    return f"lease of {owner} expired: the outcome of attempt {attempt} is unknown; {again}"


async def hold(session: AsyncSession, until: dict[int, datetime]) -> None:
    """Queued deliveries wait until their time (pacing holds them back for the office)."""
    if until:
        connection = await session.connection()
        await connection.execute(
            update(Delivery)
            .where(Delivery.id == bindparam("held"), Delivery.status == S.queued)
            .values(next_attempt_at=bindparam("until", type_=UTCDateTime)),
            [{"held": held, "until": at} for held, at in until.items()],
        )


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
            detail=_expired(delivery.lease_owner, delivery.attempts, again),
            now=now,
        )
    # The sending event records the attempt being made, so count it first.
    delivery.attempts += 1
    service.transition(session, delivery, S.sending, actor=owner, detail=detail, now=now)
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
