"""The embeddable form: framable by partner sites (and only it), signing through the same checks."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.signatures.models import Signature
from tests.factories import bearer
from tests.signatures.conftest import (
    SLUG,
    count,
    form_body,
    make_client,
    open_campaign,
    the_signature,
)

EMBED = f"/c/{SLUG}/embed"


def frame_ancestors(response: httpx.Response) -> str:
    csp = response.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors")]
    return directive


def assert_framable_by(response: httpx.Response, sources: str) -> None:
    assert frame_ancestors(response) == f"frame-ancestors {sources}"
    assert "X-Frame-Options" not in response.headers
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def assert_not_framable(response: httpx.Response) -> None:
    assert frame_ancestors(response) == "frame-ancestors 'none'", response.request.url
    assert response.headers["X-Frame-Options"] == "DENY", response.request.url


class TestFraming:
    async def test_only_the_embed_pages_may_be_framed(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        for path in (EMBED, f"{EMBED}?lang=ru", f"{EMBED}/thanks"):
            assert_framable_by(await client.get(path), "*")
        others = (
            "/",
            f"/c/{SLUG}",
            f"/c/{SLUG}?lang=ru",
            f"/c/{SLUG}/thanks",
            "/c/nowhere/embed",  # an error page is not the form
            "/confirm/not-a-token",
            "/s/not-a-token",
            "/staff/login",
            f"/api/v1/campaigns/{SLUG}/embed",
            "/static/style.css",
        )
        for path in others:
            assert_not_framable(await client.get(path))

    async def test_the_allow_list_comes_from_the_settings(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        partners = "https://partner.example https://*.ngo.example"
        configured = settings.model_copy(update={"embed_frame_ancestors": partners})
        async with make_client(configured, sessionmaker) as client:
            assert_framable_by(await client.get(EMBED), partners)
            assert_not_framable(await client.get(f"/c/{SLUG}"))

    @pytest.mark.parametrize(
        "value", ["https://a.example; script-src *", "https://a.example,https://b.example", ""]
    )
    def test_a_setting_that_would_change_the_policy_is_refused(self, value: str) -> None:
        with pytest.raises(ValidationError):
            Settings(embed_frame_ancestors=value)


class TestEmbedPage:
    async def test_it_is_the_form_alone_posting_to_itself(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        page = await client.get(EMBED)
        html = page.text
        assert page.status_code == 200
        assert '<html lang="en">' in html
        assert f'action="{EMBED}#sign"' in html
        for hidden in ('name="form_token"', 'name="consent_version" value="2026-1"'):
            assert hidden in html
        assert 'name="website"' in html and 'aria-hidden="true"' in html  # the honeypot
        assert "I agree that" in html
        assert 'class="body"' not in html  # no letter preview, no case file
        assert f'href="/c/{SLUG}" target="_blank" rel="noopener"' in html
        assert "<script" not in html

    async def test_in_russian(self, client: httpx.AsyncClient, campaign: dict[str, Any]) -> None:
        page = await client.get(EMBED, headers={"Accept-Language": "ru"})
        assert '<html lang="ru">' in page.text
        assert "Подписать письмо" in page.text
        assert 'name="consent_version" value="2026-1.ru"' in page.text


class TestEmbedSigning:
    async def test_signing_answers_inside_the_frame(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        sent = await client.post(
            f"{EMBED}?lang=ru", data=form_body(settings, consent_version="2026-1.ru")
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"{EMBED}/thanks?lang=ru"
        thanks = await client.get(sent.headers["location"])
        assert "Проверьте почту" in thanks.text
        assert_framable_by(thanks, "*")
        signature = await the_signature(session)
        assert signature.source == "form"
        assert signature.consent_version == "2026-1.ru"

    async def test_mistakes_come_back_in_the_frame(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        page = await client.post(EMBED, data=form_body(settings, name="", consent=""))
        assert page.status_code == 422
        assert_framable_by(page, "*")
        assert 'id="name-error"' in page.text and 'id="consent-error"' in page.text
        assert 'value="ada@example.org"' in page.text
        assert await count(session, Signature) == 0

    async def test_the_honeypot_and_the_form_token_apply(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        bot = await client.post(EMBED, data=form_body(settings, website="http://spam.example"))
        assert bot.status_code == 303 and bot.headers["location"] == f"{EMBED}/thanks"
        fresh = (await client.get(EMBED)).text
        token = fresh.split('name="form_token" value="', 1)[1].split('"', 1)[0]
        quick = await client.post(EMBED, data=form_body(settings, form_token=token))
        assert quick.status_code == 422 and "That was very quick" in quick.text
        forged = await client.post(EMBED, data=form_body(settings, form_token="1.abc"))
        assert forged.status_code == 422 and "The form had expired" in forged.text
        assert await count(session, Signature) == 0

    async def test_the_rate_limits_apply_with_a_polite_page_in_the_frame(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        strict = settings.model_copy(update={"signing_rate_per_ip": "1/hour"})
        async with make_client(strict, sessionmaker) as client:
            assert (await client.post(EMBED, data=form_body(settings))).status_code == 303
            refused = await client.post(
                f"{EMBED}?lang=ru", data=form_body(settings, email="bob@example.org")
            )
            # The campaign page shares the limit: it is the same signing flow.
            page = await client.post(f"/c/{SLUG}", data=form_body(settings, email="c@example.org"))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "Подождите немного" in refused.text
        assert_framable_by(refused, "*")
        assert page.status_code == 429


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


class TestSnippet:
    async def test_the_iframe_tag_to_paste(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        answer = await client.get(f"/api/v1/campaigns/{SLUG}/embed")
        assert answer.status_code == 200
        body = answer.json()
        url = f"{settings.public_url}/c/{SLUG}/embed"
        assert body["url"] == url
        [(tag, attrs)] = parse(body["html"])
        assert tag == "iframe"
        assert body["html"].endswith("></iframe>")
        assert attrs["src"] == url
        assert attrs["title"] == f"Sign: {campaign['title']}"
        assert attrs["width"] == "100%" and attrs["loading"] == "lazy"
        assert attrs["referrerpolicy"] == "no-referrer"

    async def test_in_a_fixed_language(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        body = (await client.get(f"/api/v1/campaigns/{SLUG}/embed", params={"lang": "ru"})).json()
        [(_, attrs)] = parse(body["html"])
        assert attrs["src"] == f"{settings.public_url}/c/{SLUG}/embed?lang=ru"
        assert attrs["title"] == f"Подписать: {campaign['title']}"
        wrong = await client.get(f"/api/v1/campaigns/{SLUG}/embed", params={"lang": "xx"})
        assert wrong.status_code == 422

    async def test_a_title_cannot_break_out_of_the_tag(
        self, client: httpx.AsyncClient, staff_token: str
    ) -> None:
        await open_campaign(client, staff_token, slug="quotes", title='Free "Ayan" <now> & forever')
        body = (await client.get("/api/v1/campaigns/quotes/embed")).json()
        [(tag, attrs)] = parse(body["html"])
        assert tag == "iframe"
        assert attrs["title"] == 'Sign: Free "Ayan" <now> & forever'
        assert "&quot;Ayan&quot; &lt;now&gt; &amp;" in body["html"]

    async def test_a_draft_has_none(self, client: httpx.AsyncClient, staff_token: str) -> None:
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "a-draft",
                "title": "Not yet",
                "cases": ["bokayev-ayan"],
                "targets": {"recipients": ["uk-prime-minister"]},
                "template": "individual-appeal",
            },
            headers=bearer(staff_token),
        )
        assert created.status_code == 201
        assert (await client.get("/api/v1/campaigns/a-draft/embed")).status_code == 404
        assert (await client.get("/c/a-draft/embed")).status_code == 404
