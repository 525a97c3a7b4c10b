"""JSON routes of the queue: letters written with their deliveries, and delivery timelines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignMode
from app.campaigns.modes import WrongCampaignMode
from app.db import SessionDep, utcnow
from app.delivery import records, service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import pauses, schedule
from app.delivery.schemas import (
    ChannelPauseRead,
    DeliveryAction,
    DeliveryDetail,
    DeliveryEventRead,
    DeliveryRead,
    OfficeScheduleRead,
    RetargetRead,
)
from app.letters import service as letters_service
from app.letters.schemas import LetterRead, LettersCreated, SenderIn
from app.params import MAX_ID, Id, Offset
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.schemas import ERROR_RESPONSES, file_response
from app.spreadsheet import to_csv
from app.staff.auth import CurrentStaff, Editor
from app.templating.kit import KitDep

BATCH_PDF = file_response("application/pdf", "A4 PDF, one letter after another")
BATCH_CSV = file_response("text/csv", "letter, office, country, pages")
DELIVERIES_CSV = file_response("text/csv", "One delivery a row, as the delivery log shows it")

router = APIRouter(prefix="/api/v1", tags=["delivery"], responses=ERROR_RESPONSES)


def consent_check(request: Request) -> service.ConsentCheck:
    """Whether a letter's supporter still consents: the signatures domain's answer, which the
    composition root (app.main) puts on the app, so that delivery never reads signatures."""
    check: service.ConsentCheck = request.app.state.consent_check
    return check


ConsentDep = Annotated[service.ConsentCheck, Depends(consent_check)]


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
        raise WrongCampaignMode(
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


@router.get(
    "/campaigns/{slug}/deliveries",
    summary="The campaign's deliveries by id, paged by `after` (the Link header's next page)",
)
async def list_deliveries(
    request: Request,
    response: Response,
    session: SessionDep,
    _user: CurrentStaff,
    slug: str,
    status: DeliveryStatus | None = None,
    channel: ChannelKind | None = None,
    office: Annotated[str | None, Query(max_length=80)] = None,
    since: Annotated[date | None, Query(description="Status changed on or after (UTC)")] = None,
    until: Annotated[date | None, Query(description="... on or before this day")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Only ids above this one")
    ] = None,
    offset: Offset = 0,
) -> list[DeliveryRead]:
    """A page by `after` reads only its rows however deep it lies; `offset` still works."""
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    rows = await records.listing(
        session,
        campaign=campaign,
        filters=records.LogFilter(status, channel, office, since, until),
        limit=limit,
        after=after,
        offset=offset,
    )
    if len(rows) == limit:
        following = request.url.remove_query_params("offset").include_query_params(
            after=rows[-1].id
        )
        response.headers["Link"] = f'<{following}>; rel="next"'
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
    rows = await records.export(
        session,
        campaign=campaign,
        filters=records.LogFilter(status, channel, office, since, until),
    )
    return Response(
        to_csv(records.CSV_HEADER, (records.csv_row(r) for r in rows)),
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
    session: SessionDep, user: Editor, consent: ConsentDep, delivery_id: Id, action: DeliveryAction
) -> DeliveryDetail:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    await service.act(
        session, delivery, action.to, actor=user.email, note=action.note, consent=consent
    )
    await session.flush()
    return await _detail(session, delivery)


async def _detail(session: AsyncSession, delivery: Delivery) -> DeliveryDetail:
    events = await service.events_of(session, delivery_id=delivery.id)
    return DeliveryDetail(
        **DeliveryRead.model_validate(delivery).model_dump(),
        events=[DeliveryEventRead.model_validate(e) for e in events],
    )


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
