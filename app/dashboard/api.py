"""JSON route of the campaign dashboard: the same figures as the staff page."""

from __future__ import annotations

from fastapi import APIRouter

from app.campaigns import service as campaigns_service
from app.dashboard import figures
from app.dashboard.schemas import DashboardRead
from app.db import SessionDep, utcnow
from app.schemas import ERROR_RESPONSES
from app.staff.auth import CurrentStaff

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.get(
    "/campaigns/{slug}/dashboard",
    summary="The funnel to responses, per-office status and last response, daily counts",
    tags=["delivery"],
)
async def get_dashboard(session: SessionDep, _user: CurrentStaff, slug: str) -> DashboardRead:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    board = await figures.dashboard(session, campaign=campaign, now=utcnow())
    return DashboardRead.model_validate(board)
