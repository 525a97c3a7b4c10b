"""Test mode rehearses a mailing before the directory is ready; nothing reaches a bad address."""

from __future__ import annotations

import email
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.email import OutboxTransport
from app.delivery.models import DeliveryStatus
from app.delivery.worker import Worker
from app.staff.models import Role
from tests.delivery.test_worker import the_delivery, timeline
from tests.factories import bearer, make_staff

EVERY_HOUR = {"office_hours_start": 0, "office_hours_end": 24, "office_days": list(range(7))}


@pytest.fixture
async def rehearsal(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """A test-mode campaign to PACE, whose only e-mail address the report obfuscates."""
    _, token = await make_staff(session, Role.campaigner)
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "rehearsal",
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": ["pace-president"]},
            "template": "individual-appeal",
            "channel_preference": ["email"],
            "pacing": EVERY_HOUR,
            "test_mode": True,
            "test_address": "staff@example.org",
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    return {"token": token}


class TestRehearsal:
    async def test_an_unverified_office_is_reachable_only_in_test_mode(
        self, client: httpx.AsyncClient, rehearsal: dict[str, Any]
    ) -> None:
        headers = bearer(rehearsal["token"])
        targets = (await client.get("/api/v1/campaigns/rehearsal/targets", headers=headers)).json()
        assert [t["recipient_id"] for t in targets["reachable"]] == ["pace-president"]

        off = await client.patch(
            "/api/v1/campaigns/rehearsal", json={"test_mode": False}, headers=headers
        )
        assert off.status_code == 200
        targets = (await client.get("/api/v1/campaigns/rehearsal/targets", headers=headers)).json()
        assert targets["reachable"] == []
        assert "obfuscated" in targets["unreachable"][0]["reason"]

    async def test_the_rehearsal_letter_goes_to_the_test_address(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        rehearsal: dict[str, Any],
    ) -> None:
        letters = await client.post(
            "/api/v1/campaigns/rehearsal/letters",
            json={"name": "Ada Lovelace"},
            headers=bearer(rehearsal["token"]),
        )
        assert letters.status_code == 201, letters.text
        outbox = settings.var_dir / "outbox"
        await Worker(sessionmaker, settings, OutboxTransport(outbox), name="w").run_once()
        [eml] = outbox.glob("*.eml")
        message = email.message_from_bytes(eml.read_bytes(), policy=default_policy)
        assert message["To"].addresses[0].addr_spec == "staff@example.org"
        assert str(message["Subject"]).startswith("[TEST → ")
        assert (await the_delivery(session)).status is DeliveryStatus.sent

    async def test_a_rehearsal_letter_left_when_test_mode_ends_fails_and_sends_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        rehearsal: dict[str, Any],
    ) -> None:
        headers = bearer(rehearsal["token"])
        await client.post(
            "/api/v1/campaigns/rehearsal/letters", json={"name": "Ada"}, headers=headers
        )
        await client.patch(
            "/api/v1/campaigns/rehearsal", json={"test_mode": False}, headers=headers
        )
        outbox = settings.var_dir / "outbox"
        await Worker(sessionmaker, settings, OutboxTransport(outbox), name="w").run_once()
        assert list(outbox.glob("*.eml")) == []
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.failed
        events = await timeline(client, rehearsal["token"], delivery.id)
        assert "no usable e-mail address" in events[-1]["detail"]


class TestABadAddress:
    async def test_fails_alone_and_does_not_stop_the_queue(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        # The API accepts an internationalised local part; no relay without SMTPUTF8 would.
        addresses = {"pace-president": "jürgen@pace.example", "osce-pa-president": "p@osce.example"}
        for office, address in addresses.items():
            found = (await client.get(f"/api/v1/recipients/{office}")).json()
            channel = next(c for c in found["channels"] if c["kind"] == "email")
            verified = await client.patch(
                f"/api/v1/recipients/{office}/channels/{channel['id']}",
                json={"address": address, "source": "test"},
                headers=bearer(token),
            )
            assert verified.status_code == 200, verified.text
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "two-offices",
                "title": "Free Maks Bokayev and Talgat Ayan",
                "cases": ["bokayev-ayan"],
                "targets": {"recipients": list(addresses)},
                "template": "individual-appeal",
                "channel_preference": ["email"],
                "pacing": EVERY_HOUR,
            },
            headers=bearer(token),
        )
        assert created.status_code == 201, created.text
        letters = await client.post(
            "/api/v1/campaigns/two-offices/letters", json={"name": "Ada"}, headers=bearer(token)
        )
        assert len(letters.json()["created"]) == 2
        outbox = settings.var_dir / "outbox"
        worker = Worker(sessionmaker, settings, OutboxTransport(outbox), name="w")
        await worker.run_once()
        session.expire_all()
        deliveries = {
            d["recipient_id"]: d
            for d in (
                await client.get("/api/v1/campaigns/two-offices/deliveries", headers=bearer(token))
            ).json()
        }
        assert deliveries["osce-pa-president"]["status"] == "sent"
        assert deliveries["pace-president"]["status"] == "failed"
        assert "no usable e-mail address" in deliveries["pace-president"]["last_error"]
        assert len(list(outbox.glob("*.eml"))) == 1


class TestPausedCampaign:
    async def test_its_queued_letters_wait_until_it_resumes(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        rehearsal: dict[str, Any],
    ) -> None:
        headers = bearer(rehearsal["token"])
        await client.post(
            "/api/v1/campaigns/rehearsal/letters", json={"name": "Ada"}, headers=headers
        )
        for status in ("open", "paused"):
            moved = await client.patch(
                "/api/v1/campaigns/rehearsal", json={"status": status}, headers=headers
            )
            assert moved.status_code == 200, moved.text
        outbox = settings.var_dir / "outbox"
        worker = Worker(sessionmaker, settings, OutboxTransport(outbox), name="w")
        assert await worker.run_once() == 0
        assert (await the_delivery(session)).status is DeliveryStatus.queued

        resumed = await client.patch(
            "/api/v1/campaigns/rehearsal", json={"status": "open"}, headers=headers
        )
        assert resumed.status_code == 200
        assert await worker.run_once() == 1
        assert (await the_delivery(session)).status is DeliveryStatus.sent
        assert len(list(outbox.glob("*.eml"))) == 1
