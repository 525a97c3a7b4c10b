"""Print batches: the campaign's queued postal letters, printed as one PDF and posted together.

Creating a batch moves its deliveries from queued to printed (sorted by country, as a post
office wants them); marking it posted moves them on. A batch's PDF can be printed again at any
time: it is made from the letters on record.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.delivery.post.envelopes import Layout
from app.delivery.post.printing import Batch, render_batch
from app.errors import Conflict, NotFound
from app.letters.models import Letter
from app.progress import Report, ignore
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient


async def create_batch(session: AsyncSession, *, campaign: Campaign, actor: str) -> PrintBatch:
    rows = (
        await session.execute(
            select(Delivery, Recipient.country)
            .join(Letter, Letter.id == Delivery.letter_id)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .where(
                Letter.campaign_id == campaign.id,
                Delivery.channel == ChannelKind.postal,
                Delivery.status == DeliveryStatus.queued,
            )
            .order_by(Recipient.country, Delivery.id)
            .with_for_update(of=Delivery)
        )
    ).all()
    if not rows:
        raise NotFound(f"campaign {campaign.slug!r} has no postal letter waiting to be printed")
    batch = PrintBatch(campaign_id=campaign.id, created_by=actor, test_mode=campaign.test_mode)
    session.add(batch)
    await session.flush()
    for delivery, _country in rows:
        service.transition(
            session, delivery, DeliveryStatus.printed, actor=actor, detail=f"print batch {batch.id}"
        )
        delivery.batch_id = batch.id
    await session.flush()
    return batch


async def get_batch(session: AsyncSession, *, batch_id: int) -> PrintBatch:
    batch = await session.get(PrintBatch, batch_id)
    if batch is None:
        raise NotFound(f"no print batch {batch_id}")
    return batch


async def batch_letters(
    session: AsyncSession, *, batch: PrintBatch
) -> list[tuple[Letter, Recipient]]:
    """The batch's letters with their offices, in print order (by country)."""
    letters: Sequence[tuple[Letter, str]] = (
        await session.execute(
            select(Letter, Recipient.country)
            .join(Delivery, Delivery.letter_id == Letter.id)
            .join(Recipient, Recipient.id == Letter.recipient_id)
            .where(Delivery.batch_id == batch.id)
            .order_by(Recipient.country, Delivery.id)
        )
    ).all()
    offices = {r.id: r for r in await recipients_service.all_recipients(session)}
    return [(letter, offices[letter.recipient_id]) for letter, _ in letters]


# On every page of a test-mode batch: its letters carry the offices' real addresses.
TEST_MARK = "TEST - DO NOT POST"


async def render(
    session: AsyncSession, *, batch: PrintBatch, settings: Settings, progress: Report = ignore
) -> Batch:
    """The batch's PDF and manifest, made again from the letters on record."""
    return render_batch(
        await batch_letters(session, batch=batch),
        settings,
        default_layout=Layout(settings.pdf_layout),
        watermark=TEST_MARK if batch.test_mode else None,
        progress=progress,
    )


async def mark_posted(session: AsyncSession, *, batch: PrintBatch, actor: str) -> int:
    if batch.posted_at is not None:
        raise Conflict(f"print batch {batch.id} was already marked posted")
    deliveries = await session.scalars(
        select(Delivery).where(
            Delivery.batch_id == batch.id, Delivery.status == DeliveryStatus.printed
        )
    )
    count = 0
    for delivery in deliveries:
        service.transition(
            session, delivery, DeliveryStatus.posted, actor=actor, detail=f"batch {batch.id} posted"
        )
        count += 1
    batch.posted_at, batch.posted_by = utcnow(), actor
    await session.flush()
    return count
