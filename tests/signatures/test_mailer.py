"""The confirmation mail round: at most two mails, a daily cap per address, expiry and purge."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery.email import SmtpTransport
from app.signatures.bounces import MailRef, read_mail_token
from app.signatures.mailer import run_mail_round
from app.signatures.models import Signature, SignatureToken, Supporter, TokenPurpose
from tests.delivery.test_worker import Sink, smtp, smtp_settings
from tests.signatures.conftest import Outbox, count, open_campaign, sign, the_signature

__all__ = ["smtp"]  # the real aiosmtpd server fixture, shared with the delivery tests


class TestConfirmationMails:
    async def test_one_mail_then_one_reminder_after_a_day_then_none(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client, name="Ada & <Co>")
        now = utcnow()
        [first] = await outbox.round(now)
        assert first.message["To"] == "ada@example.org"
        assert first.message["Subject"] == (
            'Please confirm your signature for "Free Maks Bokayev and Talgat Ayan"'
        )
        assert first.message["From"].addresses[0].addr_spec == "campaign@appeals.invalid"
        assert first.message["Auto-Submitted"] == "auto-generated"
        assert "Hello Ada & <Co>," in first.text  # plain text: not HTML-escaped
        assert first.link("confirm") and first.link("s")
        assert await outbox.round(now + timedelta(hours=23)) == []
        [reminder] = await outbox.round(now + timedelta(hours=24, minutes=1))
        assert reminder.message["Subject"].startswith("Reminder:")
        assert "last e-mail" in reminder.text
        assert await outbox.round(now + timedelta(days=3)) == []
        signature = await the_signature(session)
        assert signature.mails_sent == 2
        assert signature.mail_due_at is None

    async def test_signing_again_brings_the_reminder_forward_but_never_a_third_mail(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], outbox: Outbox
    ) -> None:
        await sign(client)
        assert len(await outbox.round()) == 1
        await sign(client)
        assert len(await outbox.round()) == 1  # the reminder, now
        for _ in range(3):
            await sign(client)
            assert await outbox.round() == []

    async def test_an_address_gets_a_capped_number_of_mails_a_day_whatever_it_signs(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        tmp_path: Any,
    ) -> None:
        for slug in ("second", "third"):
            await open_campaign(client, staff_token, slug=slug)
        for slug in (campaign["slug"], "second", "third"):
            assert (await sign(client, slug=slug, email="victim@example.org")).status_code == 202
        capped = Outbox(
            tmp_path / "capped",
            sessionmaker,
            settings.model_copy(update={"confirmation_mails_per_address_per_day": 2}),
        )
        now = utcnow()
        rounds = [timedelta(0), timedelta(hours=1), timedelta(days=1, minutes=1)]
        rounds += [timedelta(days=1, hours=2), timedelta(days=2, minutes=2)]
        sent = [await capped.round(now + at) for at in rounds]
        # Two a day: the first two campaigns' mails, then their reminders, then the third's.
        assert [len(mails) for mails in sent] == [2, 0, 2, 0, 1]
        assert all(m.message["To"] == "victim@example.org" for mails in sent for m in mails)
        assert sent[4][0].message["Subject"].startswith("Please confirm")

    async def test_unconfirmed_signatures_expire_and_are_purged_with_their_supporter(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client)
        [mail] = await outbox.round()
        await outbox.round(utcnow() + timedelta(days=6, hours=23))
        assert await count(session, Signature) == 1
        await outbox.round(utcnow() + timedelta(days=7, minutes=1))
        assert await count(session, Signature) == 0
        assert await count(session, Supporter) == 0
        assert await count(session, SignatureToken) == 0
        assert (await client.get(mail.link("confirm"))).status_code == 404

    async def test_an_expired_link_is_refused_before_the_purge(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client)
        [mail] = await outbox.round()
        signature = await the_signature(session)
        await session.execute(
            update(SignatureToken)
            .where(
                SignatureToken.signature_id == signature.id,
                SignatureToken.purpose == TokenPurpose.confirm,
            )
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
        assert (await client.get(mail.link("confirm"))).status_code == 404
        assert (await client.post(mail.link("confirm"))).status_code == 404


class TestOverSmtp:
    async def test_a_temporary_refusal_is_retried_and_a_real_server_gets_the_mail(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        await sign(client)
        transport = SmtpTransport(config)
        now = utcnow()
        sink.reply = "451 4.7.1 Greylisted"
        assert await run_mail_round(sessionmaker, transport, config, now=now) == 1
        signature = await the_signature(session)
        assert signature.mails_sent == 0
        assert signature.last_mail_error is not None
        assert "Greylisted" in signature.last_mail_error
        assert await run_mail_round(sessionmaker, transport, config, now=now) == 0  # waits
        sink.reply = "250 OK"
        later = now + timedelta(minutes=11)
        assert await run_mail_round(sessionmaker, transport, config, now=later) == 1
        await transport.close()
        [(mail_from, rcpt_tos, content)] = sink.messages
        assert rcpt_tos == ["ada@example.org"]
        # The VERP sender names this signature's first mail, so its bounce maps back to it.
        local, _, domain = mail_from.partition("@")
        assert (local.partition("+")[0], domain) == ("bounce", config.mail_domain)
        mail = read_mail_token(local.partition("+")[2], config.token_secret)
        assert mail == MailRef((await the_signature(session)).id, 1)
        message = email.message_from_bytes(content, policy=default_policy)
        assert "/confirm/" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert (await the_signature(session)).mails_sent == 1

    async def test_each_round_is_one_log_line_without_the_address(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        await sign(client)
        transport = SmtpTransport(config)
        caplog.set_level("INFO", logger="app.signatures.mailer")
        now = utcnow()
        sink.reply = "451 4.7.1 Greylisted"
        await run_mail_round(sessionmaker, transport, config, now=now, owner="m1")
        await run_mail_round(sessionmaker, transport, config, now=now, owner="m1")  # nothing due
        sink.reply = "250 OK"
        await run_mail_round(
            sessionmaker, transport, config, now=now + timedelta(minutes=11), owner="m1"
        )
        await transport.close()
        lines = [
            r.getMessage() for r in caplog.records if "confirmation mail round" in r.getMessage()
        ]
        assert lines == [
            "m1: confirmation mail round: 1 claimed, 0 sent, 1 to retry, 0 failed, "
            "failures by class: 451: 1",
            "m1: confirmation mail round: 1 claimed, 1 sent, 0 to retry, 0 failed",
        ]
        assert "ada@example.org" not in caplog.text and "Ada" not in caplog.text

    async def test_nothing_goes_to_an_address_whose_signature_was_withdrawn(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
    ) -> None:
        await sign(client)
        [mail] = await outbox.round()
        status = await client.post(mail.link("s") + "/withdraw")
        assert status.status_code == 303
        assert await outbox.round(utcnow() + timedelta(days=2)) == []


class TestAnUnsendableMail:
    async def test_fails_alone_with_its_reason_and_the_round_goes_on(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await open_campaign(client, staff_token, slug="broken", title="Broken title")
        # A title stored before the API refused line breaks: it cannot go into a Subject.
        await session.execute(
            update(Campaign)
            .where(Campaign.slug == "broken")
            .values(title="Broken\r\nBcc: everyone@example.org")
        )
        await session.commit()
        assert (await sign(client, slug="broken", email="bea@example.org")).status_code == 202
        assert (await sign(client)).status_code == 202

        [mail] = await outbox.round()  # the other campaign's mail goes out all the same
        assert mail.message["To"] == "ada@example.org"
        broken = await the_signature(session, "bea@example.org")
        assert broken.mail_due_at is None  # given up, not retried in a loop
        assert broken.last_mail_error == (
            "the mail could not be written "
            "(Header values may not contain linefeed or carriage return characters)"
        )
        assert await outbox.round() == []
