"""JSON routes of the queue: letters written with their deliveries, and delivery timelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.delivery import service
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.schemas import (
    DeliveryAction,
    DeliveryDetail,
    DeliveryEventRead,
    DeliveryRead,
)
from app.letters import service as letters_service
from app.letters.deps import KitDep
from app.letters.models import Letter
from app.letters.schemas import LetterRead, LettersCreated, SenderIn
from app.recipients.files import ChannelKind
from app.schemas import ERROR_RESPONSES
from app.staff.auth import CurrentStaff, Editor

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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeliveryRead]:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    query = (
        select(Delivery)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(Letter.campaign_id == campaign.id)
        .order_by(Delivery.id)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if office is not None:
        query = query.where(Delivery.recipient_id == office)
    return [DeliveryRead.model_validate(d) for d in await session.scalars(query)]


@router.get("/deliveries/{delivery_id:int}", summary="One delivery and its event timeline")
async def get_delivery(
    session: SessionDep, _user: CurrentStaff, delivery_id: int
) -> DeliveryDetail:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    return await _detail(session, delivery)


@router.post(
    "/deliveries/{delivery_id:int}/actions",
    summary="Retry, cancel, or mark a manual task done or skipped (campaigner, admin)",
)
async def act_on_delivery(
    session: SessionDep, user: Editor, delivery_id: int, action: DeliveryAction
) -> DeliveryDetail:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    service.act(session, delivery, action.to, actor=user.email, note=action.note)
    await session.flush()
    return await _detail(session, delivery)


async def _detail(session: AsyncSession, delivery: Delivery) -> DeliveryDetail:
    events = await service.events_of(session, delivery_id=delivery.id)
    return DeliveryDetail(
        **DeliveryRead.model_validate(delivery).model_dump(),
        events=[DeliveryEventRead.model_validate(e) for e in events],
    )
