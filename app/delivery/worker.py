"""The worker: claim due deliveries under a lease, send them, record what happened.

Claiming is one short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of
workers share the queue; SQLite: one worker). Sending happens outside any transaction; the
outcome is written in another, and only if this worker still holds the lease. A worker killed
between the server's 250 and that commit leaves a lease that expires: the delivery is sent again
and the event log says the first outcome is unknown (at-least-once; nothing confirmed is lost).
Temporary failures wait for their next attempt time (the loop never sleeps per delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.campaigns.schemas import Pacing
from app.config import Settings
from app.db import utcnow
from app.delivery import service
from app.delivery.email import Outgoing, SendError, Transport, build
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.pacing import Recent, next_slot
from app.letters.models import Letter
from app.recipients.files import ChannelKind
from app.recipients.models import Recipient

log = logging.getLogger(__name__)
S = DeliveryStatus


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    attempt: int
    outgoing: Outgoing


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: Transport,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.transport = transport
        self.name = name or worker_name()
        self.clock = clock
        self.rng = random.Random()  # noqa: S311 - jitter, not security

    async def run_once(self, limit: int = 50) -> int:
        """Claim and send up to `limit` due e-mail deliveries; returns how many were tried."""
        claimed = await self._claim(limit)
        for item in claimed:
            await self._send(item)
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float = 2.0) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("worker %s: a round failed; trying again shortly", self.name)
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

    async def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock()
        due = or_(
            and_(Delivery.status == S.queued, Delivery.next_attempt_at <= now),
            and_(Delivery.status == S.sending, Delivery.lease_expires_at < now),
        )
        async with self.sessionmaker() as session, session.begin():
            ids = (
                await session.scalars(
                    select(Delivery.id)
                    .where(Delivery.channel == ChannelKind.email, due)
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not ids:
                return []
            rows = await session.execute(
                select(Delivery, Letter, Campaign, Recipient)
                .join(Letter, Letter.id == Delivery.letter_id)
                .join(Campaign, Campaign.id == Letter.campaign_id)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.id)
            )
            candidates = list(rows)
            recent = await _recent_sends(session, [d.recipient_id for d, *_ in candidates], now)
            claimed = []
            for delivery, letter, campaign, recipient in candidates:
                if delivery.status is S.queued:
                    office = recent.setdefault(delivery.recipient_id, [0, 0])
                    slot = next_slot(
                        now,
                        timezone=recipient.timezone,
                        pacing=Pacing.model_validate(campaign.pacing),
                        recent=Recent(office[0], office[1]),
                        rng=self.rng,
                    )
                    if slot is not None:
                        delivery.next_attempt_at = slot  # held back for the office's sake
                        continue
                    office[0] += 1
                    office[1] += 1
                else:
                    service.transition(
                        session,
                        delivery,
                        S.queued,
                        actor=self.name,
                        detail=(
                            f"lease of {delivery.lease_owner} expired: the outcome of attempt "
                            f"{delivery.attempts} is unknown; sending again (at-least-once)"
                        ),
                        now=now,
                    )
                service.transition(session, delivery, S.sending, actor=self.name, now=now)
                delivery.attempts += 1
                delivery.lease_owner = self.name
                delivery.lease_expires_at = now + timedelta(seconds=self.settings.lease_seconds)
                claimed.append(
                    Claimed(
                        delivery.id,
                        delivery.attempts,
                        self._message(delivery, letter, campaign, recipient),
                    )
                )
            return claimed

    def _message(
        self, delivery: Delivery, letter: Letter, campaign: Campaign, recipient: Recipient
    ) -> Outgoing:
        to_address, to_name, subject = delivery.address or "", recipient.office, letter.subject
        if campaign.test_mode and campaign.test_address:
            # Test mode: every delivery goes to staff, saying where it would have gone.
            to_address = campaign.test_address
            to_name = f"TEST for {recipient.office}"
            subject = f"[TEST → {delivery.address}] {letter.subject}"
        return build(
            delivery_id=delivery.id,
            to_address=to_address,
            to_name=to_name,
            sender_name=letter.sender_name,
            campaign_title=campaign.title,
            subject=subject,
            body=letter.body,
            language=letter.language,
            settings=self.settings,
        )

    async def _send(self, item: Claimed) -> None:
        try:
            answer = await self.transport.send(item.outgoing)
        except SendError as exc:
            await self._record(item, error=exc)
        else:
            await self._record(item, answer=answer)

    async def _record(
        self, item: Claimed, *, answer: str | None = None, error: SendError | None = None
    ) -> None:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            delivery = await session.get(Delivery, item.delivery_id, with_for_update=True)
            if (
                delivery is None
                or delivery.status is not S.sending
                or delivery.lease_owner != self.name
                or delivery.attempts != item.attempt
            ):
                log.warning(
                    "delivery %s: lease lost before its outcome was recorded", item.delivery_id
                )
                return
            delivery.lease_owner = None
            delivery.lease_expires_at = None
            if error is None:
                delivery.external_id = str(item.outgoing.message["Message-ID"])
                delivery.last_error, delivery.last_error_code = None, None
                service.transition(
                    session, delivery, S.sent, actor=self.name, code=250, detail=answer, now=now
                )
                return
            delivery.last_error, delivery.last_error_code = error.detail, error.code
            delays = self.settings.retry_delays_minutes
            if error.temporary and delivery.attempts <= len(delays):
                delivery.next_attempt_at = now + timedelta(minutes=delays[delivery.attempts - 1])
                when = delivery.next_attempt_at.isoformat()
                detail = f"temporary failure; next attempt at {when}: {error.detail}"
                service.transition(
                    session,
                    delivery,
                    S.queued,
                    actor=self.name,
                    code=error.code,
                    detail=detail,
                    now=now,
                )
            else:
                why = (
                    "permanent failure"
                    if not error.temporary
                    else f"gave up after {delivery.attempts} attempts"
                )
                service.transition(
                    session,
                    delivery,
                    S.failed,
                    actor=self.name,
                    code=error.code,
                    detail=f"{why}: {error.detail}",
                    now=now,
                )


_COUNTED = (S.sending, S.sent, S.delivered, S.bounced)


async def _recent_sends(
    session: AsyncSession, offices: list[str], now: datetime
) -> dict[str, list[int]]:
    """Per office: e-mails sent (or being sent) in the last hour and the last day."""
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
            Delivery.channel == ChannelKind.email,
            Delivery.status.in_(_COUNTED),
            Delivery.status_changed_at >= day_ago,
            Delivery.recipient_id.in_(set(offices)),
        )
        .group_by(Delivery.recipient_id)
    )
    return {office: [int(hour or 0), int(day)] for office, hour, day in rows}
