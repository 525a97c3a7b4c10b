"""Sign-in rate limits: failures per account, attempts per client address; a polite 429 page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.staff import service as staff_service
from app.staff.models import Role
from tests.factories import make_staff
from tests.staff.signin import form_token

PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        staff_login_rate_per_account="3/hour",
        staff_login_rate_per_ip="6/hour",
    )


async def _account(session: AsyncSession) -> str:
    user, _ = await make_staff(session, Role.admin)
    await staff_service.set_password(session, user=user, password=PASSWORD, actor="test")
    await session.commit()
    return user.email


async def _try(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/staff/login")
    return await client.post(
        "/staff/login",
        data={"login_csrf": form_token(page.text), "email": email, "password": password},
    )


class TestLoginLimits:
    async def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for _ in range(3):
            assert (await _try(client, email, "guess guess guess")).status_code == 401
        refused = await _try(client, email, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Please wait a little" in refused.text
        assert "Too many sign-in attempts" in refused.text
        assert (await client.get("/staff")).status_code == 303  # not signed in

    async def test_one_address_is_limited_across_accounts(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for i in range(6):
            response = await _try(client, f"someone-{i}@staff.invalid", "guess guess guess")
            assert response.status_code == 401
        refused = await _try(client, email, PASSWORD)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers

    async def test_successes_do_not_count_against_the_account(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for _ in range(4):
            client.cookies.clear()
            assert (await _try(client, email, PASSWORD)).status_code == 303
