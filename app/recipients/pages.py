"""Staff pages of the directory: the health report, one office, its edits and channel checks.

Everyone on staff reads the report; campaigners and admins correct an office (holder,
salutation, notes) and verify a channel (say how, and for e-mail give the real address), through
the same services as the API, so every change is audited the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.config import SettingsDep
from app.db import SessionDep, utcnow
from app.errors import AppError
from app.params import Id
from app.recipients import service
from app.recipients.health import OfficeStatus, directory_health, office_health
from app.recipients.models import Recipient
from app.recipients.schemas import ChannelUpdate, RecipientUpdate
from app.staff.guards import EditorForm, StaffContext, StaffPage
from app.web.pages import render

router = APIRouter(prefix="/staff/directory", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def health_report(
    request: Request, session: SessionDep, staff: StaffPage, settings: SettingsDep
) -> Response:
    report = directory_health(
        await service.all_recipients(session),
        now=utcnow(),
        max_age_days=settings.holder_max_age_days,
    )
    order = {OfficeStatus.unreachable: 0, OfficeStatus.warning: 1, OfficeStatus.ok: 2}
    context = {
        **staff.page(),
        "section": "directory",
        "report": report,
        "offices": sorted(report.offices, key=lambda o: (order[o.status], o.office)),
        "counts": {s.value: report.count(s) for s in OfficeStatus},
    }
    return render(request, "staff/directory.html", context)


async def _office_page(
    request: Request,
    staff: StaffContext,
    settings: SettingsDep,
    recipient: Recipient,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, object] = {
        **staff.page(),
        "section": "directory",
        "office": recipient,
        "health": office_health(
            recipient, today=utcnow().date(), max_age_days=settings.holder_max_age_days
        ),
    }
    if error:
        context["error"] = error
    if notice:
        context["notice"] = notice
    return render(request, "staff/office.html", context, status=status)


def _problem(exc: AppError | ValidationError) -> tuple[str, int]:
    if isinstance(exc, AppError):
        return exc.detail, exc.status
    return "; ".join(str(e["msg"]) for e in exc.errors()), 422


@router.get("/{recipient_id}", response_class=HTMLResponse)
async def office(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    settings: SettingsDep,
    recipient_id: str,
    saved: bool = False,
) -> Response:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    notice = "Saved." if saved else None
    return await _office_page(request, staff, settings, recipient, notice=notice)


@router.post("/{recipient_id}", response_class=HTMLResponse)
async def edit_office(
    request: Request,
    session: SessionDep,
    staff: EditorForm,
    settings: SettingsDep,
    recipient_id: str,
    holder: Annotated[str, Form(max_length=300)] = "",
    salutation: Annotated[str, Form(max_length=300)] = "",
    notes: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    wanted = {"holder": holder.strip() or None, "salutation": salutation.strip(), "notes": notes}
    current = {
        "holder": recipient.holder,
        "salutation": recipient.salutation,
        "notes": recipient.notes,
    }
    try:
        changes = RecipientUpdate.model_validate(
            {k: v for k, v in wanted.items() if v != current[k]}
        )
        await service.update_recipient(
            session, recipient=recipient, changes=changes, actor=staff.user, today=utcnow().date()
        )
    except (AppError, ValidationError) as exc:
        detail, status = _problem(exc)
        return await _office_page(request, staff, settings, recipient, error=detail, status=status)
    return RedirectResponse(f"/staff/directory/{recipient_id}?saved=1", status_code=303)


@router.post("/{recipient_id}/channels/{channel_id:int}/verify", response_class=HTMLResponse)
async def verify_channel(
    request: Request,
    session: SessionDep,
    staff: EditorForm,
    settings: SettingsDep,
    recipient_id: str,
    channel_id: Id,
    source: Annotated[str, Form(max_length=300)] = "",
    address: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    recipient = await service.get_recipient(session, recipient_id=recipient_id)
    if not source.strip():
        detail = "Say how you verified it (for example: phoned the office on 2026-11-20)."
        return await _office_page(request, staff, settings, recipient, error=detail, status=422)
    fields: dict[str, object] = {"source": source.strip(), "verified_on": utcnow().date()}
    if address.strip():
        fields["address"] = address.strip()
    try:
        await service.update_channel(
            session,
            recipient=recipient,
            channel_id=channel_id,
            changes=ChannelUpdate.model_validate(fields),
            actor=staff.user,
            today=utcnow().date(),
        )
    except (AppError, ValidationError) as exc:
        detail, status = _problem(exc)
        return await _office_page(request, staff, settings, recipient, error=detail, status=status)
    return RedirectResponse(f"/staff/directory/{recipient_id}?saved=1", status_code=303)
