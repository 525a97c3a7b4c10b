"""The guards every staff page uses: who is signed in, with which role, on which form.

A guard on anything that changes state first refuses a form another site sent
(app/staff/origin.py), then finds the session (or sends the browser to sign in), checks the
form's CSRF token, then the role: organisers read and record responses, campaigners
also edit and launch, admins manage staff and read the audit log. Every domain's pages take
one of the `StaffPage` ... `AdminForm` aliases below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from app.config import Settings, settings_of
from app.db import SessionDep
from app.errors import AppError, Forbidden
from app.staff import sessions
from app.staff.models import Role, StaffUser
from app.staff.origin import check_same_origin

EDITORS = (Role.admin, Role.campaigner)


class LoginRequired(AppError):
    status = 303
    kind = "LoginRequired"


@dataclass(frozen=True, slots=True)
class StaffContext:
    user: StaffUser
    session: sessions.StaffSession

    @property
    def can_edit(self) -> bool:
        return self.user.role in EDITORS

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.admin

    def page(self) -> dict[str, object]:
        """What every staff page template needs: the account, its rights and the CSRF token."""
        return {
            "staff": self.user,
            "csrf_token": self.session.csrf_token,
            "can_edit": self.can_edit,
            "is_admin": self.is_admin,
        }


def timeouts(settings: Settings) -> sessions.Timeouts:
    return sessions.Timeouts(
        idle=timedelta(minutes=settings.staff_session_idle_minutes),
        absolute=timedelta(hours=settings.staff_session_absolute_hours),
    )


async def _signed_in(request: Request, session: SessionDep) -> StaffContext:
    row = await sessions.find(
        session,
        key=request.cookies.get(sessions.SESSION_COOKIE),
        timeouts=timeouts(settings_of(request)),
    )
    if row is None:
        # An ended session is recorded as ended before the browser is sent away.
        await session.commit()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/staff"
        raise LoginRequired("sign in first", location=f"/staff/login?next={quote(target)}")
    return StaffContext(row.user, row)


def guard(*roles: Role, form: bool = False) -> Callable[..., Awaitable[StaffContext]]:
    """A dependency: a signed-in account with one of `roles` (any, if none); with `form`, the
    request's form must carry the session's CSRF token."""
    allowed = frozenset(roles or Role)

    async def check(request: Request, session: SessionDep) -> StaffContext:
        if form:
            # Before the session is looked at: a form another site sent gets nothing from us.
            check_same_origin(request)
        staff = await _signed_in(request, session)
        if form:
            token = (await request.form()).get("csrf_token")
            if not sessions.csrf_ok(staff.session, token if isinstance(token, str) else None):
                raise Forbidden("This form has expired. Go back, reload the page and try again.")
        if staff.user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(
                f"Your role ({staff.user.role.value}) may not do this; it needs {names}."
            )
        return staff

    return check


StaffPage = Annotated[StaffContext, Depends(guard())]
EditorPage = Annotated[StaffContext, Depends(guard(*EDITORS))]
AdminPage = Annotated[StaffContext, Depends(guard(Role.admin))]
StaffForm = Annotated[StaffContext, Depends(guard(form=True))]
EditorForm = Annotated[StaffContext, Depends(guard(*EDITORS, form=True))]
AdminForm = Annotated[StaffContext, Depends(guard(Role.admin, form=True))]
