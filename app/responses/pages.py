"""Staff pages of the response log and the review inbox.

The log lists every reply, auto-reply and postal answer with filters (campaign, office, kind), a
CSV export of the same rows, and a page per response to classify it and keep notes. A form
records an answer that came by post. The review inbox lists inbound mail no delivery matched:
staff match a message to a delivery by its number, or ignore it; mail that could not be read is
listed with the reason instead of its text. Every form carries the session's CSRF token;
organisers, campaigners and admins may all do this (they read and record responses).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.campaigns import service as campaigns_service
from app.config import SettingsDep
from app.db import SessionDep
from app.delivery import service as delivery_service
from app.errors import AppError
from app.params import Id, QueryId
from app.recipients import service as recipients_service
from app.responses import records, service
from app.responses.limits import Unparseable
from app.responses.mime import readable_text
from app.responses.models import InboundStatus, ResponseKind, ResponseMedium
from app.responses.schemas import ResponseCreate, ResponseUpdate
from app.staff.guards import StaffContext, StaffForm, StaffPage
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)

PAGE_SIZE = 50
KIND_LABELS = {
    ResponseKind.unclassified: "Not classified yet",
    ResponseKind.acknowledgement: "Acknowledgement",
    ResponseKind.substantive: "Substantive answer",
    ResponseKind.refusal: "Refusal",
    ResponseKind.forwarded: "Forwarded",
    ResponseKind.auto_reply: "Auto-reply",
}


def _filters(campaign: str | None, office: str | None, kind: str | None) -> records.Filters:
    known = kind in {k.value for k in ResponseKind}
    return records.Filters(
        campaign=campaign or None,
        office=office or None,
        kind=ResponseKind(kind) if known and kind else None,
    )


Text = Annotated[str | None, Query(max_length=80)]


@router.get("/responses", response_class=HTMLResponse)
async def response_log(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    campaign: Text = None,
    office: Text = None,
    kind: Text = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    filters = _filters(campaign, office, kind)
    items, total = await records.list_responses(
        session, filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    query = {k: v for k, v in (("campaign", campaign), ("office", office), ("kind", kind)) if v}
    return render(
        request,
        "responses/log.html",
        {
            **staff.page(),
            "section": "responses",
            "items": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters,
            "query": urlencode(query),
            "kinds": KIND_LABELS,
            "campaigns": await campaigns_service.list_campaigns(session),
            "offices": await recipients_service.all_recipients(session),
            "bounces": await service.recent_bounces(
                session, campaign=filters.campaign, office=filters.office
            ),
            "unmatched": (
                await service.list_messages(
                    session, status=InboundStatus.unmatched, limit=1, offset=0
                )
            )[1],
        },
    )


@router.get("/responses.csv")
async def response_log_csv(
    session: SessionDep,
    _staff: StaffPage,
    campaign: Text = None,
    office: Text = None,
    kind: Text = None,
) -> Response:
    items, _ = await records.list_responses(
        session, filters=_filters(campaign, office, kind), limit=1_000_000, offset=0
    )
    return Response(
        records.csv_of(items),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="responses.csv"'},
    )


async def _detail_page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    response_id: Id,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    response = await records.get_response(session, response_id=response_id)
    context: dict[str, object] = {
        **staff.page(),
        "section": "responses",
        "response": await records.read(session, response),
        "kinds": KIND_LABELS,
    }
    if error:
        context["error"] = error
    return render(request, "responses/detail.html", context, status=status)


@router.get("/responses/{response_id:int}", response_class=HTMLResponse)
async def response_page(
    request: Request, session: SessionDep, staff: StaffPage, response_id: Id
) -> Response:
    return await _detail_page(request, session, staff, response_id)


@router.post("/responses/{response_id:int}", response_class=HTMLResponse)
async def classify(
    request: Request,
    session: SessionDep,
    staff: StaffForm,
    response_id: Id,
    kind: Annotated[ResponseKind, Form()],
    notes: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    response = await records.get_response(session, response_id=response_id)
    await records.update_response(
        session,
        response=response,
        changes=ResponseUpdate(kind=kind, notes=notes.replace("\r\n", "\n")),
        actor=staff.user,
    )
    return RedirectResponse(f"/staff/responses/{response_id}", status_code=303)


async def _new_page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    form: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, object] = {
        **staff.page(),
        "section": "responses",
        "form": form,
        "kinds": KIND_LABELS,
        "media": [m.value for m in ResponseMedium if m is not ResponseMedium.email],
        "campaigns": await campaigns_service.list_campaigns(session),
        "offices": await recipients_service.all_recipients(session),
    }
    if error:
        context["error"] = error
    return render(request, "responses/new.html", context, status=status)


@router.get("/responses/new", response_class=HTMLResponse)
async def new_response_form(
    request: Request, session: SessionDep, staff: StaffPage, letter: QueryId | None = None
) -> Response:
    form = {"received_on": date.today().isoformat(), "medium": "postal", "kind": "unclassified"}
    if letter is not None:
        form["letter_id"] = str(letter)
    return await _new_page(request, session, staff, form)


@router.post("/responses/new", response_class=HTMLResponse)
async def record_response(
    request: Request,
    session: SessionDep,
    staff: StaffForm,
    campaign: Annotated[str, Form(max_length=80)],
    office: Annotated[str, Form(max_length=80)],
    received_on: Annotated[str, Form(max_length=10)],
    medium: Annotated[str, Form(max_length=20)] = "postal",
    kind: Annotated[str, Form(max_length=20)] = "unclassified",
    letter_id: Annotated[str, Form(max_length=12)] = "",
    from_name: Annotated[str, Form(max_length=300)] = "",
    subject: Annotated[str, Form(max_length=300)] = "",
    text: Annotated[str, Form(max_length=20_000)] = "",
    notes: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    form = {
        "campaign": campaign,
        "office": office,
        "received_on": received_on,
        "medium": medium,
        "kind": kind,
        "letter_id": letter_id,
        "from_name": from_name,
        "subject": subject,
        "text": text,
        "notes": notes,
    }
    try:
        data = ResponseCreate(
            campaign=campaign,
            office=office,
            received_on=received_on,  # pydantic parses the date
            medium=medium,
            kind=kind,
            letter_id=int(letter_id) if letter_id.strip().isdigit() else None,
            from_name=from_name or None,
            subject=subject or None,
            text=text.replace("\r\n", "\n"),
            notes=notes.replace("\r\n", "\n"),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return await _new_page(request, session, staff, form, error=problems, status=422)
    try:
        response = await records.record_response(session, data=data, actor=staff.user)
    except AppError as exc:
        return await _new_page(request, session, staff, form, error=exc.detail, status=exc.status)
    return RedirectResponse(f"/staff/responses/{response.id}", status_code=303)


# --- the review inbox -----------------------------------------------------------------------


async def _inbox_page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    status: InboundStatus,
    *,
    error: str | None = None,
    code: int = 200,
) -> Response:
    messages, total = await service.list_messages(
        session, status=status, limit=100, offset=0, with_raw=True
    )
    texts: dict[int, str] = {}
    unreadable: dict[int, Unparseable] = {}
    for m in messages:
        text, problem = readable_text(m.raw)
        texts[m.id] = text[:1500]
        if problem is not None:
            unreadable[m.id] = problem
    context: dict[str, object] = {
        **staff.page(),
        "section": "responses",
        "messages": messages,
        "texts": texts,
        "unreadable": unreadable,
        "total": total,
        "status": status,
        "failed": (
            await service.list_messages(session, status=InboundStatus.failed, limit=1, offset=0)
        )[1],
    }
    if error:
        context["error"] = error
    return render(request, "responses/inbox.html", context, status=code)


@router.get("/inbound", response_class=HTMLResponse)
async def inbox(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    status: InboundStatus = InboundStatus.unmatched,
) -> Response:
    return await _inbox_page(request, session, staff, status)


@router.post("/inbound/{message_id:int}/match", response_class=HTMLResponse)
async def match(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffForm,
    message_id: Id,
    delivery_id: Annotated[int, Form(ge=1)],
) -> Response:
    message = await service.get_message(session, message_id=message_id)
    try:
        delivery = await delivery_service.get_delivery(session, delivery_id=delivery_id)
        outcome = await service.match_by_hand(
            session, message=message, delivery=delivery, actor=staff.user, settings=settings
        )
    except AppError as exc:
        return await _inbox_page(
            request, session, staff, InboundStatus.unmatched, error=exc.detail, code=exc.status
        )
    if outcome.response is not None:
        return RedirectResponse(f"/staff/responses/{outcome.response.id}", status_code=303)
    return RedirectResponse(f"/staff/deliveries/{delivery_id}", status_code=303)


@router.post("/inbound/{message_id:int}/ignore", response_class=HTMLResponse)
async def ignore(
    request: Request,
    session: SessionDep,
    staff: StaffForm,
    message_id: Id,
    ignored: Annotated[bool, Form()] = True,
) -> Response:
    message = await service.get_message(session, message_id=message_id)
    try:
        await service.set_ignored(session, message=message, ignored=ignored, actor=staff.user)
    except AppError as exc:
        return await _inbox_page(
            request, session, staff, InboundStatus.unmatched, error=exc.detail, code=exc.status
        )
    return RedirectResponse("/staff/inbound", status_code=303)
