"""Request authentication for staff routes: `Authorization: Bearer <token>` and role checks.

401 when the token is missing or wrong, 403 when the account's role may not do the thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.db import SessionDep
from app.errors import Forbidden, Unauthorized
from app.staff import service as staff_service
from app.staff.models import Role, StaffUser

_bearer = HTTPBearer(auto_error=False, description="A staff API token (`appeals users create`).")


async def current_staff(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("this route needs a staff API token: Authorization: Bearer <token>")
    return await staff_service.authenticate(session, token=credentials.credentials)


def require_roles(*roles: Role) -> Callable[..., Awaitable[StaffUser]]:
    allowed = frozenset(roles)

    async def check(user: Annotated[StaffUser, Depends(current_staff)]) -> StaffUser:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"the {user.role.value} role may not do this (needs: {names})")
        return user

    return check


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
Editor = Annotated[StaffUser, Depends(require_roles(Role.admin, Role.campaigner))]
Admin = Annotated[StaffUser, Depends(require_roles(Role.admin))]
