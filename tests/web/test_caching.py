"""HTTP caching of public pages and JSON: validators, 304s, what stays private, invalidation.

The in-process cache (app/web/caching.py) is part of every app these tests build; its clock is
swapped for one the test moves, so the freshness window is crossed without sleeping.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.signatures import form, tokens
from app.staff.models import Role
from app.web.caching import PUBLIC, ResponseCacheMiddleware
from tests.factories import bearer
from tests.signatures.conftest import (
    SLUG,
    Outbox,
    campaign,
    form_body,
    outbox,
    sign,
    staff_token,
)
from tests.staff.signin import signed_in

__all__ = ["campaign", "outbox", "staff_token"]  # fixtures used here

PUBLIC_PATHS = (
    "/",
    f"/c/{SLUG}",
    f"/c/{SLUG}?lang=ru",
    f"/c/{SLUG}?office=uk-prime-minister",
    f"/c/{SLUG}/embed",
    f"/c/{SLUG}/thanks",
    f"/c/{SLUG}/embed/thanks",
    "/api/v1/cases",
    "/api/v1/cases?q=Bokayev",
    "/api/v1/cases/bokayev-ayan",
    "/api/v1/recipients",
    "/api/v1/recipients/pace-president",
)
RELOAD = {"Cache-Control": "max-age=0"}  # what a browser's reload sends
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def the_cache(client: httpx.AsyncClient) -> ResponseCacheMiddleware:
    """The app's in-process cache, found in its middleware stack (built by a first request)."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    layer: Any = transport.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, ResponseCacheMiddleware):
        layer = layer.app
    return layer


@pytest.fixture
async def clock(client: httpx.AsyncClient, campaign: dict[str, Any]) -> Clock:
    assert (await client.get("/health")).status_code == 200
    moved = Clock()
    the_cache(client).clock = moved
    return moved


def form_token_of(page: httpx.Response) -> str:
    found = _TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


def count_line(page: httpx.Response) -> str:
    found = re.search(r'<p class="count">([^<]*)</p>', page.text)
    assert found
    return found.group(1)


async def confirm_one(client: httpx.AsyncClient, outbox: Outbox, **overrides: Any) -> None:
    assert (await sign(client, **overrides)).status_code == 202
    [mail] = await outbox.round()
    assert (await client.post(mail.link("confirm"))).status_code == 303


