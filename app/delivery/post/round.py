"""The postal channel through a print-and-mail provider: claim, render, send, record, track.

Used when `post_transport` is "provider" (otherwise staff print batches: `batches.py`). Claiming
works as it does for e-mail (`worker.py`): one short transaction takes due postal deliveries
under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL); each letter's PDF is rendered and sent
outside any transaction; the outcome is written only while the lease still holds. Every letter
is sent with its delivery's idempotency key, so when a worker dies after the provider accepted a
letter, the next attempt gets that same provider letter back instead of posting a second one.

Refusals that are about us and not the letter spend none of its retries: a 429 puts the round's
letters back until the provider's Retry-After; refused credentials or missing settings pause the
postal channel (`pauses.py`). After the sending, each round reads the tracking that is due
(`tracking.py`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.post import tracking
from app.delivery.post.claims import Claimed, claim, return_address
from app.delivery.post.envelopes import Layout
from app.delivery.post.pdf import AddressDoesNotFit, render_pdf
from app.delivery.post.provider import (
    PostalAddress,
    PrintMailClient,
    ProviderConfigError,
    ProviderError,
)
from app.delivery.post.typesetting import UnprintableCharacters
from app.delivery.queue import leases, pauses
from app.delivery.tally import Tally
from app.recipients.channels import ChannelKind

log = logging.getLogger(__name__)
S = DeliveryStatus
POSTAL = ChannelKind.postal


async def run_postal_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: PrintMailClient,
    *,
    worker_name: str,
    now: datetime,
    limit: int = 50,
    rng: random.Random | None = None,
) -> int:
    """Send up to `limit` due postal letters through the provider, then read due tracking;
    returns how many deliveries were sent or tracked, and logs the round as one line. Does
    nothing unless `post_transport` is "provider", nor while the postal channel is paused."""
    if settings.post_transport != "provider":
        return 0
    async with sessionmaker() as session:
        if await pauses.active(session, channel=POSTAL, now=now):
            return 0
    try:
        sender = return_address(settings)
    except ProviderConfigError as exc:
        await _pause(sessionmaker, settings, [], exc, worker_name=worker_name, now=now)
        return 0
    claimed = await claim(sessionmaker, settings, worker_name=worker_name, now=now, limit=limit)
    tally = Tally(claimed=len(claimed))
    rounds = _Sending(sessionmaker, settings, client, worker_name=worker_name, now=now, rng=rng)
    if not await rounds.send_all(claimed, sender=sender, tally=tally):
        _log_round(worker_name, tally, tracked=0)
        return tally.sent + tally.retrying + tally.failed
    try:
        tracked = await tracking.poll(
            sessionmaker, settings, client, actor=worker_name, now=now, limit=limit
        )
    except ProviderConfigError as exc:
        await _pause(sessionmaker, settings, [], exc, worker_name=worker_name, now=now)
        tracked = 0
    _log_round(worker_name, tally, tracked=tracked)
    return len(claimed) + tracked


def _log_round(worker_name: str, tally: Tally, *, tracked: int) -> None:
    line = tally.line(f"worker {worker_name}: postal round")
    if tracked:
        line = (line or f"worker {worker_name}: postal round: 0 claimed") + (f", {tracked} tracked")
    if line is not None:
        log.info(line)


class _Sending:
    """One round's letters, sent in turn and each outcome recorded."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        client: PrintMailClient,
        *,
        worker_name: str,
        now: datetime,
        rng: random.Random | None,
    ) -> None:
        self.sessionmaker, self.settings, self.client = sessionmaker, settings, client
        self.worker_name, self.now = worker_name, now
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security

    async def send_all(
        self, claimed: Sequence[Claimed], *, sender: PostalAddress, tally: Tally
    ) -> bool:
        """Send `claimed` in turn; False when the round stopped early (the channel paused on
        our own fault, or the provider asked us to wait), its rest handed back unspent."""
        sessionmaker, settings, actor, now = (
            self.sessionmaker,
            self.settings,
            self.worker_name,
            self.now,
        )
        for index, item in enumerate(claimed):
            try:
                reference = await send(self.client, item, sender=sender, settings=settings)
            except ProviderConfigError as exc:
                await _pause(
                    sessionmaker, settings, claimed[index:], exc, worker_name=actor, now=now
                )
                tally.handed_back += len(claimed) - index
                return False
            except ProviderError as exc:
                await record(
                    sessionmaker, settings, item, error=exc, actor=actor, now=now, rng=self.rng
                )
                tally.failure(exc.code, temporary=exc.temporary)
                if exc.code == 429:  # the provider asked us to wait: the rest waits too
                    await _put_back(sessionmaker, claimed[index + 1 :], exc, actor=actor, now=now)
                    tally.handed_back += len(claimed) - index - 1
                    return False
            else:
                await record(
                    sessionmaker,
                    settings,
                    item,
                    reference=reference,
                    actor=actor,
                    now=now,
                    rng=self.rng,
                )
                tally.sent += 1
        return True


