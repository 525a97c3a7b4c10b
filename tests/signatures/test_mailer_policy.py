"""The confirmation mail round under the policy of every mail: channel pause, retry schedule,
lease deadline and bounce token, against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email
import random
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import SmtpTransport, delivery_token, parse_token
from app.signatures.bounces import MailRef, mail_token, read_mail_token
from app.signatures.mailer import run_mail_round
from app.signatures.models import Signature, SignatureEvent, Supporter
from tests.delivery.test_faults import NO_HANG_SECONDS, FaultySink, faulty_smtp
from tests.delivery.test_retries import smtp_with_login
from tests.delivery.test_worker import Sink, smtp, smtp_settings
from tests.factories import bearer
from tests.signatures.conftest import Outbox, sign, the_signature

__all__ = ["faulty_smtp", "smtp", "smtp_with_login"]  # the real SMTP servers, shared

INBOUND_SECRET = "inbound-test-secret"
MTA = {"Authorization": f"Bearer {INBOUND_SECRET}", "Content-Type": "message/rfc822"}
GREYLISTED = "451 4.7.1 Greylisted, try again later"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, var_dir=tmp_path / "var", inbound_secret=INBOUND_SECRET
    )


async def history(session: AsyncSession, signature: Signature) -> list[str]:
    """The details of the signature's events, oldest first."""
    [signature_id] = inspect(signature).identity or ()
    session.expire_all()
    rows = await session.scalars(
        select(SignatureEvent.detail)
        .where(SignatureEvent.signature_id == signature_id)
        .order_by(SignatureEvent.id)
    )
    return [detail or "" for detail in rows]


