"""The same-origin check on staff forms: what a browser says about where a form came from, on
top of the CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import app.main
from app.config import Settings
from app.main import create_app
from app.staff import sessions
from app.staff.models import Role
from app.staff.origin import REFUSED
from tests.staff.signin import form_token, signed_in

CROSS_SITE = {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"}
ENGLISH = "This form was sent from another site, so it was refused."
RUSSIAN = "Эта форма отправлена с другого сайта, поэтому отклонена."


async def _logout(
    client: httpx.AsyncClient, row: sessions.StaffSession, headers: dict[str, str]
) -> httpx.Response:
    return await client.post("/staff/logout", data={"csrf_token": row.csrf_token}, headers=headers)


async def _still_signed_in(client: httpx.AsyncClient) -> bool:
    return (await client.get("/staff/account")).status_code == 200


class TestStaffForms:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
            {"Origin": "http://testserver"},
            {"Sec-Fetch-Site": "same-origin"},
            # Our Referrer-Policy (no-referrer) makes browsers send this on their own forms.
            {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        ],
    )
    async def test_a_form_from_our_own_pages_passes(
        self, client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
    ) -> None:
        _, row = await signed_in(client, session)
        response = await _logout(client, row, headers)
        assert response.status_code == 303
        assert not await _still_signed_in(client)

    async def test_a_request_without_either_header_passes_on_its_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(client, session)
        assert (await _logout(client, row, {})).status_code == 303
        assert not await _still_signed_in(client)

    @pytest.mark.parametrize(
        "headers",
        [
            CROSS_SITE,
            {"Origin": "https://attacker.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
            {"Origin": "http://testserver.attacker.example"},
            {"Origin": "https://testserver"},  # not how we are reached: plain HTTP, no proxy
        ],
    )
    async def test_a_form_another_site_sent_is_refused_even_with_the_right_token(
        self, client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
    ) -> None:
        _, row = await signed_in(client, session)
        response = await _logout(client, row, headers)
        assert response.status_code == 403
        assert ENGLISH in response.text and RUSSIAN in response.text
        assert await _still_signed_in(client)

    async def test_an_editing_form_is_refused_before_its_role_or_token_is_checked(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.organiser)
        response = await client.post("/staff/people", data={}, headers=CROSS_SITE)
        assert response.status_code == 403
        assert RUSSIAN in response.text


class TestSignIn:
    async def test_a_sign_in_from_another_site_is_refused(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/staff/login")
        response = await client.post(
            "/staff/login",
            data={"login_csrf": form_token(page.text), "email": "x@staff.invalid"},
            headers=CROSS_SITE,
        )
        assert response.status_code == 403
        assert ENGLISH in response.text
        assert sessions.SESSION_COOKIE not in response.cookies

    async def test_a_sign_in_from_our_own_page_reaches_the_password_check(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/staff/login")
        response = await client.post(
            "/staff/login",
            data={"login_csrf": form_token(page.text), "email": "x@staff.invalid"},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
        assert response.status_code == 401  # an unknown account, but not refused as foreign


class TestOurOrigin:
    @pytest.fixture
    async def proxied(
        self, database_url: str, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
    ) -> AsyncIterator[httpx.AsyncClient]:
        """Behind a trusted TLS proxy that rewrites Host, with the public address configured."""
        settings = Settings(
            database_url=database_url,
            var_dir=tmp_path / "var",
            public_url="https://appeals.example",
            trusted_proxies=["10.0.0.0/8"],
        )
        proxied_app = create_app(settings)
        proxied_app.state.sessionmaker = sessionmaker
        transport = httpx.ASGITransport(app=proxied_app, client=("10.0.0.2", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://backend:8000") as c:
            yield c

    async def test_the_public_address_is_our_own_origin(
        self, proxied: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(proxied, session)
        headers = {"Origin": "https://appeals.example", "Sec-Fetch-Site": "same-origin"}
        assert (await _logout(proxied, row, headers)).status_code == 303

    async def test_https_said_by_the_trusted_proxy_counts_for_the_host_origin(
        self, proxied: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(proxied, session)
        headers = {"Origin": "https://backend:8000", "X-Forwarded-Proto": "https"}
        assert (await _logout(proxied, row, headers)).status_code == 303

    async def test_another_origin_is_still_refused_there(
        self, proxied: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(proxied, session)
        headers = {"Origin": "https://appeals.example.attacker.example"}
        assert (await _logout(proxied, row, headers)).status_code == 403


def _example_path(path: str) -> str:
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    return re.sub(r"\{[^}]+\}", "x", path)


def _staff_form_routes() -> list[tuple[str, str]]:
    """(method, path) of every state-changing route under /staff of the routers app.main
    includes (each router's routes carry its prefix)."""
    found: set[tuple[str, str]] = set()
    for router in vars(app.main).values():
        if not isinstance(router, APIRouter):
            continue
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/staff"):
                found |= {
                    (m, route.path) for m in (route.methods or set()) - {"GET", "HEAD", "OPTIONS"}
                }
    return sorted(found)


class TestEveryStaffForm:
    async def test_every_state_changing_staff_route_refuses_a_cross_site_request(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.admin)
        routes = _staff_form_routes()
        assert len(routes) >= 10  # the check below would pass vacuously on none
        for method, path in routes:
            response = await client.request(method, _example_path(path), headers=CROSS_SITE)
            assert response.status_code == 403, (method, path)
            assert ENGLISH in response.text, (method, path)

    async def test_the_public_signing_form_is_not_checked(self, client: httpx.AsyncClient) -> None:
        # It is embedded on partners' sites by design and has its own form token.
        response = await client.post("/c/no-such-campaign", data={}, headers=CROSS_SITE)
        assert REFUSED not in response.text
        assert response.status_code != 403
