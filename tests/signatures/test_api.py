"""POST /api/v1/campaigns/{slug}/signatures: validation, identity, consent, honeypot, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.letters.models import Letter
from app.signatures import consent, tokens
from app.signatures.models import Signature, SignatureStatus, SignatureToken, Supporter
from tests.factories import bearer
from tests.signatures.conftest import (
    SLUG,
    Outbox,
    count,
    make_client,
    open_campaign,
    sign,
    signature_body,
    the_signature,
)


class TestSign:
    async def test_a_signature_waits_for_confirmation_and_nothing_is_written_before(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        response = await sign(client)
        assert response.status_code == 202
        assert response.json()["status"] == "accepted"
        signature = await the_signature(session)
        assert signature.status is SignatureStatus.pending
        assert signature.source == "api"
        assert await count(session, Letter) == 0

    async def test_the_answer_is_the_same_for_a_new_and_a_known_address(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        first = await sign(client)
        again = await sign(client, email="  ADA@Example.ORG ", name="Someone Else")
        assert (first.status_code, first.json()) == (again.status_code, again.json())
        # One supporter, one signature: case and spacing do not make a new identity.
        assert await count(session, Supporter) == 1
        assert await count(session, Signature) == 1
        assert (await the_signature(session)).name == "Ada Lovelace"  # not overwritten

    async def test_the_identity_is_a_keyed_hash_of_the_normalised_address(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        await sign(client, email="Ada@Example.org")
        supporter = await session.scalar(select(Supporter))
        assert supporter is not None
        assert supporter.email_key == tokens.supporter_key(
            "ada@example.org", Settings().token_secret
        )
        assert supporter.email_key != tokens.supporter_key("ada@example.org", "another secret")
        assert tokens.normalise_email(" ＡＤＡ@example.org") == "ada@example.org"  # NFKC

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", "Ada\x1fLovelace"),
            ("name", "Ada\u202eecalevoL"),  # right-to-left override
            ("name", "Ada\u2066Lovelace\u2069"),  # isolates
            ("city", "London\r\nBcc: victim@example.org"),
            ("country", "United\nKingdom"),
            ("email", "ada@example.org\r\nBcc: victim@example.org"),
            ("message", "Hello\x1b[31m"),
            ("message", "Reads \u202dbackwards"),
            ("message", "x" * 1001),
            ("name", ""),
            ("email", "not an address"),
        ],
    )
    async def test_control_characters_line_breaks_and_bidi_overrides_are_refused(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        session: AsyncSession,
        field: str,
        value: str,
    ) -> None:
        response = await sign(client, **{field: value})
        assert response.status_code == 422
        assert field in {f["field"] for f in response.json()["fields"]}
        assert await count(session, Signature) == 0

    async def test_a_nul_is_refused_before_the_route_reads_the_body(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        response = await sign(client, name="Ada\x00Lovelace")
        assert response.status_code == 422
        assert response.json()["fields"] == [
            {"field": "body", "message": "must not contain NUL characters (U+0000)"}
        ]
        assert await count(session, Signature) == 0

    async def test_the_personal_paragraph_keeps_its_line_breaks(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        response = await sign(client, message="First line.\r\n\r\nSecond paragraph.")
        assert response.status_code == 202
        assert (await the_signature(session)).message == "First line.\n\nSecond paragraph."

    async def test_consent_must_be_given_to_the_current_statement(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        refused = await sign(client, consent=False)
        assert refused.status_code == 422
        assert "consent" in refused.json()["detail"]
        outdated = await sign(client, consent_version="2019-1")
        assert outdated.status_code == 422
        assert consent.CURRENT in outdated.json()["detail"]
        assert await count(session, Signature) == 0

    async def test_the_consent_record_keeps_the_exact_text_and_its_version(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        info = (await client.get(f"/api/v1/campaigns/{SLUG}/signing")).json()
        assert info["consent_version"] == consent.CURRENT
        assert info["accepting"] is True
        assert info["signatures"] == 0
        await sign(client)
        signature = await the_signature(session)
        assert signature.consent_version == info["consent_version"]
        assert signature.consent_text == info["consent_text"]
        assert signature.consented_at is not None
        assert signature.confirmed_at is None

    async def test_a_filled_honeypot_is_answered_like_anyone_and_stores_nothing(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        response = await sign(client, website="http://spam.example")
        assert response.status_code == 202
        assert await count(session, Signature) == 0

    async def test_a_form_token_sent_too_soon_is_refused(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        fresh = tokens.form_token(SLUG, settings.token_secret, issued_at=utcnow())
        response = await sign(client, form_token=fresh)
        assert response.status_code == 422
        assert "quick" in response.json()["detail"]
        forged = await sign(client, form_token="1700000000.0123456789abcdef0123456789abcdef")
        assert forged.status_code == 422
        assert await count(session, Signature) == 0

    async def test_names_that_mix_scripts_are_accepted_and_flagged_for_review(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], session: AsyncSession
    ) -> None:
        response = await sign(client, name="Маkhambet Abzhan")  # Cyrillic М in a Latin word
        assert response.status_code == 202
        signature = await the_signature(session)
        assert signature.needs_review is True
        assert "name" in (signature.review_note or "")
        await sign(client, name="Ерлан Калиев", email="erlan@example.org")  # one script: fine
        assert (await the_signature(session, "erlan@example.org")).needs_review is False

    async def test_only_open_campaigns_take_signatures(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        session: AsyncSession,
    ) -> None:
        assert (await sign(client, slug="no-such-campaign")).status_code == 404
        paused = await client.patch(
            f"/api/v1/campaigns/{SLUG}", json={"status": "paused"}, headers=bearer(staff_token)
        )
        assert paused.status_code == 200
        refused = await sign(client)
        assert refused.status_code == 409
        assert refused.json()["error"] == "NotAccepting"
        draft = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "draft",
                "title": "Draft",
                "cases": ["bokayev-ayan"],
                "targets": {"recipients": ["uk-prime-minister"]},
                "template": "individual-appeal",
            },
            headers=bearer(staff_token),
        )
        assert draft.status_code == 201
        assert (await sign(client, slug="draft")).status_code == 404
        assert (await client.get("/api/v1/campaigns/draft/signing")).status_code == 404
        assert await count(session, Signature) == 0


class TestRateLimits:
    async def test_per_client_address_with_retry_after(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        strict = settings.model_copy(update={"signing_rate_per_ip": "2/hour"})
        async with make_client(strict, sessionmaker) as client:
            assert (await sign(client)).status_code == 202
            assert (await sign(client, email="bob@example.org", name="")).status_code == 422
            refused = await sign(client, email="carol@example.org")
        assert refused.status_code == 429
        assert refused.json()["error"] == "TooManyRequests"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600

    @pytest.mark.parametrize(("trusted", "separate"), [(["127.0.0.1"], True), ([], False)])
    async def test_behind_a_trusted_proxy_each_supporter_counts_alone(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        trusted: list[str],
        separate: bool,
    ) -> None:
        # The test client's peer is 127.0.0.1: the proxy. Only when it is listed are the
        # addresses it forwards believed; otherwise every supporter is the proxy's one address.
        strict = settings.model_copy(
            update={"signing_rate_per_ip": "1/hour", "trusted_proxies": trusted}
        )
        async with make_client(strict, sessionmaker) as client:
            statuses = [
                (
                    await client.post(
                        f"/api/v1/campaigns/{SLUG}/signatures",
                        json=signature_body(email=f"s{n}@example.org"),
                        headers={"X-Forwarded-For": f"203.0.113.{n}"},
                    )
                ).status_code
                for n in (1, 2)
            ]
        assert statuses == ([202, 202] if separate else [202, 429])

    async def test_per_address_whatever_its_spelling(
        self,
        campaign: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        strict = settings.model_copy(update={"signing_rate_per_email": "1/day"})
        async with make_client(strict, sessionmaker) as client:
            assert (await sign(client)).status_code == 202
            refused = await sign(client, email="ADA@example.org")
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) > 3600
            assert (await sign(client, email="bob@example.org")).status_code == 202

    async def test_per_campaign(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await open_campaign(client, staff_token, slug="second")
        strict = settings.model_copy(update={"signing_rate_per_campaign": "1/minute"})
        async with make_client(strict, sessionmaker) as limited:
            assert (await sign(limited)).status_code == 202
            assert (await sign(limited, email="bob@example.org")).status_code == 429
            assert (await sign(limited, slug="second", email="bob@example.org")).status_code == 202


class TestTokensAreStoredHashed:
    async def test_only_the_sha256_of_a_link_token_is_stored(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client)
        [mail] = await outbox.round()
        token = mail.link("confirm").rsplit("/", 1)[1]
        assert len(token) >= 43  # 32 random bytes: 256 bits
        rows = (await session.scalars(select(SignatureToken))).all()
        assert tokens.hash_token(token) in {r.token_hash for r in rows}
        assert all(token not in r.token_hash for r in rows)
