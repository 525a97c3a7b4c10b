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
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.post import printing, tracking
from app.delivery.post.envelopes import Layout
from app.delivery.post.pdf import AddressDoesNotFit, PrintableLetter, render_pdf
from app.delivery.post.provider import (
    PostalAddress,
    PrintMailClient,
    ProviderConfigError,
    ProviderError,
)
from app.delivery.post.typesetting import UnprintableCharacters
from app.delivery.queue import leases, pauses
from app.letters.models import Letter
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient

log = logging.getLogger(__name__)
S = DeliveryStatus
POSTAL = ChannelKind.postal


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    attempt: int
    idempotency_key: str
    letter: PrintableLetter
    to: PostalAddress | None  # None: the office has no usable postal address left
    description: str


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
    returns how many deliveries were sent or tracked. Does nothing unless `post_transport` is
    "provider", nor while the postal channel is paused."""
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
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    for index, item in enumerate(claimed):
        try:
            reference = await send(client, item, sender=sender, settings=settings)
        except ProviderConfigError as exc:
            await _pause(
                sessionmaker, settings, claimed[index:], exc, worker_name=worker_name, now=now
            )
            return index
        except ProviderError as exc:
            await record(
                sessionmaker, settings, item, error=exc, actor=worker_name, now=now, rng=rng
            )
            if exc.code == 429:  # the provider asked us to wait: the rest of the round waits too
                await _put_back(sessionmaker, claimed[index + 1 :], exc, actor=worker_name, now=now)
                return index + 1
        else:
            await record(
                sessionmaker,
                settings,
                item,
                reference=reference,
                actor=worker_name,
                now=now,
                rng=rng,
            )
    try:
        tracked = await tracking.poll(
            sessionmaker, settings, client, actor=worker_name, now=now, limit=limit
        )
    except ProviderConfigError as exc:
        await _pause(sessionmaker, settings, [], exc, worker_name=worker_name, now=now)
        tracked = 0
    return len(claimed) + tracked


def return_address(settings: Settings) -> PostalAddress:
    """Our own address, printed as the sender's; the provider needs one."""
    if not settings.organisation_address or not settings.home_country:
        raise ProviderConfigError(
            "the provider needs our return address: set APPEALS_ORGANISATION_ADDRESS and "
            "APPEALS_HOME_COUNTRY"
        )
    return PostalAddress(
        (settings.organisation_name, *settings.organisation_address), settings.home_country
    )


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    worker_name: str,
    now: datetime,
    limit: int,
) -> list[Claimed]:
    """Lease up to `limit` due postal deliveries (and ones whose lease expired)."""
    async with sessionmaker() as session, session.begin():
        ids = await leases.due_ids(session, channel=POSTAL, now=now, limit=limit)
        if not ids:
            return []
        rows = await session.execute(
            select(Delivery, Letter, Campaign)
            .join(Letter, Letter.id == Delivery.letter_id)
            .join(Campaign, Campaign.id == Letter.campaign_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        )
        offices: dict[str, Recipient] = {}
        claimed = []
        for delivery, letter, campaign in rows:
            if delivery.recipient_id not in offices:
                offices[delivery.recipient_id] = await recipients_service.get_recipient(
                    session, recipient_id=delivery.recipient_id
                )
            office = offices[delivery.recipient_id]
            detail = None
            if delivery.status is not S.sending and delivery.external_id is not None:
                # Staff sent back a letter the provider already had (returned, say): the old
                # key would only fetch that letter again.
                detail = f"a new provider letter; the last one was {delivery.external_id}"
                delivery.idempotency_key = secrets.token_hex(16)
                delivery.external_id = None
            leases.take(
                session,
                delivery,
                owner=worker_name,
                now=now,
                seconds=settings.lease_seconds,
                again="sending again with the same idempotency key, so the provider returns "
                "any letter it already made",
                detail=detail,
            )
            claimed.append(
                Claimed(
                    delivery_id=delivery.id,
                    attempt=delivery.attempts,
                    idempotency_key=delivery.idempotency_key,
                    letter=printing.printable(letter, office, settings),
                    to=_destination(office, campaign, settings),
                    description=f"letter {letter.id}, campaign {campaign.slug}",
                )
            )
        return claimed


def _destination(office: Recipient, campaign: Campaign, settings: Settings) -> PostalAddress | None:
    channel = printing.postal_channel(office)
    if channel is None:
        return None
    if campaign.test_mode and settings.home_country:
        # Test mode: the letter comes back to us, saying where it would have gone.
        return PostalAddress(
            (
                f"TEST for {office.office}",
                settings.organisation_name,
                *settings.organisation_address,
            ),
            settings.home_country,
        )
    country = channel.country or office.country
    # The country goes as a code; with it as home country, the lines carry no country line.
    return PostalAddress(tuple(printing.address_lines(office, home_country=country)), country)


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
