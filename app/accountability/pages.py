"""The staff page of a campaign's due dates: per office, its term and its letters, overdue first.

Staff pages are in English unless `?lang=` asks for another language (the browser's preference
is not followed there: tests/signatures/test_i18n.py); this one is translated, so `?lang=ru`
gives it in Russian. `as_of` shows the states on another day, as the API's does.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.accountability import records
from app.accountability.schemas import ClockRead
from app.campaigns import service as campaigns_service
from app.db import SessionDep, utcnow
from app.staff.guards import StaffPage
from app.web import i18n
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)
PER_OFFICE = 50  # letters listed per office; the API pages through all of them


def _language(request: Request) -> i18n.Language:
    asked = request.query_params.get("lang", "")
    return i18n.Language(asked, chosen=True) if asked in i18n.LANGUAGES else i18n.Language("en")


@router.get("/campaigns/{slug}/due-dates", response_class=HTMLResponse)
async def due_dates(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    slug: str,
    as_of: date | None = None,
) -> Response:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    today = as_of or utcnow().date()
    summary = await records.campaign_summary(session, campaign=campaign, today=today)
    letters: dict[str, tuple[list[ClockRead], int]] = {}
    for office in summary.offices:
        filters = records.Filters(campaign_id=campaign.id, recipient_id=office.office_id)
        letters[office.office_id] = await records.list_clocks(
            session, today=today, filters=filters, limit=PER_OFFICE, offset=0
        )
    context = {
        **staff.page(),
        "section": "campaigns",
        "campaign": campaign,
        "summary": summary,
        "letters": letters,
    }
    return render(request, "staff/due_dates.html", context, language=_language(request))
