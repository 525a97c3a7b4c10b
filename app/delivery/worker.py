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
import functools
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Row, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.campaigns.schemas import Pacing
from app.config import Settings
from app.db import Statement, statement_connections, utcnow
from app.delivery import service
from app.delivery.email import ChannelFault, Outgoing, SendError, Transport, attach, build
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import leases, pauses
from app.delivery.queue.pacing import Recent, next_slot
from app.digests import service as digests
from app.errors import NotFound
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient
from app.templating.kit import LetterKit

log = logging.getLogger(__name__)
S = DeliveryStatus


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Another queue's work done in each round, given the time: returns how much it did.
Round = Callable[[datetime], Awaitable[int]]


class Unsendable(Exception):
    """A delivery that no attempt could ever send (no usable address)."""


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
        kit: LetterKit | None = None,
        extra_rounds: Sequence[Round] = (),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.transport = transport
        self.name = name or worker_name()
        self.clock = clock
        self.kit = kit  # with it, the worker also closes digest periods
        self.extra_rounds = extra_rounds  # other queues' work (confirmation mails, post)
        self._next_digest_check = datetime.min.replace(tzinfo=UTC)
        self.rng = random.Random()  # noqa: S311 - jitter, not security

    async def run_once(self, limit: int | None = None) -> int:
        """Close due digests, then claim and send up to `limit` (the `worker_batch` setting)
        due e-mail deliveries; returns how many letters were made or tried."""
        done = 0
        if self.kit is not None and self.clock() >= self._next_digest_check:
            # Periods are hours long: looking once a minute is plenty.
            self._next_digest_check = self.clock() + timedelta(seconds=60)
            done = await self._digest_round()
        # A send must end before the lease does, or another worker could take the letter and
        # send it too: stop short of the lease by a tenth of it (the clocks of the workers and
        # the database's notion of "expired" differ a little).
        deadline = time.monotonic() + self.settings.lease_seconds * 0.9
        claimed = await self._claim(limit or self.settings.worker_batch)
        if claimed:
            async with statement_connections(self.sessionmaker) as statement:
                await self._send_all(claimed, deadline=deadline, statement=statement)
        for extra in self.extra_rounds:
            done += await extra(self.clock())
        return done + len(claimed)

    async def _send_all(
        self, claimed: Sequence[Claimed], *, deadline: float, statement: Statement
    ) -> None:
        for index, item in enumerate(claimed):
            left = deadline - time.monotonic()
            if left <= 0:
                # The server is slow today: hand the rest back, to go again soon.
                await self._hand_back(
                    claimed[index:],
                    until=self.clock(),
                    code=None,
                    detail="the worker's lease ran out before this letter's turn; the attempt "
                    "does not count",
                )
                return
            fault = await self._send(item, within=left, statement=statement)
            if fault is not None:
                await self._pause(fault, claimed[index:])
                return

    async def _digest_round(self) -> int:
        """Every digest campaign whose period has ended gets its letters, queued like any."""
        assert self.kit is not None
        now, made = self.clock(), 0
        async with self.sessionmaker() as session, session.begin():
            queue = functools.partial(service.queue, session, actor=self.name)
            for campaign in await digests.due_campaigns(session, now=now):
                try:
                    digest = await digests.make_digest(
                        session,
                        campaign=campaign,
                        kit=self.kit,
                        now=now,
                        actor=self.name,
                        on_stored=queue,
                    )
                except NotFound:
                    continue  # another worker closed this period first
                log.info(
                    "digest %s of %s: %s co-signers", digest.id, campaign.slug, digest.cosigners
                )
                made += 1
        return made

    async def run_forever(
        self, stop: asyncio.Event, *, idle_seconds: float = 2.0, batch: int | None = None
    ) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once(batch)
            except Exception:
                log.exception("worker %s: a round failed; trying again shortly", self.name)
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

    async def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            if await pauses.active(session, channel=ChannelKind.email, now=now):
                return []
            rows = await leases.due(
                session, channel=ChannelKind.email, now=now, limit=limit, columns=_CLAIMED
            )
            if not rows:
                return []
            offices = sorted({row.recipient_id for row in rows if row.status is S.queued})
            await _hold_offices(session, offices)
            recent = await _recent_sends(session, offices, now)
            pacings: dict[int, Pacing] = {}
            held: dict[int, datetime] = {}
            taken: list[tuple[Row[Any], Outgoing | Unsendable]] = []
            for row in rows:
                if row.status is S.queued:
                    if row.campaign_id not in pacings:
                        pacings[row.campaign_id] = Pacing.model_validate(row.pacing)
                    office = recent.setdefault(row.recipient_id, [0, 0])
                    slot = next_slot(
                        now,
                        timezone=row.timezone,
                        pacing=pacings[row.campaign_id],
                        recent=Recent(office[0], office[1]),
                        rng=self.rng,
                    )
                    if slot is not None:
                        held[row.id] = slot  # held back for the office's sake
                        continue
                    office[0] += 1
                    office[1] += 1
                try:
                    taken.append((row, self._message(row)))
                except Unsendable as exc:
                    taken.append((row, exc))
            await leases.hold(session, held)
            await leases.take_all(
                session,
                [row for row, _ in taken],
                channel=ChannelKind.email,
                owner=self.name,
                now=now,
                seconds=self.settings.lease_seconds,
            )
            cosigners: dict[int, str] = {}  # a digest's CSV, attached to each of its e-mails
            claimed = []
            for row, outgoing in taken:
                if isinstance(outgoing, Unsendable):
                    # No attempt could ever send it: fail it alone rather than jam the queue.
                    delivery = await session.get_one(Delivery, row.id)
                    delivery.lease_owner, delivery.lease_expires_at = None, None
                    delivery.last_error, delivery.last_error_code = str(outgoing), None
                    service.transition(
                        session, delivery, S.failed, actor=self.name, detail=str(outgoing), now=now
                    )
                    continue
                if row.digest_id is not None:
                    if row.digest_id not in cosigners:
                        cosigners[row.digest_id] = await digests.digest_csv(
                            session, digest_id=row.digest_id
                        )
                    attach(outgoing, filename=digests.CSV_NAME, content=cosigners[row.digest_id])
                claimed.append(Claimed(row.id, row.attempts + 1, outgoing))
            return claimed

    def _message(self, row: Row[Any]) -> Outgoing:
        """The e-mail of a claimed row (`_CLAIMED`); Unsendable if it can never go."""
        to_address, to_name, subject = row.address or "", row.office, row.subject
        if row.test_mode and row.test_address:
            # Test mode: every delivery goes to staff, saying where it would have gone.
            to_address = row.test_address
            to_name = f"TEST for {row.office}"
            subject = f"[TEST → {row.address or 'unverified address'}] {row.subject}"
        elif (problem := _address_problem(to_address)) is not None:
            raise Unsendable(
                f"no usable e-mail address ({to_address!r}: {problem}); a letter written in "
                "test mode to an unverified address is never sent for real. Verify the "
                "office's address, re-target, then retry."
            )
        try:
            return build(
                delivery_id=row.id,
                to_address=to_address,
                to_name=to_name,
                sender_name=row.sender_name,
                campaign_title=row.title,
                subject=subject,
                body=row.body,
                language=row.language,
                settings=self.settings,
            )
        except (ValueError, LookupError, MessageError) as exc:
            raise Unsendable(f"the message cannot be built: {exc}") from exc

    async def _send(
        self, item: Claimed, *, within: float | None, statement: Statement
    ) -> ChannelFault | None:
        try:
            answer = await self.transport.send(item.outgoing, within=within)
        except ChannelFault as exc:
            return exc
        except SendError as exc:
            await self._record(item, error=exc)
        else:
            await self._accepted(item, answer, statement)
        return None

    async def _pause(self, fault: ChannelFault, items: Sequence[Claimed]) -> None:
        """Our settings are wrong: pause e-mail for everyone and hand the claimed letters back
        without spending their attempts."""
        now = self.clock()
        until = now + timedelta(minutes=self.settings.channel_pause_minutes)
        log.error("worker %s: pausing e-mail until %s: %s", self.name, until, fault.detail)
        await self._hand_back(
            items,
            until=until,
            code=fault.code,
            detail=f"e-mail channel paused, the attempt does not count: {fault.detail}",
            pause=fault.detail,
        )

    async def _hand_back(
        self,
        items: Sequence[Claimed],
        *,
        until: datetime,
        code: int | None,
        detail: str,
        pause: str | None = None,
    ) -> None:
        """Release `items` unsent, to go again at `until` without spending their attempts;
        with `pause` (its reason), pause the e-mail channel in the same transaction."""
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            if pause is not None:
                await pauses.pause(
                    session,
                    channel=ChannelKind.email,
                    reason=pause,
                    until=until,
                    now=now,
                    actor=self.name,
                )
            for item in items:
                delivery = await self._release(session, item)
                if delivery is not None:
                    leases.put_back(
                        session,
                        delivery,
                        until=until,
                        code=code,
                        detail=detail,
                        actor=self.name,
                        now=now,
                    )

    async def _release(self, session: AsyncSession, item: Claimed) -> Delivery | None:
        return await leases.release(
            session, delivery_id=item.delivery_id, attempt=item.attempt, owner=self.name
        )

    async def _accepted(self, item: Claimed, answer: str, statement: Statement) -> None:
        """The common outcome, right after the server's 250: one guarded statement."""
        async with statement() as connection:
            await leases.accepted(
                connection,
                channel=ChannelKind.email,
                delivery_id=item.delivery_id,
                attempt=item.attempt,
                owner=self.name,
                to=S.sent,
                external_id=item.outgoing.message_id,
                code=250,
                detail=answer,
                now=self.clock(),
            )

    async def _record(self, item: Claimed, *, error: SendError) -> None:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            delivery = await self._release(session, item)
            if delivery is not None:
                await leases.failed_attempt(
                    session,
                    delivery,
                    code=error.code,
                    detail=error.detail,
                    temporary=error.temporary,
                    settings=self.settings,
                    rng=self.rng,
                    actor=self.name,
                    now=now,
                )


