"""Queue rules: deliveries for new letters, transitions that follow the state machines.

Every change is checked against its channel's machine (`models.MACHINES`) and logged through the
one event writer (`queue.events`). Other domains change a delivery only through the named
actions here: `transition`, `note`, `mark_bounced` (the inbound pipeline), `act` (staff, who
may not send again a letter whose supporter withdrew: the `ConsentCheck` handed in says so).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.delivery.models import INITIAL, MACHINES, Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.queue import events
from app.errors import Conflict, NotFound
from app.letters.service import StoredLetter
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_address, channel_problem
from app.recipients.models import Recipient
from app.states import IllegalTransition

# Why a letter's supporter no longer consents to it being sent (None: nothing stops it), asked
# of the letter's id. The signatures domain answers it; the composition root (app.main) hands
# it to the routes, so that delivery never reads signatures itself.
ConsentCheck = Callable[[AsyncSession, int], Awaitable[str | None]]


class ConsentWithdrawn(Conflict):
    """A letter whose supporter took their consent back: staff cannot send it after all."""


async def queue(session: AsyncSession, letters: Sequence[StoredLetter], *, actor: str) -> int:
    """One delivery per letter, in the caller's transaction (so none is lost between them)."""
    if not letters:
        return 0
    now = utcnow()
    rows = [
        {
            "letter_id": letter.letter_id,
            "campaign_id": letter.campaign_id,
            "recipient_id": letter.recipient_id,
            "channel": letter.channel,
            "address": letter.address,
            "status": INITIAL[letter.channel],
            "status_changed_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "idempotency_key": secrets.token_hex(16),
            "created_at": now,
        }
        for letter in letters
    ]
    connection = await session.connection()
    result = await connection.execute(
        insert(Delivery).returning(Delivery.id, Delivery.status), rows
    )
    logged = [
        events.Event(
            delivery_id=delivery_id,
            at=now,
            from_status=None,
            to_status=DeliveryStatus(status),
            attempt=0,
            code=None,
            detail=None,
            actor=actor,
        )
        for delivery_id, status in result.all()
    ]
    await events.add_all(connection, logged)
    return len(logged)


def check(channel: ChannelKind, start: DeliveryStatus, to: DeliveryStatus) -> None:
    """Refuse a move that `channel`'s state machine does not allow."""
    MACHINES[channel].check(start, to)


def allows(delivery: Delivery, to: DeliveryStatus) -> bool:
    """Whether `delivery`'s channel lets it move from where it is now to `to`."""
    return MACHINES[delivery.channel].allows(delivery.status, to)


def transition(
    session: AsyncSession,
    delivery: Delivery,
    to: DeliveryStatus,
    *,
    actor: str,
    code: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move `delivery` to `to` if its channel's machine allows it, and log the event."""
    check(delivery.channel, delivery.status, to)
    events.add(
        session,
        events.Event(
            delivery_id=delivery.id,
            at=now or utcnow(),
            from_status=delivery.status,
            to_status=to,
            attempt=delivery.attempts,
            code=code,
            detail=detail,
            actor=actor,
        ),
    )
    delivery.status = to
    delivery.status_changed_at = now or utcnow()


async def get_delivery(session: AsyncSession, *, delivery_id: int) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery


async def events_of(session: AsyncSession, *, delivery_id: int) -> Sequence[DeliveryEvent]:
    rows = await session.scalars(
        select(DeliveryEvent)
        .where(DeliveryEvent.delivery_id == delivery_id)
        .order_by(DeliveryEvent.id)
    )
    return rows.all()


# What staff may do by hand; the workers do the rest.
STAFF_MOVES = frozenset(
    {
        DeliveryStatus.queued,  # retry a failed, cancelled or returned delivery
        DeliveryStatus.cancelled,
        DeliveryStatus.done,
        DeliveryStatus.skipped,
        DeliveryStatus.open,
        DeliveryStatus.posted,
        DeliveryStatus.delivered,
        DeliveryStatus.returned,
    }
)


# The staff moves that would send a letter after all.
SENDS_AGAIN = frozenset({DeliveryStatus.queued, DeliveryStatus.open})


async def act(
    session: AsyncSession,
    delivery: Delivery,
    to: DeliveryStatus,
    *,
    actor: str,
    note: str | None,
    consent: ConsentCheck,
) -> None:
    """A staff action on one delivery, within its channel's state machine; `consent` says
    whether its supporter still consents, for a move that would send the letter again."""
    if to not in STAFF_MOVES:
        raise IllegalTransition(f"staff cannot move a delivery to {to.value}; workers do that")
    if to in SENDS_AGAIN and (reason := await consent(session, delivery.letter_id)):
        raise ConsentWithdrawn(f"this letter cannot be sent again: {reason}")
    transition(session, delivery, to, actor=actor, detail=note or "by staff")
    if to is DeliveryStatus.queued:
        delivery.next_attempt_at = utcnow()
        delivery.last_error, delivery.last_error_code = None, None


def note(session: AsyncSession, delivery: Delivery, *, actor: str, detail: str) -> None:
    """Log something that happened to a delivery without changing its status."""
    events.add(
        session,
        events.Event(
            delivery_id=delivery.id,
            at=utcnow(),
            from_status=delivery.status,
            to_status=delivery.status,
            attempt=delivery.attempts,
            code=None,
            detail=detail,
            actor=actor,
        ),
    )


def mark_bounced(
    session: AsyncSession, delivery: Delivery, *, code: int | None, detail: str, actor: str
) -> bool:
    """The office's server refused the letter for good: `bounced`, the answer kept as its last
    error, if its channel allows that now; else only noted on its timeline (a bounce arriving
    for a delivery already bounced, or queued again since). True if it moved."""
    if not allows(delivery, DeliveryStatus.bounced):
        note(
            session,
            delivery,
            actor=actor,
            detail=f"{detail} (delivery was {delivery.status.value})",
        )
        return False
    transition(session, delivery, DeliveryStatus.bounced, actor=actor, code=code, detail=detail)
    delivery.last_error_code = code
    delivery.last_error = detail
    return True


async def retarget(session: AsyncSession, *, recipient: Recipient, actor: str) -> tuple[int, int]:
    """Point the office's waiting deliveries at its current usable channels.

    Returns (re-targeted, left as they were because no usable channel of their kind remains)."""
    waiting = await session.scalars(
        select(Delivery).where(
            Delivery.recipient_id == recipient.id,
            Delivery.status.in_((DeliveryStatus.queued, DeliveryStatus.open)),
        )
    )
    changed = stuck = 0
    for delivery in waiting:
        channel = next(
            (
                c
                for c in recipient.channels
                if c.kind is delivery.channel and channel_problem(c) is None
            ),
            None,
        )
        if channel is None:
            stuck += 1
            continue
        address = channel_address(channel)
        if address != delivery.address:
            note(
                session,
                delivery,
                actor=actor,
                detail=f"re-targeted from {delivery.address!r} to {address!r}",
            )
            delivery.address = address
            changed += 1
    await session.flush()
    return changed, stuck
