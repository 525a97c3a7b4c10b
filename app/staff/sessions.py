"""Server-side staff sessions for the HTML staff area, with a CSRF token per session.

The browser holds only a random session id (HttpOnly, SameSite=Strict cookie, Secure when the
site is reached over HTTPS: `set_cookie` is its one writer); the database
holds its hash, the account, the CSRF token, when it was last used and when it must end. A
session ends on sign-out, after `idle` without a request, at its absolute expiry, or when the
account is disabled (`end_all`); an ended row stays as a record (when, why, from where).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload
from starlette.responses import Response

from app.db import Base, UTCDateTime, utcnow
from app.staff.models import StaffUser

SESSION_COOKIE = "appeals_staff"
# Writing last_seen_at on every request would make each page view a write; this is precise
# enough for an idle timeout measured in minutes.
_SEEN_RESOLUTION = timedelta(seconds=60)


class EndReason(StrEnum):
    logout = "logout"
    idle = "idle"
    expired = "expired"
    disabled = "disabled"
    password = "password"  # noqa: S105 - a reason, not a secret: the password was changed


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute timeout
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    client_address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[StaffUser] = relationship(lazy="raise")


def set_cookie(response: Response, key: str, *, max_age: int, secure: bool) -> None:
    """Hand the browser its session id. `secure` keeps it off plain HTTP once the site is
    served over HTTPS (app/staff/origin.py decides that, proxies included)."""
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(
    session: AsyncSession,
    *,
    user: StaffUser,
    timeouts: Timeouts,
    client_address: str | None = None,
    now: datetime | None = None,
) -> tuple[str, StaffSession]:
    """A new session for `user`; returns the cookie value (shown once) and the row."""
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    row = StaffSession(
        key_hash=_hash(key),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timeouts.absolute,
        client_address=client_address,
    )
    session.add(row)
    return key, row


async def find(
    session: AsyncSession, *, key: str | None, timeouts: Timeouts, now: datetime | None = None
) -> StaffSession | None:
    """The live session for a cookie value, with its (active) account loaded.

    A session found past its idle or absolute timeout is ended here, with the reason."""
    if not key:
        return None
    now = now or utcnow()
    row = await session.scalar(
        select(StaffSession)
        .options(selectinload(StaffSession.user))
        .where(StaffSession.key_hash == _hash(key), StaffSession.ended_at.is_(None))
    )
    if row is None:
        return None
    if not row.user.active:
        end(row, EndReason.disabled, now=now)
        return None
    if row.expires_at <= now:
        end(row, EndReason.expired, now=now)
        return None
    if row.last_seen_at + timeouts.idle <= now:
        end(row, EndReason.idle, now=now)
        return None
    if now - row.last_seen_at >= _SEEN_RESOLUTION:
        row.last_seen_at = now
    return row


def end(
    row: StaffSession, reason: EndReason = EndReason.logout, *, now: datetime | None = None
) -> None:
    row.ended_at = now or utcnow()
    row.ended_reason = reason.value


async def end_all(
    session: AsyncSession, *, user_id: int, reason: EndReason, keep: int | None = None
) -> int:
    """End every live session of an account (but `keep`); returns how many ended."""
    query = (
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason.value)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def csrf_ok(row: StaffSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(row.csrf_token, token)
