"""The staff area's sign-in, sign-out and index pages, and the dependency that guards pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db import SessionDep
from app.errors import AppError, Forbidden, Unauthorized
from app.staff import service as staff_service
from app.staff import sessions
from app.staff.models import StaffUser
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)


class LoginRequired(AppError):
    status = 303
    kind = "LoginRequired"


@dataclass(frozen=True, slots=True)
class StaffContext:
    user: StaffUser
    session: sessions.StaffSession

    def page(self) -> dict[str, object]:
        """What every staff page template needs: the account and the CSRF token."""
        return {"staff": self.user, "csrf_token": self.session.csrf_token}


async def staff_page(request: Request, session: SessionDep) -> StaffContext:
    row = await sessions.find(session, key=request.cookies.get(sessions.SESSION_COOKIE))
    if row is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired("sign in first", location=f"/staff/login?next={quote(target)}")
    return StaffContext(row.user, row)


StaffPage = Annotated[StaffContext, Depends(staff_page)]


def _safe_next(value: str | None) -> str:
    # Only our own staff pages: never an open redirect.
    if value and value.startswith("/staff") and not value.startswith("//"):
        return value
    return "/staff"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "staff/login.html", {"next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    try:
        user = await staff_service.authenticate(session, token=token.strip())
    except Unauthorized:
        context = {"next": _safe_next(next), "error": "That token is not valid."}
        return render(request, "staff/login.html", context, status=401)
    key, _ = sessions.start(session, user=user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        key,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(
    staff: StaffPage, csrf_token: Annotated[str | None, Form(max_length=200)] = None
) -> Response:
    if not sessions.csrf_ok(staff.session, csrf_token):
        raise Forbidden("the form has expired; reload the page and try again")
    sessions.end(staff.session)
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response
