"""Tracking of letters a print-and-mail provider accepted: posted, delivered, returned.

Each provider letter (printed or posted, with an external id) has its events read every
`printmail_tracking_minutes`; `next_attempt_at` says when, and moving it forward is the claim,
so workers sharing the queue (`FOR UPDATE SKIP LOCKED`) do not read the same letter together.
Each provider event is logged once, by its id, however often it is read; events that say the
letter moved on make the transitions of the postal state machine, the others are noted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery import service
from app.delivery.models import MACHINES, Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.post.provider import PrintMailClient, ProviderError, TrackingEvent
from app.recipients.channels import ChannelKind

log = logging.getLogger(__name__)
S = DeliveryStatus
POSTAL = ChannelKind.postal

# What each provider tracking event (its name, normalised) says about the letter.
TRACKING_STATUS: dict[str, DeliveryStatus] = {
    "mailed": S.posted,
    "in_transit": S.posted,
    "in_local_area": S.posted,
    "processed_for_delivery": S.posted,
    "re_routed": S.posted,
    "delivered": S.delivered,
    "returned_to_sender": S.returned,
}
_TRACKED = (S.printed, S.posted)
_EVENT_TAG = "provider event "  # how a logged provider event starts: "provider event <id>: ..."


async def poll(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: PrintMailClient,
    *,
    actor: str,
    now: datetime,
    limit: int,
) -> int:
    """Read the tracking of up to `limit` provider letters due for it; returns how many were
    read. Raises ProviderConfigError when the provider refuses our credentials."""
    async with sessionmaker() as session, session.begin():
        rows = (
            await session.scalars(
                select(Delivery)
                .where(
                    Delivery.channel == POSTAL,
                    Delivery.status.in_(_TRACKED),
                    Delivery.external_id.is_not(None),
                    Delivery.next_attempt_at <= now,
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        due = [(d.id, str(d.external_id)) for d in rows]
        for delivery in rows:  # claimed until the next reading: other workers skip them
            delivery.next_attempt_at = now + timedelta(minutes=settings.printmail_tracking_minutes)
    read = 0
    for delivery_id, reference in due:
        try:
            events = await client.tracking(reference)
        except ProviderError as exc:
            log.warning("delivery %s: tracking of %s failed: %s", delivery_id, reference, exc)
            if exc.code == 429:
                break
            continue
        async with sessionmaker() as session, session.begin():
            await apply_events(
                session,
                delivery_id=delivery_id,
                reference=reference,
                events=events,
                actor=actor,
                now=now,
            )
        read += 1
    return read


async def apply_events(
    session: AsyncSession,
    *,
    delivery_id: int,
    reference: str,
    events: Iterable[TrackingEvent],
    actor: str,
    now: datetime,
) -> None:
    """Log the provider events not logged yet and follow them: posted, delivered, returned."""
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.external_id != reference or delivery.status not in _TRACKED:
        return  # staff moved it meanwhile
    logged = await _logged_events(session, delivery_id)
    for event in events:
        if event.id in logged:
            continue
        logged.add(event.id)
        when = f" at {event.time.isoformat()}" if event.time else ""
        detail = f"{_EVENT_TAG}{event.id}: {event.name}{when}"
        target = TRACKING_STATUS.get(event.kind)
        steps = _steps(delivery.status, target) if target is not None else []
        if not steps:
            service.note(session, delivery, actor=actor, detail=detail)
        for step in steps:
            service.transition(session, delivery, step, actor=actor, detail=detail, now=now)
    await session.flush()


def _steps(current: DeliveryStatus, target: DeliveryStatus) -> list[DeliveryStatus]:
    """The transitions from `current` to `target`: one, two through posted (a letter can only
    be delivered or returned once posted, whether or not a "mailed" event came), or none."""
    machine = MACHINES[POSTAL]
    if target is current:
        return []
    if machine.allows(current, target):
        return [target]
    if machine.allows(current, S.posted) and machine.allows(S.posted, target):
        return [S.posted, target]
    return []


async def _logged_events(session: AsyncSession, delivery_id: int) -> set[str]:
    details = await session.scalars(
        select(DeliveryEvent.detail).where(
            DeliveryEvent.delivery_id == delivery_id,
            DeliveryEvent.detail.startswith(_EVENT_TAG),
        )
    )
    return {detail.removeprefix(_EVENT_TAG).split(":", 1)[0] for detail in details if detail}
