"""Staff accounts as pages (admins only): who has access, with which role; create, change the
role, disable or enable. A new account's API token is shown once, to hand to its owner, who signs
in with it and sets a password on their account page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db import SessionDep
from app.params import Id
from app.staff import service
from app.staff.guards import AdminForm, AdminPage, StaffContext
from app.staff.models import Role
from app.web.pages import render

router = APIRouter(prefix="/staff/people", include_in_schema=False)


async def _page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    *,
    new_token: str | None = None,
    new_email: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        **staff.page(),
        "section": "people",
        "people": await service.list_users(session),
        "roles": list(Role),
        "new_token": new_token,
        "new_email": new_email,
    }
    return render(request, "staff/people.html", context, status=status)


@router.get("", response_class=HTMLResponse)
async def people(request: Request, session: SessionDep, staff: AdminPage) -> Response:
    return await _page(request, session, staff)


@router.post("", response_class=HTMLResponse)
async def create(
    request: Request,
    session: SessionDep,
    staff: AdminForm,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[Role, Form()],
) -> Response:
    user, token = await service.create_user(session, email=email, role=role, actor=staff.user)
    return await _page(request, session, staff, new_token=token, new_email=user.email, status=201)


@router.post("/{user_id:int}/role")
async def change_role(
    session: SessionDep, staff: AdminForm, user_id: Id, role: Annotated[Role, Form()]
) -> Response:
    user = await service.get_user_by_id(session, user_id=user_id)
    await service.set_role(session, user=user, role=role, actor=staff.user)
    return RedirectResponse("/staff/people", status_code=303)


@router.post("/{user_id:int}/active")
async def set_active(
    session: SessionDep, staff: AdminForm, user_id: Id, active: Annotated[bool, Form()]
) -> Response:
    user = await service.get_user_by_id(session, user_id=user_id)
    if user.id == staff.user.id and not active:
        raise service.SelfLockout("you cannot disable your own account")
    await service.set_active(session, user=user, active=active, actor=staff.user)
    return RedirectResponse("/staff/people", status_code=303)
