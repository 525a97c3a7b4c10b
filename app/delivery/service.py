"""Queue rules: deliveries for new letters, transitions that follow the state machines."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.delivery.models import INITIAL, TRANSITIONS, Delivery, DeliveryEvent, DeliveryStatus
from app.errors import Conflict, NotFound
from app.letters.models import Letter
from app.letters.service import StoredLetter
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_address, channel_problem
from app.recipients.models import Recipient
from app.signatures.models import Signature, SignatureStatus


class ConsentWithdrawn(Conflict):
    """A letter whose supporter took their consent back: staff cannot send it after all."""


class IllegalTransition(Conflict):
    kind = "IllegalTransition"


async def queue(session: AsyncSession, letters: Sequence[StoredLetter], *, actor: str) -> int:
    """One delivery per letter, in the caller's transaction (so none is lost between them)."""
    if not letters:
        return 0
    now = utcnow()
    rows = [
        {
            "letter_id": letter.letter_id,
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
    events = [
        {
            "delivery_id": delivery_id,
            "at": now,
            "from_status": None,
            "to_status": status.value if isinstance(status, DeliveryStatus) else str(status),
            "attempt": 0,
            "actor": actor,
        }
        for delivery_id, status in result.all()
    ]
    await connection.execute(insert(DeliveryEvent), events)
    return len(events)


def check(channel: ChannelKind, start: DeliveryStatus, to: DeliveryStatus) -> None:
    """Refuse a move that `channel`'s state machine does not allow."""
    if to not in TRANSITIONS[channel].get(start, frozenset()):
        raise IllegalTransition(
            f"a {channel.value} delivery cannot go from {start.value} to {to.value}"
        )


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
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=now or utcnow(),
            from_status=delivery.status.value,
            to_status=to.value,
            attempt=delivery.attempts,
            code=code,
            detail=detail,
            actor=actor,
        )
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


async def consent_withdrawn(session: AsyncSession, *, delivery: Delivery) -> str | None:
    """Why `delivery`'s letter must never go out (its supporter withdrew or erased), or None."""
    row = (
        await session.execute(
            select(Signature.status, Signature.erased_at)
            .join(Letter, Letter.signature_id == Signature.id)
            .where(Letter.id == delivery.letter_id)
        )
    ).first()
    if row is None:  # a digest or a staff-made letter: no one supporter's consent to check
        return None
    status, erased_at = row
    if erased_at is not None:
        return "the supporter erased their data; consent withdrawn is final, so it is never sent"
    if status is SignatureStatus.withdrawn:
        return "the supporter withdrew their signature; consent withdrawn is final"
    return None


async def act(
    session: AsyncSession, delivery: Delivery, to: DeliveryStatus, *, actor: str, note: str | None
) -> None:
    """A staff action on one delivery, within its channel's state machine."""
    if to not in STAFF_MOVES:
        raise IllegalTransition(f"staff cannot move a delivery to {to.value}; workers do that")
    if to in SENDS_AGAIN and (reason := await consent_withdrawn(session, delivery=delivery)):
        raise ConsentWithdrawn(f"this letter cannot be sent again: {reason}")
    transition(session, delivery, to, actor=actor, detail=note or "by staff")
    if to is DeliveryStatus.queued:
        delivery.next_attempt_at = utcnow()
        delivery.last_error, delivery.last_error_code = None, None


def note(session: AsyncSession, delivery: Delivery, *, actor: str, detail: str) -> None:
    """Log something that happened to a delivery without changing its status."""
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            from_status=delivery.status.value,
            to_status=delivery.status.value,
            attempt=delivery.attempts,
            detail=detail,
            actor=actor,
        )
    )


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
