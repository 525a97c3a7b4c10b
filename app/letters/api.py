"""JSON and PDF routes of letters: previews, staff-signed letters, PDFs and print batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.letters import service
from app.letters.deps import KitDep
from app.letters.models import Letter
from app.letters.pdf import Layout
from app.letters.printing import Batch, render_batch
from app.letters.schemas import LetterRead, PreviewRead, SenderIn
from app.letters.service import LetterKit
from app.params import Id, Offset
from app.recipients import service as recipients_service
from app.recipients.files import ChannelKind
from app.recipients.models import Recipient
from app.schemas import ERROR_RESPONSES, file_response
from app.staff.auth import CurrentStaff

router = APIRouter(prefix="/api/v1", tags=["letters"], responses=ERROR_RESPONSES)

PDF = file_response("application/pdf", "A4 PDF")
CSV = file_response("text/csv", "letter, office, country, pages")


@router.get("/campaigns/{slug}/preview", summary="The exact letter a sender would send")
async def preview_letter(
    session: SessionDep,
    _user: CurrentStaff,
    kit: KitDep,
    slug: str,
    recipient: Annotated[str, Query(description="Office id")],
    supporter_name: Annotated[str, Query(min_length=1, max_length=100)],
    case: Annotated[str | None, Query(description="Case id (individual appeals)")] = None,
    supporter_city: Annotated[str, Query(max_length=100)] = "",
    supporter_country: Annotated[str, Query(max_length=100)] = "",
    message: Annotated[str, Query(max_length=2000)] = "",
) -> PreviewRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    sender = SenderIn.model_validate(
        {
            "name": supporter_name,
            "city": supporter_city,
            "country": supporter_country,
            "message": message,
        }
    )
    composed = await service.preview(
        session,
        campaign=campaign,
        recipient_id=recipient,
        case_id=case,
        sender=sender,
        kit=kit,
        today=utcnow().date(),
    )
    letter = composed.letter
    return PreviewRead(
        subject=letter.subject,
        body=letter.body,
        language=letter.language,
        template_name=letter.template_name,
        template_version=letter.template_version,
        recipient_id=recipient,
        case_id=composed.case.id if composed.case else None,
        target=campaigns_service.target_read(composed.target),
    )


@router.get("/campaigns/{slug}/letters", summary="The campaign's letters on record")
async def list_letters(
    session: SessionDep,
    _user: CurrentStaff,
    slug: str,
    channel: ChannelKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[LetterRead]:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    letters = await service.list_letters(
        session, campaign=campaign, channel=channel, limit=limit, offset=offset
    )
    return [LetterRead.model_validate(x) for x in letters]


@router.get("/letters/{letter_id:int}", summary="One letter on record")
async def get_letter(session: SessionDep, _user: CurrentStaff, letter_id: Id) -> LetterRead:
    return LetterRead.model_validate(await service.get_letter(session, letter_id=letter_id))


async def _with_recipients(
    session: AsyncSession, letters: list[Letter]
) -> list[tuple[Letter, Recipient]]:
    offices = {r.id: r for r in await recipients_service.all_recipients(session)}
    return [(letter, offices[letter.recipient_id]) for letter in letters]


@router.get(
    "/letters/{letter_id:int}.pdf", summary="One letter as a print-ready A4 PDF", responses=PDF
)
async def letter_pdf(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, letter_id: Id
) -> Response:
    letter = await service.get_letter(session, letter_id=letter_id)
    batch = render_batch(
        await _with_recipients(session, [letter]),
        kit.settings,
        default_layout=Layout(kit.settings.pdf_layout),
    )
    return Response(
        batch.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="letter-{letter.id}.pdf"'},
    )


async def _campaign_batch(
    session: AsyncSession, kit: LetterKit, slug: str, channel: ChannelKind
) -> Batch:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    letters = list(await service.list_letters(session, campaign=campaign, channel=channel))
    return render_batch(
        await _with_recipients(session, letters),
        kit.settings,
        default_layout=Layout(kit.settings.pdf_layout),
    )


@router.get(
    "/campaigns/{slug}/print-batch.pdf",
    summary="All the campaign's letters for the post, in one PDF",
    responses=PDF,
)
async def print_batch_pdf(
    session: SessionDep,
    _user: CurrentStaff,
    kit: KitDep,
    slug: str,
    channel: ChannelKind = ChannelKind.postal,
) -> Response:
    batch = await _campaign_batch(session, kit, slug, channel)
    return Response(
        batch.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{slug}-{channel.value}.pdf"'},
    )


@router.get(
    "/campaigns/{slug}/print-batch.csv",
    summary="The manifest of the print batch: letter, office, country, pages",
    responses=CSV,
)
async def print_batch_manifest(
    session: SessionDep,
    _user: CurrentStaff,
    kit: KitDep,
    slug: str,
    channel: ChannelKind = ChannelKind.postal,
) -> Response:
    batch = await _campaign_batch(session, kit, slug, channel)
    return Response(
        batch.manifest_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-{channel.value}.csv"'},
    )
