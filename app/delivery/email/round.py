"""The letter e-mail round: claim due e-mail deliveries under a lease, send them, record.

Claiming is one short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of
workers share the queue; SQLite: one worker), which also paces each office (held-back letters
wait for their slot). Sending happens outside any transaction, under the failure policy every
mail shares (`policy`: lease deadline, retry schedule, channel pause); the outcome is written in
another transaction, and only if this round still holds the lease. A worker killed between the
server's 250 and that commit leaves a lease that expires: the delivery is sent again and the
event log says the first outcome is unknown (at-least-once; nothing confirmed is lost).
Temporary failures wait for their next attempt time (the round never sleeps per delivery).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.campaigns.schemas import Pacing
from app.config import Settings
from app.db import Statement, statement_connections, utcnow
from app.delivery import metrics, service
from app.delivery.email import evidence, policy
from app.delivery.email.message import Outgoing, attach, build
from app.delivery.email.transport import ChannelFault, Receipt, SendError, Transport
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import leases, pacing
from app.delivery.queue.pacing import Recent, next_slot
from app.delivery.tally import Tally
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient

log = logging.getLogger(__name__)
S = DeliveryStatus

# The file attached to every e-mail of a digest (its co-signers' CSV), as (name, content),
# given the digest's id: handed in by the composition root, since digests sit above delivery.
DigestAttachment = Callable[[AsyncSession, int], Awaitable[tuple[str, str]]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Unsendable(Exception):
    """A delivery that no attempt could ever send (no usable address)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    attempt: int
    outgoing: Outgoing


class EmailRound:
    """Letters by e-mail: each `run` claims a batch, sends it and records what happened."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: Transport,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        digest_attachment: DigestAttachment | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.transport = transport
        self.name = name or worker_name()
        self.clock = clock
        self.digest_attachment = digest_attachment
        self.rng = random.Random()  # noqa: S311 - jitter, not security
        self.tally = Tally()  # what the last run did

    async def run(self, limit: int | None = None) -> int:
        """Claim and send up to `limit` (the `worker_batch` setting) due e-mail deliveries;
        returns how many were tried."""
        deadline = policy.deadline(self.settings)
        self.tally = Tally()
        with metrics.CLAIM_SECONDS.labels("email").time():
            claimed = await self._claim(limit or self.settings.worker_batch)
        sending = time.perf_counter()
        if claimed:
            async with statement_connections(self.sessionmaker) as statement:
                await policy.send_all(
                    claimed,
                    transport=self.transport,
                    deadline=deadline,
                    accepted=functools.partial(self._accepted, statement=statement),
                    failed=self._record,
                    hand_back=self._hand_back,
                )
            metrics.SEND_SECONDS.labels("email").observe(time.perf_counter() - sending)
        metrics.count(self.tally, channel="email")
        if (line := self.tally.line(f"worker {self.name}: e-mail round")) is not None:
            log.info(line)
        return len(claimed)

    async def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            if await policy.paused(session, now=now):
                return []
            rows = await leases.due(
                session, channel=ChannelKind.email, now=now, limit=limit, columns=_CLAIMED
            )
            if not rows:
                return []
            taken, held = await self._paced(session, rows, now)
            self.tally.held, self.tally.claimed = len(held), len(taken)
            self.tally.taken_over = sum(1 for row, _ in taken if row.status is S.sending)
            await leases.hold(session, held)
            await leases.take_all(
                session,
                [row for row, _ in taken],
                channel=ChannelKind.email,
                owner=self.name,
                now=now,
                seconds=self.settings.lease_seconds,
            )
            return await self._ready(session, taken, now)

    async def _paced(
        self, session: AsyncSession, rows: Sequence[Row[Any]], now: datetime
    ) -> tuple[list[tuple[Row[Any], Outgoing | Unsendable]], dict[int, datetime]]:
        """The rows to take now with their messages, and the rows held back for their office's
        sake (until when)."""
        offices = sorted({row.recipient_id for row in rows if row.status is S.queued})
        await _hold_offices(session, offices)
        recent = await pacing.recent_sends(session, offices=offices, now=now)
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
                    held[row.id] = slot
                    continue
                office[0] += 1
                office[1] += 1
            try:
                taken.append((row, self._message(row)))
            except Unsendable as exc:
                taken.append((row, exc))
        return taken, held

    async def _ready(
        self,
        session: AsyncSession,
        taken: Sequence[tuple[Row[Any], Outgoing | Unsendable]],
        now: datetime,
    ) -> list[Claimed]:
        """The taken rows to send, each digest's file attached; the unsendable ones failed."""
        files: dict[int, tuple[str, str]] = {}  # a digest's CSV, attached to each of its e-mails
        claimed = []
        for row, outgoing in taken:
            if isinstance(outgoing, Unsendable):
                # No attempt could ever send it: fail it alone rather than jam the queue.
                self.tally.failed += 1
                self.tally.classes["unsendable"] += 1
                delivery = await session.get_one(Delivery, row.id)
                delivery.lease_owner, delivery.lease_expires_at = None, None
                delivery.last_error, delivery.last_error_code = str(outgoing), None
                service.transition(
                    session, delivery, S.failed, actor=self.name, detail=str(outgoing), now=now
                )
                continue
            if row.digest_id is not None and self.digest_attachment is not None:
                if row.digest_id not in files:
                    files[row.digest_id] = await self.digest_attachment(session, row.digest_id)
                filename, content = files[row.digest_id]
                attach(outgoing, filename=filename, content=content)
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

    async def _hand_back(self, items: Sequence[Claimed], fault: ChannelFault | None) -> None:
        """Release `items` unsent without spending their attempts: to go again now when the
        lease ran short, or, on a channel fault (our settings are wrong), when the e-mail
        channel's pause ends, the pause written in the same transaction."""
        now = self.clock()
        until, code = now, None
        detail = "the worker's lease ran out before this letter's turn; the attempt does not count"
        self.tally.handed_back += len(items)
        async with self.sessionmaker() as session, session.begin():
            if fault is not None:
                until, code = policy.pause_ends(self.settings, now=now), fault.code
                detail = f"e-mail channel paused, the attempt does not count: {fault.detail}"
                await policy.pause(session, fault, until=until, now=now, actor=self.name)
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

    async def _accepted(self, item: Claimed, receipt: Receipt, statement: Statement) -> None:
        """The common outcome, right after the server's 250: one guarded statement, and the
        receipt kept as the letter's proof of delivery in the same transaction."""
        now = self.clock()
        async with statement() as connection, evidence.atomic(connection):
            sent = await leases.accepted(
                connection,
                channel=ChannelKind.email,
                delivery_id=item.delivery_id,
                attempt=item.attempt,
                owner=self.name,
                to=S.sent,
                external_id=item.outgoing.message_id,
                code=250,
                detail=receipt.answer,
                now=now,
            )
            if sent:
                await evidence.record(
                    connection,
                    delivery_id=item.delivery_id,
                    attempt=item.attempt,
                    receipt=receipt,
                    at=now,
                )
            self.tally.sent += sent

    async def _record(self, item: Claimed, error: SendError) -> None:
        self.tally.failure(error.code, temporary=error.temporary)
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
