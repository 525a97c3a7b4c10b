"""Signing staff in for page tests: through the sign-in form, or straight into a session row.

Most page tests need a signed-in browser, not the sign-in itself: `signed_in` starts a session
the way the sign-in route does and hands the client its cookie. `form_token` reads the CSRF
token a page carries, as a browser would.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff import sessions
from app.staff.models import Role, StaffUser
from tests.factories import make_staff

TIMEOUTS = sessions.Timeouts(idle=timedelta(minutes=60), absolute=timedelta(hours=12))
_TOKEN = re.compile(r'name="(?:csrf_token|login_csrf)" value="([^"]+)"')


def form_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


async def signed_in(
    client: httpx.AsyncClient, session: AsyncSession, role: Role = Role.campaigner
) -> tuple[StaffUser, sessions.StaffSession]:
    """A new account of `role`, signed in on `client` (its cookie set), and its session."""
    user, _ = await make_staff(session, role)
    key, row = sessions.start(session, user=user, timeouts=TIMEOUTS)
    await session.commit()
    client.cookies.set(sessions.SESSION_COOKIE, key)
    return user, row
