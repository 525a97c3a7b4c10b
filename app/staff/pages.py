"""The staff area's sign-in, sign-out and account pages (the guards are in guards.py).

The sign-in form carries its own CSRF token (a cookie and a field that must match) because
there is no session yet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from app.config import settings_of
from app.db import SessionDep, utcnow
from app.errors import InvalidInput, Unauthorized
from app.staff import service as staff_service
from app.staff import sessions
from app.staff.guards import StaffContext, StaffForm, StaffPage, timeouts
from app.staff.origin import check_same_origin, client_address, served_over_https
from app.staff.ratelimit import LoginLimits, login_limits
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)

LOGIN_CSRF_COOKIE = "appeals_login_csrf"
LimitsDep = Annotated[LoginLimits, Depends(login_limits)]


def _safe_next(value: str | None) -> str:
    # Only our own staff pages: never an open redirect.
    if value and value.startswith("/staff") and not value.startswith("//") and "\\" not in value:
        return value
    return "/staff"


def _login_page(
    request: Request, *, next: str | None, status: int = 200, **context: object
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "staff/login.html",
        {"next": _safe_next(next), "login_csrf": token, **context},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=served_over_https(request),
        path="/staff/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next=next)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    limits: LimitsDep,
    login_csrf: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    check_same_origin(request)  # a sign-in forced from another site (login CSRF) stops here
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not hmac.compare_digest(cookie, login_csrf):
        error = "The sign-in form had expired. Please try again."
        return _login_page(request, next=next, status=403, error=error, email=email)
    by_password = bool(email.strip())
    account = (
        "email:" + email.strip().lower()
        if by_password
        else "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]
    )
    address = client_address(request)
    await limits.attempt(address=address, account=account)
    try:
        if by_password:
            user = await staff_service.authenticate_password(
                session, email=email, password=password
            )
        else:
            user = await staff_service.authenticate(session, token=token.strip())
    except Unauthorized:
        limits.failed(address=address, account=account)
        error = "Wrong e-mail address or password." if by_password else "That token is not valid."
        return _login_page(request, next=next, status=401, error=error, email=email)
    settings = settings_of(request)
    key, _ = sessions.start(
        session,
        user=user,
        timeouts=timeouts(settings),
        client_address=address,
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.set_cookie(
        response,
        key,
        max_age=settings.staff_session_absolute_hours * 3600,
        secure=served_over_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
    return response


@router.post("/logout")
async def logout(staff: StaffForm) -> Response:
    sessions.end(staff.session, sessions.EndReason.logout)
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, session: SessionDep, staff: StaffPage) -> Response:
    return await _account_page(request, session, staff)


async def _account_page(
    request: Request,
    session: SessionDep,
    staff: StaffContext,
    *,
    status: int = 200,
    **extra: object,
) -> Response:
    live = await session.scalars(
        select(sessions.StaffSession)
        .where(
            sessions.StaffSession.user_id == staff.user.id,
            sessions.StaffSession.ended_at.is_(None),
            sessions.StaffSession.expires_at > utcnow(),
        )
        .order_by(sessions.StaffSession.created_at.desc())
    )
    context = {**staff.page(), "sessions": live.all(), "current": staff.session.id, **extra}
    return render(request, "staff/account.html", context, status=status)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    session: SessionDep,
    staff: StaffForm,
    limits: LimitsDep,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    repeat: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    account_key = "email:" + staff.user.email
    if staff.user.password_hash is not None:
        address = client_address(request)
        await limits.attempt(address=address, account=account_key)
        try:
            await staff_service.authenticate_password(
                session, email=staff.user.email, password=current
            )
        except Unauthorized:
            limits.failed(address=address, account=account_key)
            return await _account_page(
                request, session, staff, status=401, error="The current password is wrong."
            )
    if new != repeat:
        return await _account_page(
            request, session, staff, status=422, error="The two new passwords differ."
        )
    try:
        await staff_service.set_password(
            session, user=staff.user, password=new, actor=staff.user, keep_session=staff.session.id
        )
    except InvalidInput as exc:
        return await _account_page(request, session, staff, status=422, error=exc.detail)
    return await _account_page(
        request, session, staff, notice="Password changed; your other sessions have ended."
    )