@functools.lru_cache(maxsize=4096)
def _address_problem(address: str) -> str | None:
    """Why `address` cannot be mailed, or None. Cached: every supporter writes to the same few
    dozen offices."""
    try:
        # No SMTPUTF8: an address needs an ASCII local part to go through any relay.
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


# What a claim reads of each due delivery, its letter, campaign and office: columns, not ORM
# objects (loading and flushing those cost more than the SMTP dialogue).
_CLAIMED = (
    *leases.LEASE_COLUMNS,
    Delivery.address,
    Delivery.recipient_id,
    Letter.sender_name,
    Letter.subject,
    Letter.body,
    Letter.language,
    Letter.digest_id,
    Campaign.id.label("campaign_id"),
    Campaign.title,
    Campaign.pacing,
    Campaign.test_mode,
    Campaign.test_address,
    Recipient.office,
    Recipient.timezone,
)
_COUNTED = (S.sending, S.sent, S.delivered, S.bounced)


# The advisory locks' first key: this module's (the second is the office's hash).
_OFFICE_LOCKS = 0x41505045  # "APPE"
_HOLD_OFFICES = text(
    "SELECT pg_advisory_xact_lock(:space, hashtext(office)) FROM "
    "(SELECT office FROM unnest(CAST(:offices AS text[])) AS office ORDER BY office) AS ordered"
).bindparams(space=_OFFICE_LOCKS)


async def _hold_offices(session: AsyncSession, offices: list[str]) -> None:
    """PostgreSQL: each office's pacing lock, until the claim commits. Workers that claim at
    the same moment would each count the office's sends without the others' uncommitted ones,
    and together exceed its caps (seen: twice the hourly cap with four workers); so a claim
    counts an office only after any other claim taking letters for it has committed. Locks
    are taken in one order, so two claims cannot wait for each other. SQLite has one writer:
    its claims already take turns."""
    if offices and (await session.connection()).dialect.name == "postgresql":
        await session.execute(_HOLD_OFFICES, {"offices": offices})


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
