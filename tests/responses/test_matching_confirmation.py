"""Matching a bounce to a supporter's confirmation mail (`matching.find_confirmation_mail`),
through POST /api/v1/inbound/email, on both database engines."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.responses.conftest import INBOUND_SECRET
from tests.signatures.conftest import Outbox, campaign, outbox, sign, staff_token, the_signature
from tests.signatures.test_mailer_policy import history, returned_to_sender

__all__ = ["campaign", "outbox", "staff_token"]  # the fixtures these tests use

MTA = {"Authorization": f"Bearer {INBOUND_SECRET}", "Content-Type": "message/rfc822"}


class TestFindConfirmationMail:
    async def test_a_bounce_sent_elsewhere_is_matched_by_the_returned_mails_message_id(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        """A relay that ignores the envelope and returns the mail to its From address: the
        token in the returned mail's Message-ID still names it."""
        await sign(client)
        [mail] = await outbox.round()
        del mail.message["X-Envelope-From"]  # the outbox's note, never on the wire
        bounce = returned_to_sender(
            verp=f"campaign@{settings.mail_domain}",
            returned=mail.message.as_bytes(),
            recipient="ada@example.org",
            status="5.2.1",
        )
        answered = await client.post("/api/v1/inbound/email", content=bounce, headers=MTA)
        assert answered.status_code == 200, answered.text
        assert (answered.json()["status"], answered.json()["matched_by"]) == (
            "matched",
            "references",
        )
        signature = await the_signature(session)
        assert signature.last_mail_error == "confirmation mail 1 bounced (5.2.1)"
        assert signature.mail_due_at is None

    async def test_a_delay_notice_changes_nothing_but_is_noted(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        await sign(client)
        [mail] = await outbox.round()
        verp = str(mail.message["X-Envelope-From"])
        del mail.message["X-Envelope-From"]
        delayed = returned_to_sender(
            verp=verp, returned=mail.message.as_bytes(), recipient="ada@example.org", status="4.4.1"
        ).replace(b"Action: failed", b"Action: delayed")
        answered = await client.post("/api/v1/inbound/email", content=delayed, headers=MTA)
        assert (answered.json()["status"], answered.json()["matched_by"]) == ("matched", "token")
        signature = await the_signature(session)
        assert signature.mail_due_at is not None  # the reminder still goes
        assert signature.last_mail_error is None
        assert (await history(session, signature))[-1].startswith("report on confirmation mail 1")
