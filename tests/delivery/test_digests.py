"""Digest campaigns: one letter per office per period listing the co-signers, with the CSV."""

from __future__ import annotations

import csv
import email
import io
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns import service as campaigns_service
from app.config import Settings
from app.db import utcnow
from app.delivery.email import SmtpTransport
from app.delivery.models import Delivery, DeliveryStatus
from app.digests import service as digests
from app.digests.models import Cosigner
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.staff.models import Role
from app.templating.kit import LetterKit
from app.workers import build_worker
from tests.delivery.test_worker import Sink, smtp, smtp_settings
from tests.factories import bearer, make_staff

__all__ = ["smtp"]  # the fixture, imported for these tests

SIGNERS = [
    {"name": "Ada Lovelace", "city": "London", "country": "United Kingdom"},
    {"name": "Jean Dupont", "city": "Lyon", "country": "France", "message": "Libérez-les."},
    {"name": '=HYPERLINK("http://x")', "city": "Nowhere"},
]


@pytest.fixture
async def digest_campaign(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """A digest campaign to PACE (e-mail, verified in the test) and the UK (post)."""
    _, token = await make_staff(session, Role.campaigner)
    office = (await client.get("/api/v1/recipients/pace-president")).json()
    channel = next(c for c in office["channels"] if c["kind"] == "email")
    verified = await client.patch(
        f"/api/v1/recipients/pace-president/channels/{channel['id']}",
        json={"address": "president@pace.example", "source": "test"},
        headers=bearer(token),
    )
    assert verified.status_code == 200
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "digest-test",
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": ["pace-president", "uk-prime-minister"]},
            "template": "individual-appeal",
            "mode": "digest",
            "channel_preference": ["email", "postal"],
            "pacing": {
                "office_hours_start": 0,
                "office_hours_end": 24,
                "office_days": list(range(7)),
                "digest_period_hours": 24,
            },
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    opened = await client.patch(
        "/api/v1/campaigns/digest-test", json={"status": "open"}, headers=bearer(token)
    )
    assert opened.status_code == 200, opened.text
    return {"token": token}


async def _sign(client: httpx.AsyncClient, token: str, signer: dict[str, str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/campaigns/digest-test/cosigners", json=signer, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestCosigners:
    async def test_signing_twice_adds_one_cosigner(
        self, client: httpx.AsyncClient, digest_campaign: dict[str, Any]
    ) -> None:
        token = digest_campaign["token"]
        first = await _sign(client, token, SIGNERS[0])
        again = await _sign(client, token, SIGNERS[0])
        assert (first["added"], first["waiting"]) == (True, 1)
        assert (again["added"], again["waiting"]) == (False, 1)

    async def test_a_digest_campaign_refuses_individual_letters(
        self, client: httpx.AsyncClient, digest_campaign: dict[str, Any]
    ) -> None:
        response = await client.post(
            "/api/v1/campaigns/digest-test/letters",
            json={"name": "Ada Lovelace"},
            headers=bearer(digest_campaign["token"]),
        )
        assert response.status_code == 409
        assert "cosigners" in response.json()["detail"]

    async def test_a_withdrawn_cosigner_is_left_out_of_the_next_digest(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        digest_campaign: dict[str, Any],
    ) -> None:
        token = digest_campaign["token"]
        await _sign(client, token, SIGNERS[0])
        await _sign(client, token, SIGNERS[1])
        campaign = await client.get("/api/v1/campaigns/digest-test", headers=bearer(token))
        key = (
            await session.scalars(
                select(Cosigner.supporter_key).where(Cosigner.name == "Ada Lovelace")
            )
        ).one()
        await digests.withdraw_cosigner(
            session, campaign_id=campaign.json()["id"], supporter_key=key, erase=False
        )
        await session.commit()
        made = await client.post("/api/v1/campaigns/digest-test/digests", headers=bearer(token))
        assert made.status_code == 201
        assert made.json()["cosigners"] == 1


class TestMakingADigest:
    async def test_one_letter_per_office_lists_every_cosigner(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        digest_campaign: dict[str, Any],
    ) -> None:
        token = digest_campaign["token"]
        for signer in SIGNERS:
            await _sign(client, token, signer)
        made = await client.post("/api/v1/campaigns/digest-test/digests", headers=bearer(token))
        assert made.status_code == 201, made.text
        digest = made.json()
        assert (digest["cosigners"], digest["letters"]) == (3, 2)

        letters = (
            await session.scalars(select(Letter).where(Letter.digest_id == digest["id"]))
        ).all()
        assert sorted(x.recipient_id for x in letters) == ["pace-president", "uk-prime-minister"]
        for letter in letters:
            assert "Co-signed by 3 people:" in letter.body
            assert "- Ada Lovelace, London, United Kingdom" in letter.body
            assert "Jean Dupont (Lyon, France):\nLibérez-les." in letter.body
            assert letter.sender_name == "Appeals, on behalf of 3 co-signers"
        queued = (
            await session.scalars(
                select(Delivery).where(Delivery.letter_id.in_([x.id for x in letters]))
            )
        ).all()
        assert sorted((d.channel.value, d.status.value) for d in queued) == [
            ("email", "queued"),
            ("postal", "queued"),
        ]

        # Nobody waits any more: another digest now has nothing to say.
        again = await client.post("/api/v1/campaigns/digest-test/digests", headers=bearer(token))
        assert again.status_code == 404

    async def test_the_csv_lists_everyone_without_running_formulas(
        self, client: httpx.AsyncClient, digest_campaign: dict[str, Any]
    ) -> None:
        token = digest_campaign["token"]
        for signer in SIGNERS:
            await _sign(client, token, signer)
        digest = (
            await client.post("/api/v1/campaigns/digest-test/digests", headers=bearer(token))
        ).json()
        response = await client.get(f"/api/v1/digests/{digest['id']}.csv", headers=bearer(token))
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["name"] for r in rows] == [
            "Ada Lovelace",
            "Jean Dupont",
            '\'=HYPERLINK("http://x")',
        ]

    async def test_an_email_lists_the_first_cosigners_and_a_letter_by_post_lists_all(
        self, session: AsyncSession, client: httpx.AsyncClient, digest_campaign: dict[str, Any]
    ) -> None:
        campaign = (
            await client.get(
                "/api/v1/campaigns/digest-test", headers=bearer(digest_campaign["token"])
            )
        ).json()
        found = await campaigns_service.get_campaign(session, slug=campaign["slug"])
        count = digests.LISTED_IN_TEXT + 5
        for n in range(count):
            await digests.add_cosigner(
                session,
                campaign=found,
                sender=SenderIn(name=f"Signer {n:03d}"),
                supporter_key=f"key-{n}",
            )
        await session.commit()
        digest = (
            await client.post(
                "/api/v1/campaigns/digest-test/digests", headers=bearer(digest_campaign["token"])
            )
        ).json()
        letters = {
            x.channel.value: x
            for x in (
                await session.scalars(select(Letter).where(Letter.digest_id == digest["id"]))
            ).all()
        }
        assert "- Signer 199" in letters["email"].body
        assert "- Signer 200" not in letters["email"].body
        assert "…and 5 more: the full list of 205 co-signers is attached" in letters["email"].body
        assert "- Signer 204" in letters["postal"].body
        assert "more:" not in letters["postal"].body


class TestTheWorker:
    async def test_closes_a_due_period_and_mails_the_digest_with_its_csv(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        smtp: tuple[int, Sink],
        digest_campaign: dict[str, Any],
    ) -> None:
        port, sink = smtp
        for signer in SIGNERS[:2]:
            await _sign(client, digest_campaign["token"], signer)
        config = smtp_settings(settings, port)
        kit = LetterKit.from_settings(config)
        transport = SmtpTransport(config)
        early = build_worker(sessionmaker, config, transport, kit=kit, name="w")
        await early.run_once()
        assert sink.messages == []  # the period has not ended: nothing made, nothing sent

        later = utcnow() + timedelta(hours=25)
        worker = build_worker(
            sessionmaker, config, transport, kit=kit, name="w", clock=lambda: later
        )
        try:
            await worker.run_once()
        finally:
            await transport.close()
        [(_, rcpts, raw)] = sink.messages
        assert rcpts == ["president@pace.example"]
        message = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        assert str(message["From"]).startswith('"Appeals, on behalf of 2 co-signers via')
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "cosigners.csv"
        rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
        assert [(r["name"], r["city"], r["message"]) for r in rows] == [
            ("Ada Lovelace", "London", ""),
            ("Jean Dupont", "Lyon", "Libérez-les."),
        ]
        session.expire_all()
        postal = await session.scalar(
            select(Delivery).where(Delivery.recipient_id == "uk-prime-minister")
        )
        assert postal is not None and postal.status is DeliveryStatus.queued  # for a print batch