class TestValidators:
    async def test_every_public_route_has_an_etag_and_answers_304_to_it(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        for path in PUBLIC_PATHS:
            first = await client.get(path)
            assert first.status_code == 200, path
            etag = first.headers["ETag"]
            assert etag.startswith('W/"'), path
            assert first.headers["Cache-Control"] == PUBLIC, path
            again = await client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304, path
            assert again.content == b""
            assert again.headers["ETag"] == etag
            assert again.headers["Cache-Control"] == PUBLIC
            # The route's own answer, past the process's cache, agrees.
            checked = await client.get(path, headers={"If-None-Match": etag, **RELOAD})
            assert checked.status_code == 304, path
            other = await client.get(path, headers={"If-None-Match": 'W/"something-else"'})
            assert other.status_code == 200 and other.headers["ETag"] == etag

    async def test_pages_vary_by_language_and_json_does_not(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        assert (await client.get(f"/c/{SLUG}")).headers["Vary"] == "Accept-Language"
        assert (await client.get("/")).headers["Vary"] == "Accept-Language"
        assert "Vary" not in (await client.get("/api/v1/cases")).headers

    async def test_security_headers_stay_on_stored_answers(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        for _ in range(2):
            page = await client.get(f"/c/{SLUG}")
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
            embed = await client.get(f"/c/{SLUG}/embed")
            assert "X-Frame-Options" not in embed.headers
            api = await client.get("/api/v1/cases")
            assert api.headers["X-Content-Type-Options"] == "nosniff"


class TestPrivate:
    async def test_link_pages_staff_pages_and_errors_stay_no_store(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
        staff_token: str,
    ) -> None:
        assert (await sign(client)).status_code == 202
        [mail] = await outbox.round()
        confirm = await client.get(mail.link("confirm"))
        done = await client.post(mail.link("confirm"))
        status = await client.get(done.headers["location"])
        health = await client.get("/api/v1/directory/health", headers=bearer(staff_token))
        login = await client.get("/staff/login")
        missing = await client.get("/c/nowhere")
        await signed_in(client, session, Role.campaigner)
        account = await client.get("/staff/account")
        for response in (confirm, done, status, health, login, missing, account):
            assert response.headers["Cache-Control"] == "no-store", response.request.url
            assert "ETag" not in response.headers, response.request.url

    async def test_a_form_sent_back_with_errors_is_not_stored_nor_shown_to_others(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        await client.get(f"/c/{SLUG}")
        body = form_body(settings, name="Zebulon Quux", email="zebulon@example.org", city="")
        refused = await client.post(f"/c/{SLUG}", data=body)
        assert refused.status_code == 422 and "Zebulon Quux" in refused.text
        assert refused.headers["Cache-Control"] == "no-store"
        for headers in ({}, RELOAD):
            page = await client.get(f"/c/{SLUG}", headers=headers)
            assert "Zebulon" not in page.text and "zebulon@example.org" not in page.text

    async def test_the_page_after_a_confirmed_signature_names_no_supporter(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], outbox: Outbox
    ) -> None:
        await confirm_one(client, outbox, name="Ada Lovelace", email="ada@example.org")
        for path in (f"/c/{SLUG}", f"/c/{SLUG}/embed", "/"):
            page = await client.get(path, headers=RELOAD)
            assert "Ada Lovelace" not in page.text and "ada@example.org" not in page.text
        assert "1 person has signed." in (await client.get(f"/c/{SLUG}", headers=RELOAD)).text


class TestFormToken:
    async def test_each_served_copy_gets_a_token_issued_when_it_is_served(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        first = await client.get(f"/c/{SLUG}")
        later = utcnow() + timedelta(hours=1)
        monkeypatch.setattr(form, "utcnow", lambda: later)
        second = await client.get(f"/c/{SLUG}")  # the stored page, served again
        assert second.headers["ETag"] == first.headers["ETag"]
        one, two = form_token_of(first), form_token_of(second)
        assert form.TOKEN_SLOT not in first.text + second.text
        assert one != two
        assert int(two.split(".")[0]) == int(later.timestamp())

        def problem(token: str, at: timedelta) -> str | None:
            return tokens.check_form_token(
                token,
                SLUG,
                settings.token_secret,
                now=utcnow() + at,
                min_fill=timedelta(seconds=settings.signing_min_fill_seconds),
                max_age=timedelta(hours=settings.signing_form_max_age_hours),
            )

        assert problem(one, timedelta(minutes=1)) is None
        assert problem(two, timedelta(hours=1, minutes=1)) is None


class TestInvalidation:
    async def test_an_edit_through_this_process_shows_at_once_with_a_new_etag(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], staff_token: str
    ) -> None:
        before = await client.get(f"/c/{SLUG}")
        for change in ({"status": "paused"}, {"title": "Free Maks Bokayev now"}):
            edited = await client.patch(
                f"/api/v1/campaigns/{SLUG}", json=change, headers=bearer(staff_token)
            )
            assert edited.status_code == 200, edited.text
        after = await client.get(f"/c/{SLUG}", headers={"If-None-Match": before.headers["ETag"]})
        assert after.status_code == 200
        assert "Free Maks Bokayev now" in after.text
        assert after.headers["ETag"] != before.headers["ETag"]

    async def test_an_edit_by_another_process_shows_after_the_freshness_window(
        self, client: httpx.AsyncClient, clock: Clock, session: AsyncSession
    ) -> None:
        before = await client.get(f"/c/{SLUG}")
        await session.execute(
            update(Campaign).where(Campaign.slug == SLUG).values(title="Changed elsewhere")
        )
        await session.commit()
        clock.now += the_cache(client).fresh_seconds - 0.1
        assert (await client.get(f"/c/{SLUG}")).headers["ETag"] == before.headers["ETag"]
        clock.now += 0.1
        after = await client.get(f"/c/{SLUG}")
        assert "Changed elsewhere" in after.text
        assert after.headers["ETag"] != before.headers["ETag"]

    async def test_a_reload_sees_an_edit_at_once(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], staff_token: str
    ) -> None:
        before = await client.get(f"/c/{SLUG}/embed")
        await client.patch(
            f"/api/v1/campaigns/{SLUG}", json={"status": "paused"}, headers=bearer(staff_token)
        )
        after = await client.get(f"/c/{SLUG}/embed", headers=RELOAD)
        assert after.headers["ETag"] != before.headers["ETag"]
        assert "not collecting signatures" in after.text

    async def test_a_confirmed_signature_changes_the_count_and_the_etag(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], outbox: Outbox
    ) -> None:
        before = await client.get(f"/c/{SLUG}")
        index = await client.get("/")
        assert count_line(before) == "0 people have signed."
        assert (await sign(client)).status_code == 202  # pending: nothing shown changes
        pending = await client.get(f"/c/{SLUG}", headers={"If-None-Match": before.headers["ETag"]})
        assert pending.status_code == 304
        [mail] = await outbox.round()
        assert (await client.post(mail.link("confirm"))).status_code == 303
        after = await client.get(f"/c/{SLUG}")
        assert count_line(after) == "1 person has signed."
        assert after.headers["ETag"] != before.headers["ETag"]
        new_index = await client.get("/")
        assert "1 confirmed signature" in new_index.text
        assert new_index.headers["ETag"] != index.headers["ETag"]

    async def test_a_case_edit_changes_the_json_and_the_page(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], staff_token: str
    ) -> None:
        case = await client.get("/api/v1/cases/bokayev-ayan")
        cases = await client.get("/api/v1/cases")
        edited = await client.patch(
            "/api/v1/cases/bokayev-ayan",
            json={"title": "Maks Bokayev and Talgat Ayan (edited)"},
            headers=bearer(staff_token),
        )
        assert edited.status_code == 200
        for path, old in (("/api/v1/cases/bokayev-ayan", case), ("/api/v1/cases", cases)):
            new = await client.get(path, headers={"If-None-Match": old.headers["ETag"]})
            assert new.status_code == 200 and "(edited)" in new.text
        assert "(edited)" in (await client.get(f"/c/{SLUG}")).text


