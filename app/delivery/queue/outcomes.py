"""The outcome of an attempt, recorded only by the worker that still holds its lease.

`accepted` is every worker's hot path: the server took the letter, so the lease is released with
the new status, earlier errors cleared, and the event logged, in one statement on PostgreSQL (a
CTE the driver runs itself) and two on SQLite. Both forms are built from the same SQLAlchemy
update and the event columns of `events`, so they cannot drift apart; tests/delivery/test_events
runs both engines over them against the ORM path. `failed_attempt` decides between the next
attempt and giving up, and says so where staff look when the office may have the letter after all.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, literal, make_url, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

from app.config import Settings
from app.db import UTCDateTime
from app.delivery import service
from app.delivery.models import Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.queue import events
from app.delivery.queue.retries import next_attempt
from app.recipients.channels import ChannelKind

log = logging.getLogger(__name__)
S = DeliveryStatus


# How the log marks an attempt that the office may have received: a lease that expired
# (`leases._expired`) or a connection lost during DATA (`app.delivery.email`).
_UNKNOWN_MARKS = ("is unknown", "outcome unknown")


async def _first_unknown_attempt(session: AsyncSession, delivery_id: int) -> int | None:
    """The first attempt of `delivery_id` whose outcome the log calls unknown, or None."""
    # A lease taken over is logged (`sending → queued`) with the number of the attempt it lost;
    # a lost DATA is logged by the failed attempt's own event: either way the row's attempt.
    return await session.scalar(
        select(DeliveryEvent.attempt)
        .where(
            DeliveryEvent.delivery_id == delivery_id,
            or_(*(DeliveryEvent.detail.contains(mark) for mark in _UNKNOWN_MARKS)),
        )
        .order_by(DeliveryEvent.id)
        .limit(1)
    )


# The accepted outcome of a lease. It is every worker's hot path, so no ORM, and statements
# built once: built per call, SQLAlchemy's construction and cache-key work cost the worker 2.2 ms
# per outcome (measured); built once 0.7 ms; sent by the driver itself 0.45 ms.
_RELEASED = (
    update(Delivery)
    .where(
        Delivery.id == bindparam("delivery_id"),
        Delivery.status == S.sending,
        Delivery.lease_owner == bindparam("owner"),
        Delivery.attempts == bindparam("attempt"),
    )
    .values(
        status=bindparam("to", type_=Delivery.status.type),
        status_changed_at=bindparam("now", type_=UTCDateTime),
        lease_owner=null(),
        lease_expires_at=null(),
        external_id=bindparam("external_id", type_=Delivery.external_id.type),
        last_error=null(),
        last_error_code=null(),
        retrying_since=null(),
    )
    .returning(Delivery.id, Delivery.attempts)
)


def _released_and_logged() -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """`_RELEASED` and its event as one statement, atomic on its own, compiled once for asyncpg
    (whose prepared statement cache makes it one round trip): its text, the names of its
    positional parameters in order, and the values fixed in it (its literal statuses)."""
    released = _RELEASED.cte("released")
    statement = events.insert_from(
        released,
        delivery_id=released.c.id,
        at=bindparam("now", type_=UTCDateTime),
        from_status=literal(S.sending.value),
        to_status=bindparam("to_status", type_=DeliveryEvent.to_status.type),
        attempt=released.c.attempts,
        code=bindparam("code", type_=DeliveryEvent.code.type),
        detail=bindparam("detail", type_=DeliveryEvent.detail.type),
        actor=bindparam("owner", type_=DeliveryEvent.actor.type),
    ).returning(DeliveryEvent.delivery_id)
    compiled = statement.compile(dialect=make_url("postgresql+asyncpg://").get_dialect()())
    assert isinstance(compiled, SQLCompiler)
    # The driver gets plain values: SQLAlchemy's bind processing is what this path skips.
    fixed = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in compiled.params.items()
        if value is not None
    }
    return compiled.string, tuple(compiled.positiontup or ()), fixed


_RELEASED_AND_LOGGED, _RELEASED_AND_LOGGED_ORDER, _RELEASED_AND_LOGGED_FIXED = (
    _released_and_logged()
)


async def accepted(
    connection: AsyncConnection,
    *,
    channel: ChannelKind,
    delivery_id: int,
    attempt: int,
    owner: str,
    to: DeliveryStatus,
    external_id: str,
    code: int | None,
    detail: str | None,
    now: datetime,
) -> bool:
    """Release `owner`'s lease of `attempt` with the outcome `to` (the server took the letter:
    its reference kept, earlier errors cleared) and log it; False, writing nothing, if the lease
    was lost. The hot path of every worker, so no ORM: on PostgreSQL one statement, which the
    caller may run outside a transaction (one round trip per outcome); on SQLite, two
    statements in the caller's transaction."""
    service.check(channel, S.sending, to)
    params = {
        "delivery_id": delivery_id,
        "owner": owner,
        "attempt": attempt,
        "to": to,
        "to_status": to.value,
        "now": now,
        "external_id": external_id,
        "code": code,
        "detail": detail,
    }
    if connection.dialect.driver == "asyncpg":
        driver = await _driver(connection)
        given = {**_RELEASED_AND_LOGGED_FIXED, **params, "to": to.value}
        args = [given[name] for name in _RELEASED_AND_LOGGED_ORDER]
        found = await driver.fetchval(_RELEASED_AND_LOGGED, *args) is not None
    else:
        found = (await connection.execute(_RELEASED, params)).first() is not None
        if found:
            event = events.Event(
                delivery_id=delivery_id,
                at=now,
                from_status=S.sending,
                to_status=to,
                attempt=attempt,  # the released row's: the update matched on it
                code=code,
                detail=detail,
                actor=owner,
            )
            await events.add_all(connection, [event])
    if not found:
        log.warning("delivery %s: lease lost before its outcome was recorded", delivery_id)
    return found


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under `connection`. `get_raw_connection()` runs in a greenlet
    of its own, a third of an outcome's cost in the worker; a connection checked out and
    valid has its driver connection at hand without I/O."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        raw = await connection.get_raw_connection()
    else:
        raw = sync.connection
    return raw.driver_connection


async def failed_attempt(
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
    detail = f"{why}: {detail}"
    lost = await _first_unknown_attempt(session, delivery.id)
    if lost is not None:
        # The office may have this letter although it ends failed: say so where staff look.
        which = "the first attempt" if lost == 1 else f"attempt {lost}"
        detail += f" (it may have been delivered on {which}, whose outcome is unknown)"
        delivery.last_error = detail
        log.warning(
            "delivery %s failed, but may have been delivered on %s (outcome unknown)",
            delivery.id,
            which,
        )
    service.transition(session, delivery, S.failed, actor=actor, code=code, detail=detail, now=now)
