"""Retry waits, giving up after days, and pausing the channel when our own settings are wrong."""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import SmtpTransport
from app.delivery.models import DeliveryStatus
from app.delivery.queue.retries import next_attempt
from app.delivery.worker import Worker
from app.staff.models import Role
from tests.delivery.test_worker import (
    Sink,
    _free_port,
    queued,
    smtp_settings,
    the_delivery,
    timeline,
)
from tests.factories import bearer, make_staff

__all__ = ["queued"]  # the fixture, imported for these tests

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DELAYS = [2, 10, 30, 60]


class TestNextAttempt:
    def test_waits_grow_then_the_last_one_repeats_stretched_by_at_most_a_fifth(self) -> None:
        rng = random.Random(7)
        for attempt, minutes in [(1, 2), (2, 10), (3, 30), (4, 60), (5, 60), (9, 60)]:
            when = next_attempt(
                attempt=attempt,
                failing_since=T0,
                now=T0,
                delays_minutes=DELAYS,
                give_up_days=3,
                rng=rng,
            )
            assert when is not None
            assert timedelta(minutes=minutes) <= when - T0 <= timedelta(minutes=minutes * 1.2)

    def test_gives_up_once_the_next_wait_would_pass_the_limit(self) -> None:
        rng = random.Random(7)
        late = T0 + timedelta(days=3) - timedelta(minutes=30)
        assert (
            next_attempt(
                attempt=8,
                failing_since=T0,
                now=late,
                delays_minutes=DELAYS,
                give_up_days=3,
                rng=rng,
            )
            is None
        )

    def test_no_waits_means_no_retry(self) -> None:
        assert (
            next_attempt(
                attempt=1,
                failing_since=T0,
                now=T0,
                delays_minutes=[],
                give_up_days=3,
                rng=random.Random(1),
            )
            is None
        )


class TestGivingUp:
    async def test_a_delivery_failing_for_days_fails_with_the_reason_kept(
        self,
        queued: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        config = smtp_settings(
            settings, _free_port(), retry_delays_minutes=[2, 30], retry_give_up_days=2
        )
        start = utcnow()
        first = Worker(sessionmaker, config, SmtpTransport(config), name="w", clock=lambda: start)
        await first.run_once()
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.queued
        assert delivery.retrying_since == start
        await first.transport.close()

        later = start + timedelta(days=2)
        second = Worker(sessionmaker, config, SmtpTransport(config), name="w", clock=lambda: later)
        await second.run_once()
        await second.transport.close()
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.failed
        events = await timeline(client, queued["token"], delivery.id)
        assert events[-1]["detail"].startswith("gave up after 2 attempts since")
        assert "Connect" in events[-1]["detail"] or "connect" in events[-1]["detail"]


class _Password:
    def __init__(self, password: str) -> None:
        self.password = password

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[int, Sink]]:
    sink, port = Sink(), _free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        auth_required=True,
        auth_require_tls=False,
        authenticator=_Password("right"),
    )
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
class TestChannelPause:
    async def test_a_refused_login_pauses_email_without_spending_the_letters_attempts(
        self,
        queued: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
        smtp_with_login: tuple[int, Sink],
    ) -> None:
        port, sink = smtp_with_login
        token = queued["token"]
        wrong = smtp_settings(settings, port, smtp_username="campaign", smtp_password="wrong")
        worker = Worker(sessionmaker, wrong, SmtpTransport(wrong), name="w")
        assert await worker.run_once() == 1
        await worker.transport.close()

        delivery = await the_delivery(session)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.queued, 0)
        events = await timeline(client, token, delivery.id)
        assert events[-1]["detail"].startswith("e-mail channel paused")
        assert events[-1]["code"] == 535
        [paused] = (await client.get("/api/v1/channels/pauses", headers=bearer(token))).json()
        assert paused["channel"] == "email"
        assert "login refused" in paused["reason"]

        # While paused, nothing is claimed, whatever the settings.
        right = smtp_settings(settings, port, smtp_username="campaign", smtp_password="right")
        fixed = Worker(sessionmaker, right, SmtpTransport(right), name="w")
        assert await fixed.run_once() == 0

        # Staff fix the password and resume: the letter goes, on its first counted attempt.
        resumed = await client.delete("/api/v1/channels/email/pause", headers=bearer(token))
        assert resumed.status_code == 204
        delivery.next_attempt_at = utcnow()
        await session.commit()
        assert await fixed.run_once() == 1
        await fixed.transport.close()
        delivery = await the_delivery(session)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.sent, 1)
        assert len(sink.messages) == 1
        _, admin = await make_staff(session, Role.admin)
        audit = await client.get("/api/v1/audit?entity_type=channel", headers=bearer(admin))
        assert audit.json()["items"][0]["action"] == "resume"

    async def test_resuming_a_channel_that_is_not_paused_is_a_404(
        self, client: httpx.AsyncClient, queued: dict[str, Any]
    ) -> None:
        response = await client.delete(
            "/api/v1/channels/email/pause", headers=bearer(queued["token"])
        )
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"

    async def test_an_untrusted_certificate_pauses_email_and_our_own_ca_lets_it_go(
        self,
        queued: dict[str, Any],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
        tmp_path: Path,
    ) -> None:
        """A server requiring STARTTLS, its certificate signed by the organisation's own CA:
        unknown to the system, it is refused before anything is sent (our settings, so the
        channel pauses); named in `tls_ca_file`, it is trusted."""
        ca = trustme.CA()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_tls)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        sink, port = Sink(), _free_port()
        controller = Controller(
            sink, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True
        )
        controller.start()
        token = queued["token"]
        try:
            untrusted = smtp_settings(settings, port, smtp_starttls=True)
            worker = Worker(sessionmaker, untrusted, SmtpTransport(untrusted), name="w")
            assert await worker.run_once() == 1
            await worker.transport.close()
            delivery = await the_delivery(session)
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.queued, 0)
            [paused] = (await client.get("/api/v1/channels/pauses", headers=bearer(token))).json()
            assert "certificate verify failed" in paused["reason"]
            assert sink.messages == []

            resumed = await client.delete("/api/v1/channels/email/pause", headers=bearer(token))
            assert resumed.status_code == 204
            delivery.next_attempt_at = utcnow()
            await session.commit()
            trusted = untrusted.model_copy(update={"tls_ca_file": tmp_path / "ca.pem"})
            worker = Worker(sessionmaker, trusted, SmtpTransport(trusted), name="w")
            assert await worker.run_once() == 1
            await worker.transport.close()
        finally:
            controller.stop()
        delivery = await the_delivery(session)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.sent, 1)
        assert len(sink.messages) == 1
