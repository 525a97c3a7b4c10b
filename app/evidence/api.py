"""JSON route of proof of delivery: a letter's dossier, for staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.db import SessionDep, utcnow
from app.evidence import hashing, pdf, service
from app.params import Id
from app.schemas import ERROR_RESPONSES
from app.staff.auth import CurrentStaff

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=ERROR_RESPONSES)

IncludePersonal = Annotated[
    bool,
    Query(
        description="Include the supporter's name, e-mail, city, message, the letter's text "
        "and the bytes sent (the request is audited; an erased supporter's stay out)."
    ),
]


@router.get(
    "/letters/{letter_id}/dossier",
    summary="A letter's proof of delivery, hashed",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The dossier."}},
)
async def letter_dossier(
    letter_id: Id,
    session: SessionDep,
    staff: CurrentStaff,
    include_personal: IncludePersonal = False,
) -> Response:
    """The letter, each send with its SMTP transaction and hash, the delivery log and what came
    back; the SHA-256 of every item and of the whole (`appeals evidence verify` checks them).
    The body is the dossier's canonical encoding, so a saved copy verifies byte for byte."""
    dossier = await service.dossier_of(
        session,
        letter_id=letter_id,
        include_personal=include_personal,
        actor=staff,
        now=utcnow(),
    )
    return Response(hashing.canonical(dossier), media_type="application/json")


@router.get(
    "/letters/{letter_id}/dossier.pdf",
    summary="A letter's proof of delivery, printed",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The dossier's PDF."}},
)
async def letter_dossier_pdf(
    letter_id: Id,
    session: SessionDep,
    staff: CurrentStaff,
    include_personal: IncludePersonal = False,
) -> Response:
    """The same dossier as a PDF: each send's SMTP transaction and final reply, every hash."""
    dossier = await service.dossier_of(
        session,
        letter_id=letter_id,
        include_personal=include_personal,
        actor=staff,
        now=utcnow(),
    )
    return Response(pdf.render(dossier), media_type="application/pdf")
