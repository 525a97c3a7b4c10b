"""The staff area's index: the campaigns, with links to their letter previews."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.campaigns import service
from app.db import SessionDep
from app.staff.pages import StaffPage
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def index(request: Request, session: SessionDep, staff: StaffPage) -> Response:
    campaigns = await service.list_campaigns(session)
    return render(request, "staff/index.html", {**staff.page(), "campaigns": campaigns})