async def mails_in_window(session: AsyncSession, signature: Signature) -> int:
    """The mails counted against the signer's daily cap."""
    await session.refresh(signature)
    supporter_id = signature.supporter_id
    session.expire_all()
    count = await session.scalar(
        select(Supporter.mails_in_window).where(Supporter.id == supporter_id)
    )
    assert count is not None
    return count


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
class TestARefusedLogin:
    async def test_pauses_email_hands_the_mail_back_unspent_and_nothing_goes_while_paused(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        smtp_with_login: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp_with_login
        await sign(client)
        wrong = smtp_settings(settings, port, smtp_username="campaign", smtp_password="wrong")
        now = utcnow()
        transport = SmtpTransport(wrong)
        assert await run_mail_round(sessionmaker, transport, wrong, now=now) == 1
        await transport.close()

        signature = await the_signature(session)
        assert (signature.mails_sent, signature.mail_lease_owner) == (0, None)
        assert signature.mail_due_at == now + timedelta(minutes=wrong.channel_pause_minutes)
        assert await mails_in_window(session, signature) == 0  # nor against the daily cap
        assert (await history(session, signature))[-1].startswith(
            "confirmation mail handed back, the attempt does not count: e-mail channel paused"
        )
        pauses = await client.get("/api/v1/channels/pauses", headers=bearer(staff_token))
        [paused] = pauses.json()
        assert paused["channel"] == "email"
        assert "login refused" in paused["reason"]

        # While paused, nothing is claimed, whatever the settings and however due the mail.
        signature.mail_due_at = now
        await session.commit()
        right = smtp_settings(settings, port, smtp_username="campaign", smtp_password="right")
        fixed = SmtpTransport(right)
        try:
            later = now + timedelta(minutes=1)
            assert await run_mail_round(sessionmaker, fixed, right, now=later) == 0
            assert sink.messages == []
            resumed = await client.delete(
                "/api/v1/channels/email/pause", headers=bearer(staff_token)
            )
            assert resumed.status_code == 204
            assert await run_mail_round(sessionmaker, fixed, right, now=later) == 1
        finally:
            await fixed.close()
        assert len(sink.messages) == 1
        assert (await the_signature(session)).mails_sent == 1


class TestATemporaryFailure:
    async def test_waits_on_the_retry_schedule_and_is_given_up_with_its_reason(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp
        sink.reply = GREYLISTED
        # Attempts at 0, ~2, ~14 and ~50 minutes; the next would pass 57.6 minutes of failing.
        config = smtp_settings(
            settings,
            port,
            retry_delays_minutes=[2, 10, 30],
            retry_give_up_days=0.04,
            confirmation_mails_per_address_per_day=10,  # failed attempts count against it
        )
        await sign(client)
        transport, rng = SmtpTransport(config), random.Random(5)
        now, waits = utcnow(), []
        try:
            for _ in range(4):
                assert await run_mail_round(sessionmaker, transport, config, now=now, rng=rng) == 1
                due = (await the_signature(session)).mail_due_at
                if due is None:
                    break
                waits.append(due - now)
                assert await run_mail_round(sessionmaker, transport, config, now=now) == 0
                now = due
        finally:
            await transport.close()

        assert len(waits) == 3  # not one fixed wait: growing ones, stretched by up to a fifth
        for wait, minutes in zip(waits, [2, 10, 30], strict=True):
            assert timedelta(minutes=minutes) <= wait <= timedelta(minutes=minutes * 1.2)
        signature = await the_signature(session)
        assert signature.mails_sent == 0
        assert signature.last_mail_error is not None
        assert signature.last_mail_error.startswith("gave up after 4 attempts since")
        assert "Greylisted" in signature.last_mail_error  # the reason is kept
        details = await history(session, signature)
        assert sum("confirmation mail delayed (451); next attempt at" in d for d in details) == 3
        assert details[-1].startswith("confirmation mail not sent: gave up after 4 attempts")
        assert sink.messages == []


class TestTheLeaseDeadline:
    async def test_a_send_that_would_outlive_the_lease_hands_the_rest_back(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        faulty_smtp: tuple[int, FaultySink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        """A 2-second lease (below what settings allow, to keep the test short) and a 30-second
        SMTP timeout: the lease decides, as for letters (tests/delivery/test_faults.py)."""
        port, sink = faulty_smtp
        await sign(client)
        await sign(client, email="bea@example.org", name="Bea")
        config = smtp_settings(settings, port, smtp_timeout_seconds=30, lease_seconds=2)
        transport = SmtpTransport(config)
        sink.fault = "stall on DATA"
        now = utcnow()
        try:
            round_ = run_mail_round(sessionmaker, transport, config, now=now)
            assert await asyncio.wait_for(round_, timeout=NO_HANG_SECONDS) == 2
        finally:
            await transport.close()

        stalled = await the_signature(session)
        assert stalled.last_mail_error is not None
        assert "s left of the worker's lease" in stalled.last_mail_error
        assert stalled.mail_due_at is not None and stalled.mail_due_at >= now + timedelta(minutes=2)
        handed_back = await the_signature(session, "bea@example.org")
        assert (handed_back.mails_sent, handed_back.mail_lease_owner) == (0, None)
        assert handed_back.mail_due_at == now  # to go again at once, in the next round
        assert handed_back.last_mail_error is None
        assert await mails_in_window(session, handed_back) == 0
        assert (await history(session, handed_back))[-1] == (
            "confirmation mail handed back, the attempt does not count: the round's lease ran "
            "out before its turn"
        )
        assert sink.messages == []


def returned_to_sender(*, verp: str, returned: bytes, recipient: str, status: str) -> bytes:
    """What Postfix sends the VERP sender when `recipient` does not take the mail."""
    head = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.postfix-test.invalid>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {verp}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "Message-Id: <20261129135511.D3D1116A08E@mx.postfix-test.invalid>\r\n\r\n"
        "--B\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"<{recipient}>: host 127.0.0.1 said: 550 {status} User unknown\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.postfix-test.invalid\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: User unknown\r\n\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
    )
    return head.encode() + returned + b"\r\n--B--\r\n"


class TestABounce:
    async def test_of_a_confirmation_mail_is_matched_to_its_signature_and_stops_the_reminder(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        tmp_path: Path,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        await sign(client)
        transport = SmtpTransport(config)
        try:
            assert await run_mail_round(sessionmaker, transport, config, now=utcnow()) == 1
        finally:
            await transport.close()
        [(mail_from, _rcpt, content)] = sink.messages
        sent = email.message_from_bytes(content, policy=default_policy)
        signature = await the_signature(session)
        token = mail_token(MailRef(signature.id, 1), config.token_secret)
        assert mail_from == f"bounce+{token}@{config.mail_domain}"
        assert sent["Message-ID"] == f"<confirm-{token}@{config.mail_domain}>"

        bounce = returned_to_sender(
            verp=mail_from, returned=content, recipient="ada@example.org", status="5.1.1"
        )
        answered = await client.post("/api/v1/inbound/email", content=bounce, headers=MTA)
        assert answered.status_code == 200, answered.text
        result = answered.json()
        assert (result["status"], result["kind"], result["matched_by"]) == (
            "matched",
            "bounce",
            "token",
        )
        signature = await the_signature(session)
        assert signature.mail_due_at is None  # no reminder to an address that takes no mail
        assert signature.last_mail_error == "confirmation mail 1 bounced (5.1.1)"
        details = await history(session, signature)
        assert details[-1].startswith("confirmation mail 1 bounced (inbound message ")
        assert details[-1].endswith("): 5.1.1")
        assert not any("ada@example.org" in d for d in details)
        later = Outbox(tmp_path / "later", sessionmaker, config)
        assert await later.round(utcnow() + timedelta(days=2)) == []

    async def test_naming_a_delivery_token_matches_no_signature(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        """The same number sealed as a delivery's token is no confirmation mail's token."""
        await sign(client)
        [mail] = await outbox.round()
        signature = await the_signature(session)
        number = signature.id << 4 | 1  # what the mail token seals
        forged = f"bounce+{delivery_token(number, settings.token_secret)}@{settings.mail_domain}"
        del mail.message["X-Envelope-From"]  # the outbox's note, never on the wire
        returned = mail.message.as_bytes().replace(b"<confirm-", b"<unknown-")
        bounce = returned_to_sender(
            verp=forged, returned=returned, recipient="ada@example.org", status="5.1.1"
        )
        answered = await client.post("/api/v1/inbound/email", content=bounce, headers=MTA)
        assert answered.json()["status"] == "unmatched"
        signature = await the_signature(session)
        assert signature.mail_due_at is not None  # the reminder still goes
        assert signature.last_mail_error is None


class TestTheTokens:
    def test_a_mail_token_and_a_delivery_token_never_read_as_each_other(
        self, settings: Settings
    ) -> None:
        secret = settings.token_secret
        mail = MailRef(41, 2)
        token = mail_token(mail, secret)
        assert read_mail_token(token, secret) == mail
        assert parse_token(token, secret) is None
        assert read_mail_token(delivery_token(41 << 4 | 2, secret), secret) is None
        assert read_mail_token(token, "another secret of at least thirty-two chars") is None
        assert read_mail_token(token, "new secret", previous=[secret]) == mail
