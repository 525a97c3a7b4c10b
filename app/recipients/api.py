"""JSON routes of the directory: browse offices (public, cacheable: app/web/caching.py), staff
corrections, directory health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.config import SettingsDep
from app.db import SessionDep, utcnow
from app.params import Id, Offset
from app.recipients import service
from app.recipients.channels import ChannelKind
from app.recipients.health import OfficeStatus, directory_health
from app.recipients.schemas import (
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    DirectoryHealthRead,
    OfficeHealthRead,
    RecipientRead,
    RecipientUpdate,
)
from app.schemas import ERROR_RESPONSES, Page
from app.staff.auth import CurrentStaff, Editor
from app.web import caching

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/recipients", summary="List offices", response_model=Page[RecipientRead])
async def list_recipients(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Office, holder, body")] = None,
    tag: Annotated[str | None, Query(max_length=40, description="e.g. eu, coe, oecd")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    channel: Annotated[ChannelKind | None, Query(description="Has a channel of this kind")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Response:
    rows, total = await service.list_recipients(
        session, q=q, tag=tag, country=country, channel=channel, limit=limit, offset=offset
    )
    items = [service.to_read(r) for r in rows]
    page = Page[RecipientRead](items=items, total=total, limit=limit, offset=offset)
    return caching.shared_json(request, page)


@router.get(
    "/recipients/{recipient_id}",
    summary="One office with its channels",
    response_model=RecipientRead,
)
async def get_recipient(request: Request, session: SessionDep, recipient_id: str) -> Response:
    office = service.to_read(await service.get_recipient(session, recipient_id=recipient_id))
    return caching.shared_json(request, office)


@router.patch("/recipients/{recipient_id}", summary="Correct an office (campaigner, admin)")
async def update_recipient(
    session: SessionDep, user: Editor, recipient_id: str, changes: RecipientUpdate
) -> RecipientRead:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    await service.update_recipient(
        session, recipient=recipient, changes=changes, actor=user, today=utcnow().date()
    )
    return service.to_read(recipient)


@router.post(
    "/recipients/{recipient_id}/channels",
    status_code=status.HTTP_201_CREATED,
    summary="Add a verified channel (campaigner, admin)",
)
async def add_channel(
    session: SessionDep, user: Editor, recipient_id: str, data: ChannelCreate
) -> ChannelRead:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    channel = await service.add_channel(
        session, recipient=recipient, data=data, actor=user, today=utcnow().date()
    )
    return service.channel_read(channel)


@router.patch(
    "/recipients/{recipient_id}/channels/{channel_id}",
    summary="Verify or correct a channel (campaigner, admin)",
)
async def update_channel(
    session: SessionDep, user: Editor, recipient_id: str, channel_id: Id, changes: ChannelUpdate
) -> ChannelRead:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    channel = await service.update_channel(
        session,
        recipient=recipient,
        channel_id=channel_id,
        changes=changes,
        actor=user,
        today=utcnow().date(),
    )
    return service.channel_read(channel)


@router.delete(
    "/recipients/{recipient_id}/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a channel (campaigner, admin)",
)
async def remove_channel(
    session: SessionDep, user: Editor, recipient_id: str, channel_id: Id
) -> None:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    await service.remove_channel(session, recipient=recipient, channel_id=channel_id, actor=user)


@router.get("/directory/health", summary="Which offices can be reached, and what is stale")
async def get_directory_health(
    session: SessionDep,
    settings: SettingsDep,
    _user: CurrentStaff,
    max_age_days: Annotated[int | None, Query(ge=1, le=36500)] = None,
) -> DirectoryHealthRead:
    health = directory_health(
        await service.all_recipients(session),
        now=utcnow(),
        max_age_days=max_age_days or settings.holder_max_age_days,
    )
    return DirectoryHealthRead(
        checked_at=health.checked_at,
        holder_max_age_days=health.holder_max_age_days,
        reachable=health.reachable,
        counts={s.value: health.count(s) for s in OfficeStatus},
        offices=[OfficeHealthRead.model_validate(o) for o in health.offices],
    )
