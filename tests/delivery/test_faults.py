"""SMTP servers that misbehave: the worker classifies each failure and the transport recovers.

A real aiosmtpd server on 127.0.0.1 drops the connection (right after RCPT, or after taking the
message's data without answering it), stalls on DATA past the client's timeout, or answers 421
(service closing) and closes. Each is a temporary failure: the delivery goes back to the queue
with a next attempt time and the error kept, the next message goes out on a new connection (a
broken or stuck one is never reused), and the letter is sent when its retry comes. A failure
during DATA is marked "outcome unknown" (the server may have the message). A send that would
outlive the worker's lease is given up on, and the letters left are handed back unsent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import Outgoing, SendError, SmtpTransport, build
from app.delivery.email.round import EmailRound
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.worker import Worker
from tests.delivery.helpers import serving
from tests.delivery.test_worker import Sink, smtp, smtp_settings, timeline
from tests.factories import bearer

__all__ = ["smtp"]  # the fixture, imported for these tests

Peer = tuple[str, int]
TIMEOUT_SECONDS = 1  # the client's SMTP timeout: a stall must end in a failure, not a hang
NO_HANG_SECONDS = 30  # a round that takes longer than this is a hung worker
CLOSING = "421 4.3.2 Service shutting down, closing transmission channel"
REFUSED = "550 5.7.1 Message refused"


class FaultySink(Sink):
    """A Sink that misbehaves on the next message when told to, noting each message's connection.

    An answer given after the connection is closed never reaches the client; it is a 250 so that
    a drop that did not really happen would show up as a letter sent.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fault: str | None = None  # for the next message only
        self.connections: list[Peer] = []  # the connection each message (MAIL FROM) came on
        self.accepted_on: list[Peer] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.connections.append(session.peer)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.fault == "drop after RCPT":
            self.fault = None
            server.transport.close()
            return "250 OK"
        if self.fault == "421 at RCPT":
            self.fault = None
            return _closing(server)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault, self.fault = self.fault, None
        if fault == "drop after DATA":
            server.transport.close()  # the data arrived; its answer never will
            return "250 OK"
        if fault == "stall on DATA":
            # Never answers; cancelled when the client gives up and closes the connection.
            await asyncio.sleep(3600)
        if fault == "421 at DATA":
            return _closing(server)
        if fault == "421 at DATA, left open":
            return CLOSING  # said, but not done yet: the client must not wait to be told twice
        if fault == "550 at DATA":
            return REFUSED
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.accepted_on.append(session.peer)
        return answer


def _closing(server: Any) -> str:
    """Answer 421 and then close the connection, as a server shutting down does (RFC 5321 3.8)."""
    asyncio.get_running_loop().call_soon(server.transport.close)  # after the answer is written
    return CLOSING


@pytest.fixture
def faulty_smtp() -> Iterator[tuple[int, FaultySink]]:
    sink = FaultySink()
    with serving(sink) as port:
        yield port, sink


async def _deliveries(session: AsyncSession) -> list[Delivery]:
    session.expire_all()
    return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def _second_letter(client: httpx.AsyncClient, token: str) -> None:
    created = await client.post(
        "/api/v1/campaigns/mail-test/letters",
        json={"name": "Béla Bartók", "city": "Budapest"},
        headers=bearer(token),
    )
    assert len(created.json()["created"]) == 1


FAULTS = {
    # fault: (the SMTP code kept, what the kept error says, whether the server may have the
    # message: the connection failed after it went out, so the retry may be a duplicate)
    "drop after RCPT": (None, "SMTPServerDisconnected", False),
    "drop after DATA": (None, "SMTPServerDisconnected", True),
    "stall on DATA": (None, "SMTPReadTimeoutError", True),
    "421 at RCPT": (421, "Service shutting down", False),
    "421 at DATA": (421, "Service shutting down", False),
    "421 at DATA, left open": (421, "Service shutting down", False),
}
UNKNOWN = "outcome unknown (the connection failed during DATA"


