"""The worker as a scheduler: every round it is handed runs each pass, a failing round stops
none of the others, and a round asked to run at most so often waits its turn. Real rounds
against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import SmtpTransport
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
            with caplog.at_level(logging.ERROR, logger="app.delivery.worker"):
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
        assert failed.exc_info is not None  # with its traceback, for whoever reads the log

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
