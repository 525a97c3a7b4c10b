"""JSON routes of campaigns: create, read, edit and move through their statuses; targets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.campaigns import service
from app.campaigns.models import CampaignStatus
from app.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate, TargetsRead
from app.db import SessionDep
from app.schemas import ERROR_RESPONSES
from app.staff.auth import CurrentStaff, Editor
from app.templating.kit import KitDep

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a campaign (as a draft)")
async def create_campaign(
    session: SessionDep, user: Editor, kit: KitDep, data: CampaignCreate
) -> CampaignRead:
    campaign = await service.create_campaign(session, data=data, actor=user, library=kit.library)
    return service.to_read(campaign)


@router.get("", summary="List campaigns")
async def list_campaigns(
    session: SessionDep,
    _user: CurrentStaff,
    status: Annotated[CampaignStatus | None, Query()] = None,
) -> list[CampaignRead]:
    return [service.to_read(c) for c in await service.list_campaigns(session, status=status)]


@router.get("/{slug}", summary="One campaign")
async def get_campaign(session: SessionDep, _user: CurrentStaff, slug: str) -> CampaignRead:
    return service.to_read(await service.get_campaign(session, slug=slug))


@router.patch(
    "/{slug}",
    summary="Edit a draft or paused campaign, or change its status",
    description="Status moves draft → open → paused ⇄ open → closed; anything else is a 409.",
)
async def update_campaign(
    session: SessionDep, user: Editor, kit: KitDep, slug: str, changes: CampaignUpdate
) -> CampaignRead:
    campaign = await service.get_campaign(session, slug=slug)
    await service.update_campaign(
        session, campaign=campaign, changes=changes, actor=user, library=kit.library
    )
    return service.to_read(campaign)


@router.get("/{slug}/targets", summary="Target offices and how each will be reached")
async def get_targets(
    session: SessionDep, _user: CurrentStaff, kit: KitDep, slug: str
) -> TargetsRead:
    campaign = await service.get_campaign(session, slug=slug)
    targets = [
        service.target_read(t)
        for t in await service.resolve_targets(session, campaign=campaign, library=kit.library)
    ]
    return TargetsRead(
        campaign=campaign.slug,
        reachable=[t for t in targets if t.reachable],
        unreachable=[t for t in targets if not t.reachable],
    )
