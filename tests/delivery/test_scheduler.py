"""The worker as a scheduler: every round it is handed runs each pass, a failing round stops
none of the others, and a round asked to run at most so often waits its turn. Real rounds
against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import OutboxTransport, SmtpTransport
from app.delivery.models import DeliveryStatus
from app.delivery.worker import Scheduled, Worker
from app.signatures.mailer import run_mail_round
from tests.delivery.test_worker import Sink, queued, smtp, smtp_settings, the_delivery
from tests.signatures.conftest import campaign, sign, staff_token

__all__ = ["campaign", "queued", "smtp", "staff_token"]  # the fixtures these tests use


class Clock:
    """The worker's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


class TestAPass:
    async def test_runs_every_round_and_one_failing_stops_none_of_the_others(
        self,
        queued: dict[str, Any],
        campaign: dict[str, Any],
        client: httpx.AsyncClient,
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        await sign(client)  # a supporter's confirmation mail is due, and a letter (`queued`)
        transport = SmtpTransport(config)

        async def provider_down(now: datetime) -> int:
            raise ConnectionError("the print-and-mail provider is down")

        async def confirmation_mails(now: datetime) -> int:
            return await run_mail_round(sessionmaker, transport, config, now=now)

        worker = Worker(
            sessionmaker,
            config,
            transport,
            name="w",
            rounds=[
                Scheduled("post", provider_down),
                Scheduled("confirmation mails", confirmation_mails),
            ],
        )
        try:
            with caplog.at_level(logging.DEBUG, logger="app.delivery.worker"):
                assert await worker.run_once() == 2  # the mail and the letter
        finally:
            await transport.close()
        assert sorted(rcpts[0] for _, rcpts, _ in sink.messages) == [
            "ada@example.org",
            "president@pace.example",
        ]
        assert (await the_delivery(session)).status is DeliveryStatus.sent
        [failed] = [r for r in caplog.records if "a round failed" in r.getMessage()]
        assert "(post)" in failed.getMessage()
        assert "ConnectionError" in failed.getMessage()  # its kind, not its text
        assert "provider is down" not in failed.getMessage()
        # The traceback once, at DEBUG, for whoever debugs it.
        [traceback] = [r for r in caplog.records if r.exc_info is not None]
        assert traceback.levelno == logging.DEBUG

    async def test_a_round_asked_to_run_at_most_hourly_waits_its_turn(
        self,
        campaign: dict[str, Any],
        client: httpx.AsyncClient,
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        transport, clock = SmtpTransport(config), Clock()

        async def confirmation_mails(now: datetime) -> int:
            return await run_mail_round(sessionmaker, transport, config, now=now)

        hourly = Scheduled("confirmation mails", confirmation_mails, every=timedelta(hours=1))
        worker = Worker(sessionmaker, config, transport, name="w", clock=clock, rounds=[hourly])
        try:
            await sign(client)
            clock.now = utcnow()  # the mail is due
            assert await worker.run_once() == 1
            await sign(client, email="bea@example.org", name="Bea")
            clock.now += timedelta(minutes=59)
            assert await worker.run_once() == 0  # Bea's mail is due, the round is not
            clock.now += timedelta(minutes=2)
            assert await worker.run_once() == 1
        finally:
            await transport.close()
        assert [rcpts for _, rcpts, _ in sink.messages] == [
            ["ada@example.org"],
            ["bea@example.org"],
        ]


class TestAnOutage:
    """A round that keeps failing: one line when it starts, none while it repeats within a
    minute, one when it recovers; the worker waits longer between passes meanwhile."""

    async def test_is_logged_once_and_its_recovery_too(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
        tmp_path: Path,
    ) -> None:
        failing = [True]

        async def database_down(now: datetime) -> int:
            if failing[0]:
                raise ConnectionRefusedError("[Errno 111] Connect call failed ('10.0.0.9', 5432)")
            return 0

        worker = Worker(
            sessionmaker,
            settings,
            OutboxTransport(tmp_path / "outbox"),
            name="w",
            rounds=[Scheduled("digests", database_down)],
        )
        with caplog.at_level(logging.INFO, logger="app.delivery.worker"):
            for _ in range(5):
                await worker.run_once()
            assert worker._back_off(2.0) == 10.0  # five failures: the longest wait
            failing[0] = False
            await worker.run_once()
        lines = [r.getMessage() for r in caplog.records]
        assert [line for line in lines if "a round failed" in line] == [
            "worker w: a round failed (digests): ConnectionRefusedError; trying again with back-off"
        ]
        [recovered] = [line for line in lines if "recovered" in line]
        assert recovered.startswith("worker w: the digests round recovered after ")
        assert recovered.endswith("(5 failed attempts)")
        assert "10.0.0.9" not in "\n".join(lines)  # the error's text stays out of the log
        assert worker._back_off(2.0) == 2.0


class TestTheRoundLine:
    async def test_says_what_the_round_did_without_any_address(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w")
        sent = {"channel": "email", "outcome": "sent"}
        before = REGISTRY.get_sample_value("appeals_worker_sends_total", sent) or 0.0
        try:
            with caplog.at_level(logging.INFO, logger="app.delivery.email.round"):
                assert await worker.run_once() == 1
                assert await worker.run_once() == 0  # nothing due: no line
        finally:
            await transport.close()
        assert len(sink.messages) == 1
        lines = [r.getMessage() for r in caplog.records if "e-mail round" in r.getMessage()]
        assert lines == ["worker w: e-mail round: 1 claimed, 1 sent, 0 to retry, 0 failed"]
        assert "@" not in "\n".join(r.getMessage() for r in caplog.records)
        # The same outcome in the worker's metrics.
        assert REGISTRY.get_sample_value("appeals_worker_sends_total", sent) == before + 1
