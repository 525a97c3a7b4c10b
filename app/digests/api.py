"""JSON routes of digest campaigns: co-signers added by staff, the digests made, their CSV."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.delivery import service as delivery_service
from app.digests import service as digests
from app.digests.models import Digest
from app.digests.schemas import CosignerAdded, DigestRead
from app.letters.composing import letter_identity
from app.letters.schemas import SenderIn
from app.params import Id
from app.schemas import ERROR_RESPONSES, file_response
from app.staff.auth import CurrentStaff, Editor
from app.templating.kit import KitDep

COSIGNERS_CSV = file_response("text/csv", "One co-signer a row")

router = APIRouter(prefix="/api/v1", tags=["digests"], responses=ERROR_RESPONSES)


@router.post(
    "/campaigns/{slug}/cosigners",
    summary="Add a signer to a digest campaign's next digest (campaigner, admin)",
)
async def add_cosigner(
    session: SessionDep, user: Editor, slug: str, sender: SenderIn
) -> CosignerAdded:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    # Staff-entered signers (a paper petition) are identified by name and place.
    key = letter_identity(campaign, "*", None, sender)
    added = await digests.add_cosigner(session, campaign=campaign, sender=sender, supporter_key=key)
    waiting = await digests.pending_cosigners(session, campaign_id=campaign.id)
    return CosignerAdded(added=added, waiting=waiting)


async def _digest_read(session: AsyncSession, digest: Digest) -> DigestRead:
    letters = await digests.digest_letters(session, digest_id=digest.id)
    return DigestRead.model_validate(digest).model_copy(update={"letters": len(letters)})


@router.get("/campaigns/{slug}/digests", summary="The campaign's digests")
async def list_digests(session: SessionDep, _user: CurrentStaff, slug: str) -> list[DigestRead]:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    return [
        await _digest_read(session, d)
        for d in await digests.list_digests(session, campaign=campaign)
    ]


@router.post(
    "/campaigns/{slug}/digests",
    status_code=status.HTTP_201_CREATED,
    summary="Close the period now: one letter per office listing the waiting co-signers",
)
async def make_digest(session: SessionDep, user: Editor, kit: KitDep, slug: str) -> DigestRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    digest = await digests.make_digest(
        session,
        campaign=campaign,
        kit=kit,
        now=utcnow(),
        actor=user.email,
        on_stored=partial(delivery_service.queue, session, actor=user.email),
    )
    return await _digest_read(session, digest)


@router.get("/digests/{digest_id:int}", summary="One digest")
async def get_digest(session: SessionDep, _user: CurrentStaff, digest_id: Id) -> DigestRead:
    return await _digest_read(session, await digests.get_digest(session, digest_id=digest_id))


@router.get(
    "/digests/{digest_id:int}.csv",
    summary="A digest's co-signers, as attached to its e-mails",
    responses=COSIGNERS_CSV,
)
async def digest_csv(session: SessionDep, _user: CurrentStaff, digest_id: Id) -> Response:
    await digests.get_digest(session, digest_id=digest_id)
    return Response(
        await digests.digest_csv(session, digest_id=digest_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="digest-{digest_id}.csv"'},
    )
