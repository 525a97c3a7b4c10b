"""Staff pages of the queue: a campaign's delivery log, one letter's page, and staff actions.

The log filters by status, channel, office and day, and pages through the results by cursor
(older, newer: a deep page costs what the first does); the same query
(app/delivery/records.py) feeds the CSV export here and in the API. A delivery's page shows
the letter on record and its event timeline, with the actions its state machine allows: retry,
cancel, close a manual task, or re-target the office's waiting letters to its current channels.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.db import SessionDep
from app.delivery import records, service
from app.delivery.api import ConsentDep
from app.delivery.models import MACHINES, Delivery, DeliveryStatus
from app.errors import AppError, InvalidInput
from app.letters import service as letters_service
from app.params import Id
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.spreadsheet import to_csv
from app.staff.guards import EditorForm, StaffContext, StaffPage
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)

PAGE_SIZE = 50
ACTION_LABELS = {
    DeliveryStatus.queued: "Retry",
    DeliveryStatus.cancelled: "Cancel",
    DeliveryStatus.done: "Mark done",
    DeliveryStatus.skipped: "Skip",
    DeliveryStatus.open: "Reopen",
    DeliveryStatus.posted: "Mark posted",
    DeliveryStatus.delivered: "Mark delivered",
    DeliveryStatus.returned: "Mark returned",
}


def staff_actions(delivery: Delivery, *, consent_withdrawn: bool) -> list[tuple[str, str]]:
    """(status, label) of what staff may do to this delivery now."""
    allowed = MACHINES[delivery.channel].allowed(delivery.status)
    if consent_withdrawn:
        allowed = allowed - service.SENDS_AGAIN
    return [(s.value, label) for s, label in ACTION_LABELS.items() if s in allowed]


def log_filter(
    status: str = "", channel: str = "", office: str = "", since: str = "", until: str = ""
) -> records.LogFilter:
    """The log's filters from a GET form, where "any" is an empty field."""
    try:
        return records.LogFilter(
            DeliveryStatus(status) if status else None,
            ChannelKind(channel) if channel else None,
            office or None,
            date.fromisoformat(since) if since else None,
            date.fromisoformat(until) if until else None,
        )
    except ValueError as exc:
        raise InvalidInput(f"a filter is not valid: {exc}") from exc


Text = Annotated[str, Query(max_length=80)]


def csv_response(rows: list[records.LogRow], name: str) -> Response:
    return Response(
        to_csv(records.CSV_HEADER, (records.csv_row(r) for r in rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def export_rows(
    session: SessionDep, campaign: Campaign, filters: records.LogFilter
) -> list[records.LogRow]:
    return await records.export(session, campaign=campaign, filters=filters)


def _cursor(text: str) -> records.Cursor | None:
    return records.Cursor.parse(text) if text else None


@router.get("/campaigns/{slug}/deliveries", response_class=HTMLResponse)
async def delivery_log(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    slug: str,
    status: Text = "",
    channel: Text = "",
    office: Text = "",
    since: Text = "",
    until: Text = "",
    before: Text = "",
    after: Text = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The log's newest page, or the one older than `before` or newer than `after` (the pager's
    cursors); `page` is what older links say (the newest pages, by number)."""
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    filters = log_filter(status, channel, office, since, until)
    found = await records.delivery_log(
        session,
        campaign=campaign,
        filters=filters,
        limit=PAGE_SIZE,
        before=_cursor(before),
        after=_cursor(after),
        offset=0 if before or after else (page - 1) * PAGE_SIZE,
    )
    given = {"status": status, "channel": channel, "office": office, "since": since}
    query = {k: v for k, v in {**given, "until": until}.items() if v}
    context = {
        **staff.page(),
        "section": "campaigns",
        "campaign": campaign,
        "rows": found.rows,
        "total": found.total,
        "more": found.more,
        "newer": urlencode({**query, "after": found.newer}) if found.newer else None,
        "older": urlencode({**query, "before": found.older}) if found.older else None,
        "newest": urlencode(query),
        "filters": query,
        "query": urlencode(query),
        "statuses": [s.value for s in DeliveryStatus],
        "channels": [c.value for c in ChannelKind],
        "offices": await records.offices_of(session, campaign=campaign),
    }
    return render(request, "staff/deliveries.html", context)


@router.get("/campaigns/{slug}/deliveries.csv")
async def delivery_csv(
    session: SessionDep,
    _staff: StaffPage,
    slug: str,
    status: Text = "",
    channel: Text = "",
    office: Text = "",
    since: Text = "",
    until: Text = "",
) -> Response:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    rows = await export_rows(session, campaign, log_filter(status, channel, office, since, until))
    return csv_response(rows, f"deliveries-{slug}.csv")


async def _delivery_page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    delivery: Delivery,
    consent: service.ConsentCheck,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    letter = await letters_service.get_letter(session, letter_id=delivery.letter_id)
    withdrawn = await consent(session, delivery.letter_id)
    context: dict[str, object] = {
        **staff.page(),
        "section": "campaigns",
        "delivery": delivery,
        "letter": letter,
        "campaign_slug": await _campaign_slug(session, letter.campaign_id),
        "office": await recipients_service.get_recipient(
            session, recipient_id=delivery.recipient_id
        ),
        "events": await service.events_of(session, delivery_id=delivery.id),
        "actions": staff_actions(delivery, consent_withdrawn=withdrawn is not None),
        "consent_withdrawn": withdrawn,
    }
    if error:
        context["error"] = error
    return render(request, "staff/delivery.html", context, status=status)


async def _campaign_slug(session: SessionDep, campaign_id: int) -> str:
    campaign = await session.get(Campaign, campaign_id)
    return campaign.slug if campaign else ""


@router.get("/deliveries/{delivery_id:int}", response_class=HTMLResponse)
async def delivery_page(
    request: Request, session: SessionDep, staff: StaffPage, consent: ConsentDep, delivery_id: Id
) -> Response:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    return await _delivery_page(request, session, staff, delivery, consent)


@router.post("/deliveries/{delivery_id:int}/action", response_class=HTMLResponse)
async def act(
    request: Request,
    session: SessionDep,
    staff: EditorForm,
    consent: ConsentDep,
    delivery_id: Id,
    to: Annotated[DeliveryStatus, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    delivery = await service.get_delivery(session, delivery_id=delivery_id)
    try:
        await service.act(
            session,
            delivery,
            to,
            actor=staff.user.email,
            note=note.strip() or None,
            consent=consent,
        )
    except AppError as exc:
        return await _delivery_page(
            request, session, staff, delivery, consent, error=exc.detail, status=exc.status
        )
    target = back if back.startswith("/staff/") and not back.startswith("//") else ""
    return RedirectResponse(target or f"/staff/deliveries/{delivery_id}", status_code=303)


@router.post("/offices/{recipient_id}/retarget", response_class=HTMLResponse)
async def retarget(
    session: SessionDep,
    staff: EditorForm,
    recipient_id: str,
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    recipient = await recipients_service.get_recipient(session, recipient_id=recipient_id)
    changed, stuck = await service.retarget(session, recipient=recipient, actor=staff.user.email)
    target = back if back.startswith("/staff/") and not back.startswith("//") else "/staff"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(
        f"{target}{separator}{urlencode({'retargeted': changed, 'stuck': stuck})}",
        status_code=303,
    )
