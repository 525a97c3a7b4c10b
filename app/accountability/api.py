"""JSON routes of due dates: every delivered letter's answer clock, per campaign and per office.

Any staff role reads them. `as_of` (a day, default today in UTC) says on which day states are
worked out: what is overdue today, or what will be by next Friday.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.accountability import records
from app.accountability.schemas import CampaignDueDates, ClockRead, ClockState, OfficeDueDates
from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.params import Offset
from app.recipients import service as recipients_service
from app.schemas import ERROR_RESPONSES, Page
from app.staff.auth import CurrentStaff

router = APIRouter(prefix="/api/v1/due-dates", tags=["due dates"], responses=ERROR_RESPONSES)

AsOf = Annotated[
    date | None, Query(description="The day states are worked out for; today (UTC) if unset.")
]
Limit = Annotated[int, Query(ge=1, le=500)]
Slug = Annotated[str | None, Query(max_length=80, description="A campaign, by slug.")]
Office = Annotated[str | None, Query(max_length=80, description="An office, by id.")]


def _today(as_of: date | None) -> date:
    return as_of or utcnow().date()


async def _page(
    session: SessionDep,
    *,
    campaign: str | None,
    office: str | None,
    state: ClockState | None,
    as_of: date | None,
    limit: int,
    offset: int,
) -> Page[ClockRead]:
    campaign_id = None
    if campaign is not None:
        campaign_id = (await campaigns_service.get_campaign_ref(session, slug=campaign)).id
    if office is not None:
        await recipients_service.get_recipient(session, recipient_id=office)  # 404 if unknown
    filters = records.Filters(campaign_id=campaign_id, recipient_id=office, state=state)
    items, total = await records.list_clocks(
        session, today=_today(as_of), filters=filters, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("", summary="Answer clocks of delivered letters, overdue first")
async def list_clocks(
    session: SessionDep,
    _user: CurrentStaff,
    campaign: Slug = None,
    office: Office = None,
    state: ClockState | None = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ClockRead]:
    return await _page(
        session,
        campaign=campaign,
        office=office,
        state=state,
        as_of=as_of,
        limit=limit,
        offset=offset,
    )


@router.get("/overdue", summary="Letters past their due date without an answer")
async def overdue(
    session: SessionDep,
    _user: CurrentStaff,
    campaign: Slug = None,
    office: Office = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ClockRead]:
    return await _page(
        session,
        campaign=campaign,
        office=office,
        state=ClockState.overdue,
        as_of=as_of,
        limit=limit,
        offset=offset,
    )


@router.get("/campaigns/{slug}", summary="A campaign's due dates, per office")
async def campaign_due_dates(
    session: SessionDep, _user: CurrentStaff, slug: str, as_of: AsOf = None
) -> CampaignDueDates:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    return await records.campaign_summary(session, campaign=campaign, today=_today(as_of))


@router.get("/offices/{office_id}", summary="An office's due dates, per campaign")
async def office_due_dates(
    session: SessionDep, _user: CurrentStaff, office_id: str, as_of: AsOf = None
) -> OfficeDueDates:
    recipient = await recipients_service.get_recipient(session, recipient_id=office_id)
    return await records.office_summary(session, recipient=recipient, today=_today(as_of))
