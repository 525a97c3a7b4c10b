"""Claiming postal letters for the provider: a lease on each due delivery, its printable
letter and where it goes (in test mode, back to us), and our return address.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.post import printing
from app.delivery.post.pdf import PrintableLetter
from app.delivery.post.provider import PostalAddress, ProviderConfigError
from app.delivery.queue import leases
from app.letters.models import Letter
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient

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
