"""JSON and PDF routes of letters: previews, staff-signed letters, PDFs and print batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.letters import service
from app.letters.schemas import LetterRead, PreviewRead, SenderIn
from app.params import Id, Offset
from app.recipients.channels import ChannelKind
from app.schemas import ERROR_RESPONSES, file_response
from app.staff.auth import CurrentStaff
from app.templating.kit import KitDep

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
