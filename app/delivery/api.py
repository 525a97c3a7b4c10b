"""JSON routes of the queue: letters written with their deliveries, and delivery timelines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignMode
from app.db import SessionDep, utcnow
from app.delivery import batches, pauses, reports, schedule, service
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.delivery.schemas import (
    ChannelPauseRead,
    CosignerAdded,
    DeliveryAction,
    DeliveryDetail,
    DeliveryEventRead,
    DeliveryRead,
    DigestRead,
    OfficeScheduleRead,
    PrintBatchRead,
    RetargetRead,
)
from app.letters import digests
from app.letters import service as letters_service
from app.letters.deps import KitDep
from app.letters.models import Digest, Letter
from app.letters.printing import Batch
from app.letters.schemas import LetterRead, LettersCreated, SenderIn
from app.letters.service import LetterKit
from app.params import Id, Offset
from app.recipients import service as recipients_service
from app.recipients.files import ChannelKind
from app.schemas import ERROR_RESPONSES, file_response
from app.spreadsheet import to_csv
from app.staff.auth import CurrentStaff, Editor

BATCH_PDF = file_response("application/pdf", "A4 PDF, one letter after another")
BATCH_CSV = file_response("text/csv", "letter, office, country, pages")
DELIVERIES_CSV = file_response("text/csv", "One delivery a row, as the delivery log shows it")
COSIGNERS_CSV = file_response("text/csv", "One co-signer a row")

router = APIRouter(prefix="/api/v1", tags=["delivery"], responses=ERROR_RESPONSES)


@router.post(
    "/campaigns/{slug}/letters",
    status_code=status.HTTP_201_CREATED,
    summary="Render and store letters signed by one sender, each queued for delivery",
    tags=["letters"],
)
async def create_letters(
    session: SessionDep,
    user: Editor,
    kit: KitDep,
    slug: str,
    sender: SenderIn,
    recipient: Annotated[list[str] | None, Query(description="Only these offices")] = None,
) -> LettersCreated:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    if campaign.mode is CampaignMode.digest:
        raise digests.WrongCampaignMode(
            f"campaign {slug!r} sends digests: add the signer with "
            f"POST /api/v1/campaigns/{slug}/cosigners"
        )

    async def queue(stored: Sequence[letters_service.StoredLetter]) -> int:
        return await service.queue(session, stored, actor=user.email)

    result = await letters_service.create_letters(
        session,
        campaign=campaign,
        sender=sender,
        kit=kit,
        today=utcnow().date(),
        recipient_ids=recipient,
        on_stored=queue,
    )
    return LettersCreated(
        created=[LetterRead.model_validate(x) for x in result.created],
        existing=[LetterRead.model_validate(x) for x in result.existing],
        unreachable=[campaigns_service.target_read(t) for t in result.unreachable],
    )


@router.get("/campaigns/{slug}/deliveries", summary="The campaign's deliveries")
async def list_deliveries(
    session: SessionDep,
    _user: CurrentStaff,
    slug: str,
    status: DeliveryStatus | None = None,
    channel: ChannelKind | None = None,
    office: Annotated[str | None, Query(max_length=80)] = None,
    since: Annotated[date | None, Query(description="Status changed on or after (UTC)")] = None,
    until: Annotated[date | None, Query(description="... on or before this day")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[DeliveryRead]:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    query = reports.filtered(
        select(Delivery).join(Letter, Letter.id == Delivery.letter_id),
        campaign,
        reports.LogFilter(status, channel, office, since, until),
    )
    rows = await session.scalars(query.order_by(Delivery.id).limit(limit).offset(offset))
    return [DeliveryRead.model_validate(d) for d in rows]


@router.get(
    "/campaigns/{slug}/deliveries.csv",
    summary="The campaign's deliveries as CSV (formula-safe cells), filtered like the log",
    responses=DELIVERIES_CSV,
)
async def deliveries_csv(
    session: SessionDep,
    _user: CurrentStaff,
    slug: str,
    status: DeliveryStatus | None = None,
    channel: ChannelKind | None = None,
    office: Annotated[str | None, Query(max_length=80)] = None,
    since: date | None = None,
    until: date | None = None,
) -> Response:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    rows, _ = await reports.delivery_log(
        session,
        campaign=campaign,
        filters=reports.LogFilter(status, channel, office, since, until),
        limit=1_000_000,
        offset=0,
    )
    return Response(
        to_csv(reports.CSV_HEADER, (reports.csv_row(r) for r in rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="deliveries-{slug}.csv"'},
    )


@router.get("/deliveries/{delivery_id:int}", summary="One delivery and its event timeline")
async def get_delivery(session: SessionDep, _user: CurrentStaff, delivery_id: Id) -> DeliveryDetail:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    return await _detail(session, delivery)


@router.post(
    "/deliveries/{delivery_id:int}/actions",
    summary="Retry, cancel, or mark a manual task done or skipped (campaigner, admin)",
)
async def act_on_delivery(
    session: SessionDep, user: Editor, delivery_id: Id, action: DeliveryAction
) -> DeliveryDetail:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    await service.act(session, delivery, action.to, actor=user.email, note=action.note)
    await session.flush()
    return await _detail(session, delivery)


async def _detail(session: AsyncSession, delivery: Delivery) -> DeliveryDetail:
    events = await service.events_of(session, delivery_id=delivery.id)
    return DeliveryDetail(
        **DeliveryRead.model_validate(delivery).model_dump(),
        events=[DeliveryEventRead.model_validate(e) for e in events],
    )


async def _batch_read(session: AsyncSession, batch: PrintBatch) -> PrintBatchRead:
    count = await session.scalar(
        select(func.count(Delivery.id)).where(Delivery.batch_id == batch.id)
    )
    return PrintBatchRead.model_validate(batch).model_copy(update={"letters": count or 0})


@router.post(
    "/campaigns/{slug}/print-batches",
    status_code=status.HTTP_201_CREATED,
    summary="Collect the queued postal letters into a print batch (marks them printed)",
)
async def create_print_batch(session: SessionDep, user: Editor, slug: str) -> PrintBatchRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    batch = await batches.create_batch(session, campaign=campaign, actor=user.email)
    return await _batch_read(session, batch)


@router.get("/print-batches/{batch_id:int}", summary="One print batch")
async def get_print_batch(session: SessionDep, _user: CurrentStaff, batch_id: Id) -> PrintBatchRead:
    return await _batch_read(session, await batches.get_batch(session, batch_id=batch_id))


async def _rendered(session: AsyncSession, kit: LetterKit, batch_id: int) -> Batch:
    batch = await batches.get_batch(session, batch_id=batch_id)
    return await batches.render(session, batch=batch, settings=kit.settings)


@router.get(
    "/print-batches/{batch_id:int}.pdf", summary="The batch as one PDF", responses=BATCH_PDF
)
async def print_batch_pdf(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, batch_id: Id
) -> Response:
    rendered = await _rendered(session, kit, batch_id)
    return Response(
        rendered.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.pdf"'},
    )


@router.get(
    "/print-batches/{batch_id:int}.csv", summary="The batch's manifest", responses=BATCH_CSV
)
async def print_batch_csv(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, batch_id: Id
) -> Response:
    rendered = await _rendered(session, kit, batch_id)
    return Response(
        rendered.manifest_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'},
    )


@router.post("/print-batches/{batch_id:int}/posted", summary="Mark a batch posted")
async def mark_posted(session: SessionDep, user: Editor, batch_id: Id) -> PrintBatchRead:
    batch = await batches.get_batch(session, batch_id=batch_id)
    await batches.mark_posted(session, batch=batch, actor=user.email)
    return await _batch_read(session, batch)


@router.get("/campaigns/{slug}/schedule", summary="Per office: letters waiting, and when they go")
async def get_schedule(
    session: SessionDep, _user: CurrentStaff, slug: str
) -> list[OfficeScheduleRead]:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    rows = await schedule.campaign_schedule(session, campaign=campaign, now=utcnow())
    return [OfficeScheduleRead.model_validate(row) for row in rows]


@router.post(
    "/recipients/{recipient_id}/retarget",
    summary="Point an office's waiting letters at its current channels (campaigner, admin)",
)
async def retarget(session: SessionDep, user: Editor, recipient_id: str) -> RetargetRead:
    recipient = await recipients_service.get_recipient(session, recipient_id=recipient_id)
    changed, stuck = await service.retarget(session, recipient=recipient, actor=user.email)
    return RetargetRead(retargeted=changed, without_usable_channel=stuck)


@router.post(
    "/campaigns/{slug}/cosigners",
    summary="Add a signer to a digest campaign's next digest (campaigner, admin)",
    tags=["digests"],
)
async def add_cosigner(
    session: SessionDep, user: Editor, slug: str, sender: SenderIn
) -> CosignerAdded:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    # Staff-entered signers (a paper petition) are identified by name and place.
    key = letters_service.letter_identity(campaign, "*", None, sender)
    added = await digests.add_cosigner(session, campaign=campaign, sender=sender, supporter_key=key)
    waiting = await digests.pending_cosigners(session, campaign_id=campaign.id)
    return CosignerAdded(added=added, waiting=waiting)


async def _digest_read(session: AsyncSession, digest: Digest) -> DigestRead:
    letters = await digests.digest_letters(session, digest_id=digest.id)
    return DigestRead.model_validate(digest).model_copy(update={"letters": len(letters)})


@router.get("/campaigns/{slug}/digests", summary="The campaign's digests", tags=["digests"])
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
    tags=["digests"],
)
async def make_digest(session: SessionDep, user: Editor, kit: KitDep, slug: str) -> DigestRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    digest = await digests.make_digest(
        session,
        campaign=campaign,
        kit=kit,
        now=utcnow(),
        actor=user.email,
        on_stored=partial(service.queue, session, actor=user.email),
    )
    return await _digest_read(session, digest)


@router.get("/digests/{digest_id:int}", summary="One digest", tags=["digests"])
async def get_digest(session: SessionDep, _user: CurrentStaff, digest_id: Id) -> DigestRead:
    return await _digest_read(session, await digests.get_digest(session, digest_id=digest_id))


@router.get(
    "/digests/{digest_id:int}.csv",
    summary="A digest's co-signers, as attached to its e-mails",
    tags=["digests"],
    responses=COSIGNERS_CSV,
)
async def digest_csv(session: SessionDep, _user: CurrentStaff, digest_id: Id) -> Response:
    await digests.get_digest(session, digest_id=digest_id)
    return Response(
        await digests.digest_csv(session, digest_id=digest_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="digest-{digest_id}.csv"'},
    )


@router.get("/channels/pauses", summary="Channels paused because our settings failed")
async def list_pauses(session: SessionDep, _user: CurrentStaff) -> list[ChannelPauseRead]:
    return [ChannelPauseRead.model_validate(p) for p in await pauses.list_pauses(session)]


@router.delete(
    "/channels/{channel}/pause",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Resume a paused channel once its settings are fixed (campaigner, admin)",
)
async def resume_channel(session: SessionDep, user: Editor, channel: ChannelKind) -> Response:
    await pauses.resume(session, channel=channel, actor=user.email)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