async def send(
    client: PrintMailClient, item: Claimed, *, sender: PostalAddress, settings: Settings
) -> str:
    """Render the letter's PDF and hand it to the provider; its reference for the letter."""
    if item.to is None:
        raise ProviderError(
            "the office has no usable postal address; correct the directory, then retry",
            code=None,
            temporary=False,
        )
    try:
        pdf, _pages = render_pdf([item.letter], default_layout=Layout(settings.pdf_layout))
    except (AddressDoesNotFit, UnprintableCharacters) as exc:
        raise ProviderError(
            f"{exc} Correct the directory entry or the letter, then retry.",
            code=None,
            temporary=False,
        ) from exc
    if item.attempt > 1:
        # An earlier attempt may have made the letter, its answer lost, its key forgotten.
        made = await client.find_letter(item.idempotency_key)
        if made is not None:
            return made
    return await client.create_letter(
        idempotency_key=item.idempotency_key,
        to=item.to,
        sender=sender,
        pdf=pdf,
        description=item.description,
    )


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    item: Claimed,
    *,
    actor: str,
    now: datetime,
    rng: random.Random,
    reference: str | None = None,
    error: ProviderError | None = None,
) -> None:
    """Write the outcome of sending `item`, if this worker still holds its lease."""
    async with sessionmaker() as session, session.begin():
        delivery = await _leased(session, item, actor)
        if delivery is None:
            return
        if error is None:
            delivery.external_id = reference
            delivery.last_error, delivery.last_error_code = None, None
            delivery.retrying_since = None
            delivery.next_attempt_at = now + timedelta(minutes=settings.printmail_tracking_minutes)
            service.transition(
                session,
                delivery,
                S.printed,
                actor=actor,
                code=200,
                detail=f"accepted by the print-and-mail provider as {reference}",
                now=now,
            )
            return
        delivery.last_error, delivery.last_error_code = error.detail, error.code
        if error.code == 429:
            _wait_for_provider(session, delivery, error, actor=actor, now=now)
            return
        await leases.failed_attempt(
            session,
            delivery,
            code=error.code,
            detail=error.detail,
            temporary=error.temporary,
            settings=settings,
            rng=rng,
            actor=actor,
            now=now,
        )


def _wait_for_provider(
    session: AsyncSession, delivery: Delivery, error: ProviderError, *, actor: str, now: datetime
) -> None:
    """Rate limited: back to the queue until the provider's Retry-After, no retry spent."""
    wait = error.retry_after if error.retry_after is not None else 60.0
    until = now + timedelta(seconds=wait)
    leases.put_back(
        session,
        delivery,
        until=until,
        code=error.code,
        detail=(
            f"the provider asked us to wait {wait:g} s; next attempt at "
            f"{until.isoformat()}, this one does not count: {error.detail}"
        ),
        actor=actor,
        now=now,
    )


async def _put_back(
    sessionmaker: async_sessionmaker[AsyncSession],
    items: Sequence[Claimed],
    error: ProviderError,
    *,
    actor: str,
    now: datetime,
) -> None:
    async with sessionmaker() as session, session.begin():
        for item in items:
            delivery = await _leased(session, item, actor)
            if delivery is not None:
                _wait_for_provider(session, delivery, error, actor=actor, now=now)


async def _pause(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    items: Sequence[Claimed],
    error: ProviderConfigError,
    *,
    worker_name: str,
    now: datetime,
) -> None:
    """Our settings are wrong: pause the postal channel and hand the claimed letters back
    without spending their attempts."""
    until = now + timedelta(minutes=settings.channel_pause_minutes)
    log.error("worker %s: pausing postal until %s: %s", worker_name, until, error.detail)
    async with sessionmaker() as session, session.begin():
        await pauses.pause(
            session, channel=POSTAL, reason=error.detail, until=until, now=now, actor=worker_name
        )
        for item in items:
            delivery = await _leased(session, item, worker_name)
            if delivery is not None:
                delivery.last_error, delivery.last_error_code = error.detail, error.code
                leases.put_back(
                    session,
                    delivery,
                    until=until,
                    code=error.code,
                    detail=f"postal channel paused, this attempt does not count: {error.detail}",
                    actor=worker_name,
                    now=now,
                )


async def _leased(session: AsyncSession, item: Claimed, actor: str) -> Delivery | None:
    return await leases.release(
        session, delivery_id=item.delivery_id, attempt=item.attempt, owner=actor
    )
