"""Staff accounts, their passwords and API tokens.

A token is 256 random bits shown once; we keep its SHA-256. A fast hash is right here (unlike
for passwords): the token cannot be guessed, so there is nothing for a slow hash to protect.
Passwords are argon2id (app.staff.passwords), verified off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound, Unauthorized
from app.staff import passwords, sessions
from app.staff.models import ApiToken, Role, StaffUser

TOKEN_PREFIX = "apl_"  # noqa: S105 - a public prefix that makes leaked tokens findable
_LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normalise_email(email: str) -> str:
    return email.strip().lower()


# An address as staff type it to sign in: a local part without spaces or brackets, and a domain of
# dotted labels. Internal domains (.invalid, .local, .lan) are fine here, so no list of public
# suffixes is consulted (email-validator refuses those special-use names).
_ADDRESS = re.compile(
    r"[^\s@\"<>()\[\],;:\\]{1,64}@(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def _checked_email(email: str) -> str:
    """An account's address, normalised; InvalidInput unless it looks like an address (staff
    sign in with it, and it names them in the audit log)."""
    normalised = _normalise_email(email)
    if not _ADDRESS.fullmatch(normalised):
        raise InvalidInput(
            f"not an e-mail address: {email.strip()[:80]!r} (expected name@domain.tld)"
        )
    return normalised


async def get_user(session: AsyncSession, *, email: str) -> StaffUser:
    user = await session.scalar(select(StaffUser).where(StaffUser.email == _normalise_email(email)))
    if user is None:
        raise NotFound(f"no staff account for {email!r}")
    return user


async def list_users(session: AsyncSession) -> Sequence[StaffUser]:
    rows = await session.scalars(
        select(StaffUser).options(selectinload(StaffUser.tokens)).order_by(StaffUser.email)
    )
    return rows.all()


def issue_token(session: AsyncSession, *, user: StaffUser, label: str | None = None) -> str:
    """Create a new API token for `user`; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=hash_token(token), prefix=token[:10], label=label))
    return token


async def create_user(
    session: AsyncSession, *, email: str, role: Role, actor: StaffUser | str
) -> tuple[StaffUser, str]:
    """Create a staff account with a first API token; returns the account and the token."""
    email = _checked_email(email)
    if await session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise Conflict(f"a staff account for {email!r} already exists")
    user = StaffUser(email=email, role=role, active=True)
    session.add(user)
    token = issue_token(session, user=user, label="created with the account")
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="staff.create",
        entity_type="staff_user",
        entity_id=str(user.id),
        after={"email": email, "role": role.value},
    )
    return user, token


async def revoke_tokens(session: AsyncSession, *, user: StaffUser, actor: StaffUser | str) -> int:
    """Revoke every live token of `user`; returns how many were revoked."""
    tokens = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    now = utcnow()
    count = 0
    for token in tokens:
        token.revoked_at = now
        count += 1
    audit.record(
        session,
        actor=actor,
        action="staff.revoke_tokens",
        entity_type="staff_user",
        entity_id=str(user.id),
        after={"revoked": count},
    )
    return count


async def set_active(
    session: AsyncSession, *, user: StaffUser, active: bool, actor: StaffUser | str
) -> None:
    before = {"active": user.active}
    user.active = active
    if not active:
        await sessions.end_all(session, user_id=user.id, reason=sessions.EndReason.disabled)
    audit.record(
        session,
        actor=actor,
        action="staff.update",
        entity_type="staff_user",
        entity_id=str(user.id),
        before=before,
        after={"active": active},
    )


async def authenticate(session: AsyncSession, *, token: str) -> StaffUser:
    """The active staff account a token belongs to, or `Unauthorized`."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("invalid or revoked API token")
    row = await session.scalar(
        select(ApiToken)
        .options(selectinload(ApiToken.user))
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        raise Unauthorized("invalid or revoked API token")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row.user


async def set_password(
    session: AsyncSession,
    *,
    user: StaffUser,
    password: str,
    actor: StaffUser | str,
    keep_session: int | None = None,
) -> None:
    """Set (or change) a password; every other session of the account ends."""
    user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user.password_changed_at = utcnow()
    await sessions.end_all(
        session, user_id=user.id, reason=sessions.EndReason.password, keep=keep_session
    )
    audit.record(
        session,
        actor=actor,
        action="staff.password",
        entity_type="staff_user",
        entity_id=str(user.id),
        after={"password_changed": True},
    )


async def authenticate_password(session: AsyncSession, *, email: str, password: str) -> StaffUser:
    """The active account with this e-mail and password, or `Unauthorized` (the same for all)."""
    user = await session.scalar(select(StaffUser).where(StaffUser.email == _normalise_email(email)))
    stored = user.password_hash if user is not None else None
    if not await asyncio.to_thread(passwords.verify, stored, password):
        raise Unauthorized("wrong e-mail address or password")
    if user is None or stored is None or not user.active:
        raise Unauthorized("wrong e-mail address or password")
    if passwords.needs_rehash(stored):
        user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user.last_login_at = utcnow()
    return user


class SelfLockout(Conflict):
    kind = "SelfLockout"


async def get_user_by_id(session: AsyncSession, *, user_id: int) -> StaffUser:
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff account {user_id}")
    return user


async def set_role(session: AsyncSession, *, user: StaffUser, role: Role, actor: StaffUser) -> None:
    """Change an account's role (audited); an admin cannot demote themselves, so the last
    admin can never lock everyone out of staff management."""
    if user.id == actor.id and role is not Role.admin:
        raise SelfLockout("you cannot take the admin role from your own account")
    before = {"role": user.role.value}
    user.role = role
    audit.record(
        session,
        actor=actor,
        action="staff.update",
        entity_type="staff_user",
        entity_id=str(user.id),
        before=before,
        after={"role": role.value},
    )
