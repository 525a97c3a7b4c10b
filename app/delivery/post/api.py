"""JSON and PDF routes of the post: a letter's print-ready PDF, print batches and their manifests.

Every PDF here comes from one function, `printing.render_batch`: one letter, the campaign's
letters of a channel as they stand (a proof before collecting a batch), or a stored batch.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.db import SessionDep
from app.delivery.models import Delivery, PrintBatch
from app.delivery.post import batches
from app.delivery.post.envelopes import Layout
from app.delivery.post.printing import Batch, render_batch
from app.delivery.schemas import PrintBatchRead
from app.letters import service as letters_service
from app.letters.models import Letter
from app.params import Id
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient
from app.schemas import ERROR_RESPONSES, download, file_response
from app.staff.auth import CurrentStaff, Editor
from app.templating.kit import KitDep, LetterKit

PDF = file_response("application/pdf", "A4 PDF")
CSV = file_response("text/csv", "letter, office, country, pages")
BATCH_PDF = file_response("application/pdf", "A4 PDF, one letter after another")
BATCH_CSV = file_response("text/csv", "letter, office, country, pages")

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


async def _with_recipients(
    session: AsyncSession, letters: list[Letter]
) -> list[tuple[Letter, Recipient]]:
    offices = {r.id: r for r in await recipients_service.all_recipients(session)}
    return [(letter, offices[letter.recipient_id]) for letter in letters]


@router.get(
    "/letters/{letter_id:int}.pdf",
    summary="One letter as a print-ready A4 PDF",
    responses=PDF,
    tags=["letters"],
)
async def letter_pdf(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, letter_id: Id
) -> Response:
    letter = await letters_service.get_letter(session, letter_id=letter_id)
    batch = render_batch(
        await _with_recipients(session, [letter]),
        kit.settings,
        default_layout=Layout(kit.settings.pdf_layout),
    )
    return download(batch.pdf, "application/pdf", f"letter-{letter.id}.pdf", inline=True)


async def _campaign_batch(
    session: AsyncSession, kit: LetterKit, slug: str, channel: ChannelKind
) -> Batch:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    letters = list(await letters_service.list_letters(session, campaign=campaign, channel=channel))
    return render_batch(
        await _with_recipients(session, letters),
        kit.settings,
        default_layout=Layout(kit.settings.pdf_layout),
    )


@router.get(
    "/campaigns/{slug}/print-batch.pdf",
    summary="All the campaign's letters for the post, in one PDF",
    responses=PDF,
    tags=["letters"],
)
async def campaign_print_batch_pdf(
    session: SessionDep,
    _user: CurrentStaff,
    kit: KitDep,
    slug: str,
    channel: ChannelKind = ChannelKind.postal,
) -> Response:
    batch = await _campaign_batch(session, kit, slug, channel)
    return download(batch.pdf, "application/pdf", f"{slug}-{channel.value}.pdf")


@router.get(
    "/campaigns/{slug}/print-batch.csv",
    summary="The manifest of the print batch: letter, office, country, pages",
    responses=CSV,
    tags=["letters"],
)
async def print_batch_manifest(
    session: SessionDep,
    _user: CurrentStaff,
    kit: KitDep,
    slug: str,
    channel: ChannelKind = ChannelKind.postal,
) -> Response:
    batch = await _campaign_batch(session, kit, slug, channel)
    return download(batch.manifest_csv, "text/csv; charset=utf-8", f"{slug}-{channel.value}.csv")


async def _batch_read(session: AsyncSession, batch: PrintBatch) -> PrintBatchRead:
    count = await session.scalar(
        select(func.count(Delivery.id)).where(Delivery.batch_id == batch.id)
    )
    return PrintBatchRead.model_validate(batch).model_copy(update={"letters": count or 0})


@router.post(
    "/campaigns/{slug}/print-batches",
    tags=["delivery"],
    status_code=status.HTTP_201_CREATED,
    summary="Collect the queued postal letters into a print batch (marks them printed)",
)
async def create_print_batch(session: SessionDep, user: Editor, slug: str) -> PrintBatchRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    batch = await batches.create_batch(session, campaign=campaign, actor=user.email)
    return await _batch_read(session, batch)


@router.get("/print-batches/{batch_id:int}", summary="One print batch", tags=["delivery"])
async def get_print_batch(session: SessionDep, _user: CurrentStaff, batch_id: Id) -> PrintBatchRead:
    return await _batch_read(session, await batches.get_batch(session, batch_id=batch_id))


async def _rendered(session: AsyncSession, kit: LetterKit, batch_id: int) -> Batch:
    batch = await batches.get_batch(session, batch_id=batch_id)
    return await batches.render(session, batch=batch, settings=kit.settings)


@router.get(
    "/print-batches/{batch_id:int}.pdf",
    summary="The batch as one PDF",
    responses=BATCH_PDF,
    tags=["delivery"],
)
async def print_batch_pdf(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, batch_id: Id
) -> Response:
    rendered = await _rendered(session, kit, batch_id)
    return download(rendered.pdf, "application/pdf", f"batch-{batch_id}.pdf")


@router.get(
    "/print-batches/{batch_id:int}.csv",
    summary="The batch's manifest",
    responses=BATCH_CSV,
    tags=["delivery"],
)
async def print_batch_csv(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, batch_id: Id
) -> Response:
    rendered = await _rendered(session, kit, batch_id)
    return download(rendered.manifest_csv, "text/csv; charset=utf-8", f"batch-{batch_id}.csv")


@router.post(
    "/print-batches/{batch_id:int}/posted", summary="Mark a batch posted", tags=["delivery"]
)
async def mark_posted(session: SessionDep, user: Editor, batch_id: Id) -> PrintBatchRead:
    batch = await batches.get_batch(session, batch_id=batch_id)
    await batches.mark_posted(session, batch=batch, actor=user.email)
    return await _batch_read(session, batch)
