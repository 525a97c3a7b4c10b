"""The worker against a real SMTP server (aiosmtpd on 127.0.0.1) and the outbox transport."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import statement_connections, utcnow
from app.delivery.email import (
    OutboxTransport,
    SmtpTransport,
    delivery_token,
    legacy_delivery_token,
    parse_token,
)
from app.delivery.email.round import EmailRound
from app.delivery.email.transport import receipt_for
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.worker import Worker
from app.staff.models import Role
from tests.factories import bearer, make_staff


class Sink:
    """An SMTP handler that answers what the test tells it to and keeps what it accepted."""

    def __init__(self) -> None:
        self.reply = "250 OK"
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.reply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[int, Sink]]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


@pytest.fixture
async def queued(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """One letter to PACE, whose e-mail address staff have verified, queued for delivery."""
    _, token = await make_staff(session, Role.campaigner)
    office = (await client.get("/api/v1/recipients/pace-president")).json()
    email_channel = next(c for c in office["channels"] if c["kind"] == "email")
    verified = await client.patch(
        f"/api/v1/recipients/pace-president/channels/{email_channel['id']}",
        json={"address": "president@pace.example", "source": "test"},
        headers=bearer(token),
    )
    assert verified.status_code == 200
    campaign = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "mail-test",
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": ["pace-president"]},
            "template": "individual-appeal",
            "channel_preference": ["email"],
            # Always inside office hours, so these tests do not depend on the clock.
            "pacing": {
                "office_hours_start": 0,
                "office_hours_end": 24,
                "office_days": list(range(7)),
            },
        },
        headers=bearer(token),
    )
    assert campaign.status_code == 201
    letters = await client.post(
        "/api/v1/campaigns/mail-test/letters",
        json={"name": "Ada Lovelace", "city": "London"},
        headers=bearer(token),
    )
    [letter] = letters.json()["created"]
    return {"token": token, "letter": letter}


def smtp_settings(settings: Settings, port: int, **extra: Any) -> Settings:
    return settings.model_copy(
        update={"mail_transport": "smtp", "smtp_port": port, "smtp_timeout_seconds": 5, **extra}
    )


async def the_delivery(session: AsyncSession) -> Delivery:
    session.expire_all()
    delivery = await session.scalar(
        select(Delivery).where(Delivery.recipient_id == "pace-president")
    )
    assert delivery is not None
    return delivery


async def timeline(client: httpx.AsyncClient, token: str, delivery_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/deliveries/{delivery_id}", headers=bearer(token))
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["events"]
    return events


class TestSending:
    async def test_a_letter_is_queued_with_its_letter_and_sent_once(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        assert await worker.run_once() == 1
        assert await worker.run_once() == 0  # nothing twice
        await transport.close()

        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.sent
        [(mail_from, rcpt_tos, content)] = sink.messages
        token = delivery_token(delivery.id, config.token_secret)
        assert rcpt_tos == ["president@pace.example"]
        assert mail_from == f"bounce+{token}@{config.mail_domain}"  # VERP: bounces map back
        message = email.message_from_bytes(content, policy=default_policy)
        [sender] = message["From"].addresses
        assert sender.display_name == "Ada Lovelace via Free Maks Bokayev and Talgat Ayan"
        assert sender.addr_spec == f"campaign@{config.mail_domain}"  # never the supporter's
        assert message["Reply-To"] == f"reply+{token}@{config.mail_domain}"
        assert message["Subject"] == queued["letter"]["subject"]
        assert delivery.external_id == message["Message-ID"]
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content().replace("\r\n", "\n").strip() == queued["letter"]["body"].strip()
        assert parse_token(token, config.token_secret) == delivery.id
        events = await timeline(client, queued["token"], delivery.id)
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            (None, "queued"),
            ("queued", "sending"),
            ("sending", "sent"),
        ]
        # The lease event names the attempt being made, not the count before it.
        assert [e["attempt"] for e in events[1:]] == [1, 1]

    async def test_a_temporary_refusal_waits_for_the_next_attempt(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp
        sink.reply = "451 4.7.1 Greylisted, try again later"
        config = smtp_settings(settings, port)
        worker = Worker(sessionmaker, config, SmtpTransport(config), name="w1")
        before = utcnow()
        assert await worker.run_once() == 1
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.queued
        assert delivery.last_error_code == 451
        assert delivery.next_attempt_at >= before + timedelta(minutes=2)
        assert await worker.run_once() == 0  # not due yet: the loop does not spin on it
        await worker.transport.close()

    async def test_a_permanent_refusal_fails_with_the_code_shown(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp
        sink.reply = "550 5.1.1 No such user"
        config = smtp_settings(settings, port)
        worker = Worker(sessionmaker, config, SmtpTransport(config), name="w1")
        await worker.run_once()
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.failed
        assert delivery.last_error_code == 550
        assert "No such user" in (delivery.last_error or "")
        await worker.transport.close()

    async def test_no_server_is_a_temporary_failure_until_retries_run_out(
        self,
        queued: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        config = smtp_settings(settings, _free_port(), retry_delays_minutes=[])
        worker = Worker(sessionmaker, config, SmtpTransport(config), name="w1")
        await worker.run_once()
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.failed
        assert delivery.last_error_code is None
        events = await timeline(client, queued["token"], delivery.id)
        assert "gave up after 1 attempts" in events[-1]["detail"]
        await worker.transport.close()

    async def test_a_worker_killed_after_claiming_loses_nothing(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port, lease_seconds=10)
        crashed = EmailRound(sessionmaker, config, SmtpTransport(config), name="crashed")
        claimed = await crashed._claim(10)  # claims, then "dies" before sending or recording
        assert len(claimed) == 1
        survivor = Worker(sessionmaker, config, SmtpTransport(config), name="survivor")
        assert await survivor.run_once() == 0  # the lease still holds
        delivery = await the_delivery(session)
        delivery.lease_expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
        assert await survivor.run_once() == 1
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.sent
        assert delivery.attempts == 2
        assert len(sink.messages) == 1
        events = await timeline(client, queued["token"], delivery.id)
        assert any("outcome of attempt 1 is unknown" in (e["detail"] or "") for e in events)
        await survivor.transport.close()

    async def test_a_late_outcome_after_the_lease_was_lost_writes_nothing(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port, lease_seconds=10)
        stalled = EmailRound(sessionmaker, config, SmtpTransport(config), name="stalled")
        (late,) = await stalled._claim(10)  # then hangs past its lease
        delivery = await the_delivery(session)
        delivery.lease_expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
        survivor = EmailRound(sessionmaker, config, SmtpTransport(config), name="survivor")
        (taken,) = await survivor._claim(10)
        async with statement_connections(sessionmaker) as statement:
            late_receipt = receipt_for(b"late", code=250, answer="250 at last")
            await stalled._accepted(late, late_receipt, statement)  # attempt 1's, too late
        session.expire_all()
        delivery = await the_delivery(session)
        assert (delivery.status, delivery.lease_owner, delivery.attempts) == (
            DeliveryStatus.sending,
            "survivor",
            2,
        )
        async with statement_connections(sessionmaker) as statement:
            await survivor._accepted(
                taken, await survivor.transport.send(taken.outgoing), statement
            )
        session.expire_all()
        delivery = await the_delivery(session)
        assert (delivery.status, delivery.lease_owner) == (DeliveryStatus.sent, None)
        events = await timeline(client, queued["token"], delivery.id)
        sent = [e for e in events if e["to_status"] == "sent"]
        assert [(e["actor"], e["attempt"]) for e in sent] == [("survivor", 2)]
        assert len(sink.messages) == 1
        await survivor.transport.close()


class TestTestModeAndOutbox:
    async def test_test_mode_diverts_to_staff_and_the_outbox_writes_eml(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        tmp_path: Path,
    ) -> None:
        changed = await client.patch(
            "/api/v1/campaigns/mail-test",
            json={"test_mode": True, "test_address": "staff@ngo.example"},
            headers=bearer(queued["token"]),
        )
        assert changed.status_code == 200
        outbox = tmp_path / "outbox"
        worker = Worker(sessionmaker, settings, OutboxTransport(outbox), name="w1")
        assert await worker.run_once() == 1
        [path] = list(outbox.glob("*.eml"))
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert message["To"].addresses[0].addr_spec == "staff@ngo.example"
        assert message["Subject"].startswith("[TEST → president@pace.example]")
        assert not list(outbox.glob(".*.tmp"))


class TestTokens:
    def test_a_forged_token_maps_to_nothing(self) -> None:
        token = legacy_delivery_token(42, "secret")
        assert parse_token(token, "secret") == 42
        assert parse_token(token, "other secret") is None
        assert parse_token("43." + token.split(".")[1], "secret") is None
        assert parse_token("nonsense", "secret") is None


class TestPacing:
    async def test_an_office_gets_no_more_than_its_hourly_cap(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        tmp_path: Path,
    ) -> None:
        auth = bearer(queued["token"])
        pacing = {
            "per_office_per_hour": 2,
            "office_hours_start": 0,
            "office_hours_end": 24,
            "office_days": list(range(7)),
            "jitter_seconds": 0,
        }
        assert (
            await client.patch("/api/v1/campaigns/mail-test", json={"pacing": pacing}, headers=auth)
        ).status_code == 200
        for name in ("Béla Bartók", "Chiara Rossi", "Dana Novak"):
            created = await client.post(
                "/api/v1/campaigns/mail-test/letters", json={"name": name}, headers=auth
            )
            assert len(created.json()["created"]) == 1
        worker = Worker(sessionmaker, settings, OutboxTransport(tmp_path / "outbox"), name="w1")
        before = utcnow()
        assert await worker.run_once() == 2  # four letters wait, two may go this hour
        assert await worker.run_once() == 0
        session.expire_all()
        waiting = (
            await session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.queued))
        ).all()
        assert len(waiting) == 2
        assert all(d.next_attempt_at >= before + timedelta(minutes=30) for d in waiting)
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


class TestScheduleAndRetarget:
    async def test_the_schedule_shows_what_waits_for_each_office(
        self, queued: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        response = await client.get(
            "/api/v1/campaigns/mail-test/schedule", headers=bearer(queued["token"])
        )
        assert response.status_code == 200
        [office] = response.json()
        assert office["recipient_id"] == "pace-president"
        assert office["channel"] == "email"
        assert office["waiting"] == 1
        assert office["drains_by"] is not None

    async def test_a_changed_address_is_used_by_letters_still_waiting(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        tmp_path: Path,
    ) -> None:
        auth = bearer(queued["token"])
        office = (await client.get("/api/v1/recipients/pace-president")).json()
        channel = next(c for c in office["channels"] if c["kind"] == "email")
        await client.patch(
            f"/api/v1/recipients/pace-president/channels/{channel['id']}",
            json={"address": "secretariat@pace.example", "source": "the office wrote back"},
            headers=auth,
        )
        result = await client.post("/api/v1/recipients/pace-president/retarget", headers=auth)
        assert result.json() == {"retargeted": 1, "without_usable_channel": 0}
        outbox = tmp_path / "outbox"
        await Worker(sessionmaker, settings, OutboxTransport(outbox), name="w1").run_once()
        [path] = list(outbox.glob("*.eml"))
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert message["To"].addresses[0].addr_spec == "secretariat@pace.example"
        delivery = await the_delivery(session)
        events = await timeline(client, queued["token"], delivery.id)
        assert any(
            "re-targeted from 'president@pace.example'" in (e["detail"] or "") for e in events
        )