class TestRunOnceAgainstAFaultyServer:
    @pytest.mark.parametrize("fault", list(FAULTS))
    async def test_the_failure_is_temporary_and_the_next_message_gets_a_new_connection(
        self,
        fault: str,
        queued: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = faulty_smtp
        await _second_letter(client, queued["token"])
        config = smtp_settings(settings, port, smtp_timeout_seconds=TIMEOUT_SECONDS)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        sink.fault = fault
        before = utcnow()
        try:
            # Both letters in one round: the first meets the fault, the second must still go.
            tried = await asyncio.wait_for(worker.run_once(), timeout=NO_HANG_SECONDS)
            assert tried == 2
            failed, sent = await _deliveries(session)
            code, error, unknown = FAULTS[fault]
            assert failed.status is DeliveryStatus.queued  # temporary: it waits for a retry
            assert failed.attempts == 1
            assert failed.last_error_code == code
            assert error in (failed.last_error or "")
            assert failed.next_attempt_at > before
            assert failed.lease_owner is None
            assert sent.status is DeliveryStatus.sent
            first, second = sink.connections
            assert first != second  # the broken connection was not reused
            assert sink.accepted_on == [second]
            events = await timeline(client, queued["token"], failed.id)
            assert (events[-1]["from_status"], events[-1]["to_status"]) == ("sending", "queued")
            assert events[-1]["code"] == code
            assert "temporary failure; next attempt at" in events[-1]["detail"]
            assert error in events[-1]["detail"]
            assert (UNKNOWN in events[-1]["detail"]) is unknown

            assert await worker.run_once() == 0  # not due yet: the loop does not spin on it
            failed.next_attempt_at = utcnow()  # its retry time comes
            await session.commit()
            assert await worker.run_once() == 1
        finally:
            await transport.close()

        [retried, _] = await _deliveries(session)
        assert retried.status is DeliveryStatus.sent
        assert retried.attempts == 2
        assert retried.last_error is None
        assert sink.connections == [first, second, second]  # a healthy connection is reused
        assert len(sink.messages) == 2
        assert {rcpt for _, [rcpt], _ in sink.messages} == {"president@pace.example"}


class TestAFailureAfterAnUnknownOutcome:
    async def test_a_letter_refused_after_a_lost_answer_says_it_may_have_been_delivered(
        self,
        queued: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = faulty_smtp
        config = smtp_settings(settings, port, smtp_timeout_seconds=TIMEOUT_SECONDS)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        try:
            sink.fault = "drop after DATA"  # the server has the letter; its answer is lost
            assert await worker.run_once() == 1
            [delivery] = await _deliveries(session)
            delivery.next_attempt_at = utcnow()
            await session.commit()
            sink.fault = "550 at DATA"  # the resend is refused for good
            assert await worker.run_once() == 1
        finally:
            await transport.close()

        [failed] = await _deliveries(session)
        assert failed.status is DeliveryStatus.failed
        assert failed.last_error_code == 550
        maybe = "may have been delivered on the first attempt, whose outcome is unknown"
        assert maybe in (failed.last_error or "")
        events = await timeline(client, queued["token"], failed.id)
        assert (events[-1]["to_status"], events[-1]["attempt"]) == ("failed", 2)
        assert maybe in events[-1]["detail"]

    async def test_the_note_names_the_attempt_whose_lease_expired(
        self,
        queued: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = faulty_smtp
        config = smtp_settings(settings, port, smtp_timeout_seconds=TIMEOUT_SECONDS)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        try:
            sink.fault = "drop after RCPT"  # attempt 1: refused before the data, outcome known
            assert await worker.run_once() == 1
            [delivery] = await _deliveries(session)
            delivery.next_attempt_at = utcnow()
            await session.commit()
            crashed = EmailRound(sessionmaker, config, transport, name="crashed")
            assert len(await crashed._claim(10)) == 1  # attempt 2: taken, then the worker dies
            [delivery] = await _deliveries(session)
            delivery.lease_expires_at = utcnow() - timedelta(seconds=1)
            await session.commit()
            sink.fault = "550 at DATA"  # attempt 3 is refused for good
            assert await worker.run_once() == 1
        finally:
            await transport.close()

        [failed] = await _deliveries(session)
        assert (failed.status, failed.attempts) == (DeliveryStatus.failed, 3)
        assert "may have been delivered on attempt 2, whose outcome is unknown" in (
            failed.last_error or ""
        )

    async def test_a_plain_refusal_says_nothing_of_the_kind(
        self,
        queued: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = faulty_smtp
        config = smtp_settings(settings, port, smtp_timeout_seconds=TIMEOUT_SECONDS)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        try:
            sink.fault = "550 at DATA"
            assert await worker.run_once() == 1
        finally:
            await transport.close()
        [failed] = await _deliveries(session)
        assert failed.status is DeliveryStatus.failed
        assert "may have been delivered" not in (failed.last_error or "")


class TestASendNeverOutlivesItsLease:
    async def test_a_stalled_server_is_given_up_on_before_the_lease_ends_and_the_rest_handed_back(
        self,
        queued: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        """Were the worker still waiting on the server after its lease ended, another worker
        could take the letter and send it as well. A 2-second lease (below what settings allow,
        to keep the test short) and a 30-second SMTP timeout: the lease decides."""
        port, sink = faulty_smtp
        await _second_letter(client, queued["token"])
        config = smtp_settings(settings, port, smtp_timeout_seconds=30, lease_seconds=2)
        transport = SmtpTransport(config)
        worker = Worker(sessionmaker, config, transport, name="w1")
        sink.fault = "stall on DATA"
        try:
            assert await asyncio.wait_for(worker.run_once(), timeout=NO_HANG_SECONDS) == 2
        finally:
            await transport.close()
        stalled, handed_back = await _deliveries(session)
        assert (stalled.status, stalled.attempts, stalled.lease_owner) == (
            DeliveryStatus.queued,
            1,
            None,
        )
        assert "s left of the worker's lease" in (stalled.last_error or "")
        events = await timeline(client, queued["token"], stalled.id)
        assert UNKNOWN in events[-1]["detail"]
        assert (handed_back.status, handed_back.attempts, handed_back.lease_owner) == (
            DeliveryStatus.queued,
            0,
            None,
        )
        events = await timeline(client, queued["token"], handed_back.id)
        assert [(e["from_status"], e["to_status"]) for e in events[-2:]] == [
            ("queued", "sending"),
            ("sending", "queued"),
        ]
        assert "lease ran out before this letter's turn" in events[-1]["detail"]
        assert sink.messages == []


class TestEnvelope:
    async def test_an_address_smtp_cannot_carry_fails_for_good_and_the_connection_goes_on(
        self, smtp: tuple[int, Sink], settings: Settings
    ) -> None:
        """MAIL FROM and RCPT TO are written by us, not by aiosmtplib's parser: an address that
        could smuggle a command or a parameter in never reaches the server, and fails at once
        (no retry could help); the envelope is never half open, so the next letter goes."""
        port, sink = smtp
        config = smtp_settings(settings, port)
        transport = SmtpTransport(config)
        good = build(
            delivery_id=1,
            to_address="office@example.org",
            to_name="Office",
            sender_name="Ada",
            campaign_title="Free them",
            subject="Appeal",
            body="Dear Minister,\n\nPlease.",
            language="en",
            settings=config,
        )
        try:
            for bad in ("office@example.org> NOTIFY=NEVER", "office@example.org\r\nRSET"):
                smuggled = Outgoing(good.message, good.envelope_from, bad, wire=good.wire)
                with pytest.raises(SendError) as refused:
                    await transport.send(smuggled, within=NO_HANG_SECONDS)
                assert refused.value.temporary is False
                assert "not an address SMTP can carry" in refused.value.detail
            assert await transport.send(good, within=NO_HANG_SECONDS)
        finally:
            await transport.close()
        assert [(sender, recipients) for sender, recipients, _ in sink.messages] == [
            (good.envelope_from, ["office@example.org"])
        ]
