"""The public pages: campaign list, campaign page and form, security headers everywhere."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.letters.composing import letter_identity
from app.letters.schemas import SenderIn
from app.signatures import consent
from app.signatures.models import Signature
from tests.factories import bearer
from tests.signatures.conftest import SLUG, count, form_body, make_client, the_signature


async def post_form(client: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
    return await client.post(f"/c/{SLUG}", data=body)


class TestCampaignList:
    async def test_lists_open_campaigns_only(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], staff_token: str
    ) -> None:
        await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "secret-draft",
                "title": "A draft nobody should see",
                "cases": ["bokayev-ayan"],
                "targets": {"recipients": ["uk-prime-minister"]},
                "template": "individual-appeal",
            },
            headers=bearer(staff_token),
        )
        page = await client.get("/")
        assert page.status_code == 200
        assert f'href="/c/{SLUG}"' in page.text
        assert "0 confirmed signatures" in page.text
        assert "A draft nobody should see" not in page.text
        assert (await client.get("/c/secret-draft")).status_code == 404


class TestCampaignPage:
    async def test_shows_the_case_the_offices_a_letter_and_the_form(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        page = await client.get(f"/c/{SLUG}")
        assert page.status_code == 200
        html = page.text
        assert '<html lang="en">' in html
        assert "Maks Bokayev" in html and "Why it matters" in html
        assert "Article" in html  # the charges
        assert "President of the Parliamentary Assembly of the Council of Europe" in html
        assert "Prime Minister" in html
        assert 'class="body"' in html and "[your name]" in html  # the letter preview
        assert "0 people have signed." in html
        statement = consent.statement(
            consent.CURRENT,
            organisation=settings.organisation_name,
            days=settings.confirmation_expiry_days,
        )
        assert statement in html  # verbatim
        for field in ("name", "email", "city", "country", "message", "consent"):
            assert f'<label for="{field}"' in html
        assert "Officials pay most attention to personal words" in html
        assert "<script" not in html

    async def test_the_preview_follows_the_chosen_office(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        page = await client.get(f"/c/{SLUG}", params={"office": "uk-prime-minister"})
        assert '<option value="uk-prime-minister" selected>' in page.text


class TestForm:
    async def test_invalid_input_is_shown_next_to_each_field_and_typed_values_kept(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        body = form_body(
            settings,
            name="",
            email="not-an-address",
            city="Lon\u202edon",
            message="<b>bold</b> & words",
            consent="",
        )
        page = await post_form(client, body)
        assert page.status_code == 422
        html = page.text
        for field in ("name", "email", "city", "consent"):
            assert f'id="{field}-error"' in html
            assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html, re.S), field
            assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', html, re.S)
        assert 'id="country-error"' not in html
        assert 'value="not-an-address"' in html
        assert 'value="United Kingdom"' in html
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; words</textarea>" in html
        assert "Please fill this in." in html
        assert "valid e-mail address" in html
        assert "direction marks" in html
        assert "tick the box" in html
        assert await count(session, Signature) == 0

    async def test_success_says_check_your_inbox_for_new_and_known_addresses_alike(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        first = await post_form(client, form_body(settings))
        second = await post_form(client, form_body(settings, email="ADA@example.org"))
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"] == f"/c/{SLUG}/thanks"
        thanks = await client.get(first.headers["location"])
        assert "Check your inbox" in thanks.text
        assert await count(session, Signature) == 1
        assert (await the_signature(session)).source == "form"

    async def test_the_honeypot_looks_like_success_and_stores_nothing(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        page = await client.get(f"/c/{SLUG}")
        assert 'name="website"' in page.text and 'aria-hidden="true"' in page.text
        response = await post_form(client, form_body(settings, website="http://spam.example"))
        assert response.status_code == 303
        assert await count(session, Signature) == 0

    async def test_a_form_sent_back_at_once_or_tampered_with_is_not_taken(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        page = await client.get(f"/c/{SLUG}")
        found = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert found
        quick = await post_form(client, form_body(settings, form_token=found.group(1)))
        assert quick.status_code == 422
        assert "That was very quick" in quick.text
        assert f'value="{found.group(1)}"' in quick.text  # the fill time keeps counting
        forged = await post_form(client, form_body(settings, form_token="123.abc"))
        assert forged.status_code == 422
        assert "The form had expired" in forged.text
        assert 'value="Ada Lovelace"' in forged.text
        assert await count(session, Signature) == 0

    async def test_too_many_attempts_get_a_polite_page_with_retry_after(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        strict = settings.model_copy(update={"signing_rate_per_ip": "1/hour"})
        async with make_client(strict, sessionmaker) as client:
            assert (await post_form(client, form_body(settings))).status_code == 303
            refused = await post_form(client, form_body(settings, email="bob@example.org"))
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert int(refused.headers["Retry-After"]) > 0
        assert "Please wait a little" in refused.text


class TestSecurityHeaders:
    async def test_every_page_and_response_carries_them(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        for path in ("/", f"/c/{SLUG}", f"/c/{SLUG}/thanks", "/c/nowhere", "/staff/login"):
            response = await client.get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "unsafe-inline" not in csp, path
            assert "script-src" not in csp  # no script at all
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "Strict-Transport-Security" not in response.headers  # plain HTTP here
        api = await client.get(f"/api/v1/campaigns/{SLUG}/signing")
        assert api.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in api.headers

    async def test_hsts_when_served_over_tls(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        behind_tls = settings.model_copy(update={"served_over_tls": True})
        async with make_client(behind_tls, sessionmaker) as client:
            response = await client.get("/")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


class TestLetterIdentity:
    def test_a_supporter_key_replaces_name_and_place(self) -> None:
        campaign = Campaign(slug="c")
        ada = SenderIn(name="Ada", city="London")
        renamed = SenderIn(name="Ada Lovelace", city="Paris")
        assert letter_identity(campaign, "uk", None, ada) != letter_identity(
            campaign, "uk", None, renamed
        )
        keyed = letter_identity(campaign, "uk", None, ada, supporter_key="k1")
        assert keyed == letter_identity(campaign, "uk", None, renamed, supporter_key="k1")
        assert keyed != letter_identity(campaign, "uk", None, ada, supporter_key="k2")
        assert keyed != letter_identity(campaign, "uk", None, ada)
