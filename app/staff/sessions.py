"""Server-side staff sessions for the HTML staff area, with a CSRF token per session.

The browser holds only a random session id (HttpOnly, SameSite=Strict cookie); the database
holds its hash, the account, the CSRF token and the expiry. Staff sign in with their API token
(`appeals users create`); password sign-in can issue the same sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from app.db import Base, UTCDateTime, utcnow
from app.staff.models import StaffUser

SESSION_COOKIE = "appeals_staff"
SESSION_LIFETIME = timedelta(hours=12)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[StaffUser] = relationship(lazy="raise")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(session: AsyncSession, *, user: StaffUser) -> tuple[str, StaffSession]:
    """A new session for `user`; returns the cookie value (shown once) and the row."""
    key = secrets.token_urlsafe(32)
    row = StaffSession(
        key_hash=_hash(key),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    session.add(row)
    return key, row


async def find(session: AsyncSession, *, key: str | None) -> StaffSession | None:
    """The live session for a cookie value, with its (active) account loaded."""
    if not key:
        return None
    row = await session.scalar(
        select(StaffSession)
        .options(selectinload(StaffSession.user))
        .where(StaffSession.key_hash == _hash(key), StaffSession.ended_at.is_(None))
    )
    if row is None or row.expires_at <= utcnow() or not row.user.active:
        return None
    return row


def end(row: StaffSession) -> None:
    row.ended_at = utcnow()


def csrf_ok(row: StaffSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(row.csrf_token, token)