class TestCrowd:
    async def test_a_crowd_on_a_cold_page_causes_one_render(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        renders = 0
        real = form._case_context

        async def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
            nonlocal renders
            renders += 1
            return await real(*args, **kwargs)

        monkeypatch.setattr(form, "_case_context", counted)
        pages = await asyncio.gather(*(client.get(f"/c/{SLUG}") for _ in range(8)))
        assert [p.status_code for p in pages] == [200] * 8
        assert renders == 1
        assert len({p.headers["ETag"] for p in pages}) == 1


class TestLanguages:
    async def test_russian_and_english_visitors_each_get_their_own_page(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        for _ in range(2):
            ru = await client.get(f"/c/{SLUG}", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
            en = await client.get(f"/c/{SLUG}", headers={"Accept-Language": "en-GB,en;q=0.8"})
            plain = await client.get(f"/c/{SLUG}")
            assert '<html lang="ru">' in ru.text
            assert '<html lang="en">' in en.text and '<html lang="en">' in plain.text
            assert ru.headers["ETag"] != en.headers["ETag"]
            assert en.headers["ETag"] == plain.headers["ETag"]
            chosen = await client.get(f"/c/{SLUG}?lang=ru", headers={"Accept-Language": "en"})
            assert '<html lang="ru">' in chosen.text

    async def test_a_forged_host_does_not_reach_the_stored_page(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        forged = await client.get(f"/c/{SLUG}", headers={"Host": "evil.example"})
        assert forged.status_code == 200 and "evil.example" not in forged.text
        assert 'href="/static/style.css"' in (await client.get(f"/c/{SLUG}")).text
