"""Small typed factories for test data."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.staff import service as staff_service
from app.staff.models import Role, StaffUser


async def make_staff(
    session: AsyncSession, role: Role = Role.campaigner, email: str | None = None
) -> tuple[StaffUser, str]:
    """A staff account and its API token, committed (as a savepoint) so requests see it."""
    user, token = await staff_service.create_user(
        session,
        email=email or f"{role.value}-{secrets.token_hex(3)}@staff.invalid",
        role=role,
        actor="test",
    )
    await session.commit()
    return user, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
