"""What a confirmation-mail round records of each mail it claimed: sent, refused, delayed (on
the retry schedule, until it is given up), or handed back unspent — each in a transaction of its
own and only while the round still holds the mail's lease — and the round's counts for its log
line.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.email import ChannelFault, Outgoing, SendError, policy
from app.delivery.email.transport import Receipt
from app.delivery.tally import Tally
from app.signatures import service
from app.signatures.models import Signature, SignatureEvent, SignatureStatus, Supporter

log = logging.getLogger(__name__)
# How a temporary failure's event starts: the history is where the failed attempts are counted.
DELAYED = "confirmation mail delayed"


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    signature_id: int
    outgoing: Outgoing


class Outcomes:
    """What a round records of each mail it claimed, in a transaction of its own, only while
    it still holds the mail's lease."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        owner: str,
        now: datetime,
        rng: random.Random,
    ) -> None:
        self.sessionmaker, self.settings = sessionmaker, settings
        self.owner, self.now, self.rng = owner, now, rng
        self.tally = Tally()

    async def accepted(self, item: ClaimedMail, receipt: Receipt) -> None:
        async with self.sessionmaker() as session, session.begin():
            signature = await self._release(session, item)
            if signature is None:
                return
            self.tally.sent += 1
            signature.mails_sent += 1
            signature.last_mail_at = self.now
            signature.last_mail_error = None
            more = _pending(signature) and signature.mails_sent < service.MAX_CONFIRMATION_MAILS
            reminder = timedelta(hours=self.settings.confirmation_reminder_hours)
            signature.mail_due_at = self.now + reminder if more else None
            _note(
                session,
                signature,
                f"confirmation mail {signature.mails_sent} sent: {receipt.answer}",
                now=self.now,
            )

    async def failed(self, item: ClaimedMail, error: SendError) -> None:
        async with self.sessionmaker() as session, session.begin():
            signature = await self._release(session, item)
            if signature is None:
                return
            signature.last_mail_error = error.detail
            signature.mail_due_at = None
            if not error.temporary:
                self.tally.failure(error.code, temporary=False)
                detail = f"confirmation mail refused ({error.code}): {error.detail}"
                _note(session, signature, detail, now=self.now)
                return
            failures, since = await _failures(session, signature, now=self.now)
            when = policy.retry_at(
                self.settings, attempt=failures + 1, failing_since=since, now=self.now, rng=self.rng
            )
            self.tally.failure(error.code, temporary=when is not None)
            if when is None:
                reason = (
                    f"gave up after {failures + 1} attempts since "
                    f"{since.isoformat(timespec='minutes')}: {error.detail}"
                )
                signature.last_mail_error = reason
                _note(session, signature, f"confirmation mail not sent: {reason}", now=self.now)
                return
            signature.mail_due_at = when if _pending(signature) else None
            detail = f"{DELAYED} ({error.code}); next attempt at {when.isoformat()}: {error.detail}"
            _note(session, signature, detail, now=self.now)

    async def hand_back(self, items: Sequence[ClaimedMail], fault: ChannelFault | None) -> None:
        """Release `items` unsent, their attempts not counted (nor against the daily cap): to
        go again now when the lease ran short, or when the e-mail channel's pause ends on a
        channel fault, the pause written in the same transaction."""
        until, detail = self.now, "the round's lease ran out before its turn"
        self.tally.handed_back += len(items)
        async with self.sessionmaker() as session, session.begin():
            if fault is not None:
                until = policy.pause_ends(self.settings, now=self.now)
                detail = f"e-mail channel paused: {fault.detail}"
                await policy.pause(session, fault, until=until, now=self.now, actor=self.owner)
            for item in items:
                signature = await self._release(session, item)
                if signature is None:
                    continue
                supporter = await session.get(
                    Supporter, signature.supporter_id, with_for_update=True
                )
                if supporter is not None and supporter.mails_in_window > 0:
                    supporter.mails_in_window -= 1
                signature.mail_due_at = until if _pending(signature) else None
                _note(
                    session,
                    signature,
                    f"confirmation mail handed back, the attempt does not count: {detail}",
                    now=self.now,
                )

    async def _release(self, session: AsyncSession, item: ClaimedMail) -> Signature | None:
        """The signature, locked and its mail lease released, if this round still holds it."""
        signature = await session.get(Signature, item.signature_id, with_for_update=True)
        if signature is None or signature.mail_lease_owner != self.owner:
            log.warning("signature %s: mail lease lost before recording", item.signature_id)
            return None
        signature.mail_lease_owner = None
        signature.mail_lease_expires_at = None
        return signature


def _pending(signature: Signature) -> bool:
    return signature.status is SignatureStatus.pending


def _note(session: AsyncSession, signature: Signature, detail: str, *, now: datetime) -> None:
    """A mail event in the signature's history (its status unchanged)."""
    status = signature.status.value
    service.record(session, signature, from_status=status, to=status, now=now, detail=detail)


async def _failures(
    session: AsyncSession, signature: Signature, *, now: datetime
) -> tuple[int, datetime]:
    """How many attempts at the mail now due failed temporarily before, and since when (`now`
    if none did): counted in the signature's history since its last mail went."""
    query = select(func.count(), func.min(SignatureEvent.at)).where(
        SignatureEvent.signature_id == signature.id,
        SignatureEvent.detail.startswith(DELAYED, autoescape=True),
    )
    if signature.last_mail_at is not None:
        query = query.where(SignatureEvent.at > signature.last_mail_at)
    count, first = (await session.execute(query)).one()
    return int(count), first or now
