"""The staff cookies are Secure when the site is reached over HTTPS: declared, direct, or said
by X-Forwarded-Proto from a trusted proxy (and from no one else)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.staff import service as staff_service
from app.staff import sessions
from app.staff.models import Role
from app.staff.pages import LOGIN_CSRF_COOKIE
from tests.factories import make_staff
from tests.staff.signin import form_token

PASSWORD = "correct horse battery staple"
PROXY = "10.1.2.3"

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(
    database_url: str, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[MakeClient]:
    """A client of a fresh app with these settings, its requests coming from `peer`."""
    async with AsyncExitStack() as stack:

        async def make(
            *, peer: str = "127.0.0.1", base_url: str = "http://testserver", **settings: Any
        ) -> httpx.AsyncClient:
            app = create_app(
                Settings(database_url=database_url, var_dir=tmp_path / "var", **settings)
            )
            app.state.sessionmaker = sessionmaker
            transport = httpx.ASGITransport(app=app, client=(peer, 40000))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=base_url)
            )

        yield make


async def _account(session: AsyncSession) -> str:
    user, _ = await make_staff(session, Role.admin)
    await staff_service.set_password(session, user=user, password=PASSWORD, actor="test")
    await session.commit()
    return user.email


def _attributes(response: httpx.Response, name: str) -> set[str]:
    """The attribute names (lower case) of the Set-Cookie header that sets cookie `name`."""
    for header in response.headers.get_list("set-cookie"):
        cookie, *attributes = (part.strip() for part in header.split(";"))
        if cookie.split("=", 1)[0] == name:
            return {attribute.split("=", 1)[0].lower() for attribute in attributes}
    raise AssertionError(f"no Set-Cookie for {name}")


async def _sign_in(
    client: httpx.AsyncClient, email: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, httpx.Response]:
    """The sign-in page and the sign-in itself, both with `headers`."""
    page = await client.get("/staff/login", headers=headers)
    # Sent back by hand: the browser is on HTTPS even where the test's own hop is plain HTTP,
    # over which httpx (rightly) keeps a Secure cookie to itself.
    csrf = page.cookies[LOGIN_CSRF_COOKIE]
    signed_in = await client.post(
        "/staff/login",
        data={"login_csrf": form_token(page.text), "email": email, "password": PASSWORD},
        headers={**(headers or {}), "Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
    )
    assert signed_in.status_code == 303
    return page, signed_in


class TestSecureCookies:
    async def test_plain_http_without_a_proxy_sends_no_secure_cookie(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        page, signed_in = await _sign_in(await make_client(), await _account(session))
        assert "secure" not in _attributes(page, LOGIN_CSRF_COOKIE)
        attributes = _attributes(signed_in, sessions.SESSION_COOKIE)
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "secure" not in attributes

    async def test_a_site_declared_served_over_tls_sends_secure_cookies(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(served_over_tls=True)
        page, signed_in = await _sign_in(client, await _account(session))
        assert "secure" in _attributes(page, LOGIN_CSRF_COOKIE)
        assert {"secure", "httponly"} <= _attributes(signed_in, sessions.SESSION_COOKIE)

    async def test_a_request_over_https_itself_gets_secure_cookies(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(base_url="https://testserver")
        _, signed_in = await _sign_in(client, await _account(session))
        assert "secure" in _attributes(signed_in, sessions.SESSION_COOKIE)

    async def test_a_trusted_proxy_saying_https_makes_the_cookies_secure(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer=PROXY, trusted_proxies=["10.0.0.0/8"])
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        page, signed_in = await _sign_in(client, await _account(session), headers)
        assert "secure" in _attributes(page, LOGIN_CSRF_COOKIE)
        assert "secure" in _attributes(signed_in, sessions.SESSION_COOKIE)

    async def test_a_trusted_proxy_saying_http_leaves_the_cookies_plain(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer=PROXY, trusted_proxies=[PROXY])
        headers = {"X-Forwarded-Proto": "http"}
        _, signed_in = await _sign_in(client, await _account(session), headers)
        assert "secure" not in _attributes(signed_in, sessions.SESSION_COOKIE)

    async def test_x_forwarded_proto_from_a_peer_that_is_not_listed_is_ignored(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer="198.51.100.7", trusted_proxies=["10.0.0.0/8"])
        headers = {"X-Forwarded-Proto": "https"}
        page, signed_in = await _sign_in(client, await _account(session), headers)
        assert "secure" not in _attributes(page, LOGIN_CSRF_COOKIE)
        assert "secure" not in _attributes(signed_in, sessions.SESSION_COOKIE)

    async def test_with_no_proxies_listed_no_one_is_believed(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer=PROXY)
        _, signed_in = await _sign_in(
            client, await _account(session), {"X-Forwarded-Proto": "https"}
        )
        assert "secure" not in _attributes(signed_in, sessions.SESSION_COOKIE)


class TestForwardedClientAddress:
    async def test_the_session_records_the_client_a_trusted_proxy_forwarded(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer=PROXY, trusted_proxies=["10.0.0.0/8"])
        # A client-written entry first, then the proxies': the rightmost untrusted one counts.
        headers = {"X-Forwarded-For": "192.0.2.66, 203.0.113.9, 10.9.9.9"}
        await _sign_in(client, await _account(session), headers)
        recorded = await session.scalar(select(sessions.StaffSession.client_address))
        assert recorded == "203.0.113.9"

    async def test_an_untrusted_peer_is_recorded_whatever_it_forwards(
        self, make_client: MakeClient, session: AsyncSession
    ) -> None:
        client = await make_client(peer="198.51.100.7", trusted_proxies=[PROXY])
        await _sign_in(client, await _account(session), {"X-Forwarded-For": "203.0.113.9"})
        recorded = await session.scalar(select(sessions.StaffSession.client_address))
        assert recorded == "198.51.100.7"


class TestTrustedProxiesSetting:
    def test_addresses_and_networks_are_accepted(self) -> None:
        settings = Settings(trusted_proxies=["127.0.0.1", " 10.0.0.0/8", "fd00::/8"])
        assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]

    def test_a_typo_is_refused_at_start_up(self) -> None:
        with pytest.raises(ValidationError):
            Settings(trusted_proxies=["10.0.0.300"])
