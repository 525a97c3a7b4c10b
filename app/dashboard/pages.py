"""Staff pages of campaigns: the list, the dashboard, and launch / pause / resume / close.

A status change is two steps: a page that says what will happen (how many letters, to which
offices, through which channels, paced until when), then a POST with the CSRF token that calls
the same `update_campaign` as the API. The dashboard reads `figures.py`, as its JSON route does.
Both read every domain, which is why they live here, above them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.campaigns import service
from app.campaigns.models import MACHINE, Campaign, CampaignStatus
from app.campaigns.schemas import CampaignUpdate, Pacing
from app.dashboard import figures
from app.db import SessionDep, utcnow
from app.errors import AppError
from app.staff.guards import EditorForm, EditorPage, StaffPage
from app.templating.kit import KitDep
from app.web.charts import line_chart
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)

Action = Literal["launch", "pause", "resume", "close"]
# Which status each action leads to, and from which statuses it is offered.
ACTIONS: dict[str, tuple[CampaignStatus, frozenset[CampaignStatus]]] = {
    "launch": (CampaignStatus.open, frozenset({CampaignStatus.draft})),
    "pause": (CampaignStatus.paused, frozenset({CampaignStatus.open})),
    "resume": (CampaignStatus.open, frozenset({CampaignStatus.paused})),
    "close": (
        CampaignStatus.closed,
        frozenset({CampaignStatus.draft, CampaignStatus.open, CampaignStatus.paused}),
    ),
}


def actions_for(campaign: Campaign) -> list[str]:
    return [
        name
        for name, (to, sources) in ACTIONS.items()
        if campaign.status in sources and MACHINE.allows(campaign.status, to)
    ]


@router.get("", response_class=HTMLResponse)
async def index(request: Request, session: SessionDep, staff: StaffPage) -> Response:
    campaigns = await service.list_campaigns(session)
    context = {
        **staff.page(),
        "section": "campaigns",
        "campaigns": campaigns,
        "actions": {c.slug: actions_for(c) for c in campaigns},
    }
    return render(request, "staff/index.html", context)


@router.get("/campaigns/{slug}", response_class=HTMLResponse)
async def dashboard(
    request: Request, session: SessionDep, staff: StaffPage, slug: str, done: str | None = None
) -> Response:
    campaign = await service.get_campaign(session, slug=slug)
    board = await figures.dashboard(session, campaign=campaign, now=utcnow())
    days, series = board.timeline.days, board.timeline.series
    charts = {
        name: line_chart(days, {step: series[step] for step in steps})
        for name, steps in figures.CHARTS
    }
    context = {
        **staff.page(),
        "section": "campaigns",
        "campaign": campaign,
        "board": board,
        "charts": charts,
        "actions": actions_for(campaign),
        "done": done if done in ACTIONS else None,
        "pacing": Pacing.model_validate(campaign.pacing),
    }
    return render(request, "staff/dashboard.html", context)


@dataclass(frozen=True, slots=True)
class PlannedOffice:
    office: str
    recipient_id: str
    channel: str | None
    reason: str | None
    waiting: int
    drains_by: datetime | None


async def _plan(
    session: SessionDep, campaign: Campaign, kit: KitDep
) -> tuple[list[PlannedOffice], int, datetime | None]:
    """Each target office: its channel, the letters waiting for it, when they are paced out."""
    targets = await service.resolve_targets(session, campaign=campaign, library=kit.library)
    _, offices = await figures.funnel_and_offices(session, campaign=campaign, now=utcnow())
    by_id = {row.recipient_id: row for row in offices}
    planned = []
    for target in targets:
        row = by_id.get(target.recipient.id)
        planned.append(
            PlannedOffice(
                office=target.recipient.office,
                recipient_id=target.recipient.id,
                channel=target.channel.kind.value if target.channel else None,
                reason=target.reason,
                waiting=row.waiting if row else 0,
                drains_by=row.drains_by if row else None,
            )
        )
    waiting = sum(row.waiting for row in offices)
    ends = [row.drains_by for row in offices if row.drains_by is not None]
    return planned, waiting, max(ends, default=None)


async def _confirm_page(
    request: Request,
    session: SessionDep,
    staff: EditorPage | EditorForm,
    kit: KitDep,
    campaign: Campaign,
    action: Action,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    planned, waiting, paced_until = await _plan(session, campaign, kit)
    context: dict[str, object] = {
        **staff.page(),
        "section": "campaigns",
        "campaign": campaign,
        "action": action,
        "allowed": action in actions_for(campaign),
        "planned": planned,
        "reachable": [p for p in planned if p.channel],
        "unreachable": [p for p in planned if not p.channel],
        "channels": sorted({p.channel for p in planned if p.channel}),
        "waiting": waiting,
        "paced_until": paced_until,
        "pacing": Pacing.model_validate(campaign.pacing),
    }
    if error:
        context["error"] = error
    return render(request, "staff/confirm_status.html", context, status=status)


@router.get("/campaigns/{slug}/status/{action}", response_class=HTMLResponse)
async def confirm_status(
    request: Request, session: SessionDep, staff: EditorPage, kit: KitDep, slug: str, action: Action
) -> Response:
    campaign = await service.get_campaign(session, slug=slug)
    return await _confirm_page(request, session, staff, kit, campaign, action)


@router.post("/campaigns/{slug}/status/{action}", response_class=HTMLResponse)
async def change_status(
    request: Request,
    session: SessionDep,
    staff: EditorForm,
    kit: KitDep,
    slug: str,
    action: Action,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    campaign = await service.get_campaign(session, slug=slug)
    to, _ = ACTIONS[action]
    try:
        await service.update_campaign(
            session,
            campaign=campaign,
            changes=CampaignUpdate(status=to, status_note=note.strip() or f"{action} (staff page)"),
            actor=staff.user,
            library=kit.library,
        )
    except AppError as exc:
        # Refused before anything changed (a status-only update checks first): say why.
        return await _confirm_page(
            request, session, staff, kit, campaign, action, error=exc.detail, status=exc.status
        )
    return RedirectResponse(f"/staff/campaigns/{slug}?done={action}", status_code=303)
