"""The inbound pipeline through POST /api/v1/inbound/email, on both database engines.

The end-to-end test sends a letter through the worker to a real SMTP server (aiosmtpd on
127.0.0.1), then feeds back a Postfix bounce and a reply for exactly that message.
"""

from __future__ import annotations

import email
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEntry
from app.config import Settings
from app.delivery.email import SmtpTransport
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.worker import Worker
from app.recipients.models import RecipientChannel
from app.responses.models import InboundMessage, InboundStatus
from tests.delivery.test_worker import Sink, smtp_settings, the_delivery, timeline
from tests.factories import bearer
from tests.responses.conftest import INBOUND_SECRET, sample
from tests.staff.signin import signed_in

MTA = {"Authorization": f"Bearer {INBOUND_SECRET}", "Content-Type": "message/rfc822"}


async def post_mail(client: httpx.AsyncClient, raw: bytes, **params: str) -> httpx.Response:
    return await client.post("/api/v1/inbound/email", content=raw, headers=MTA, params=params)


async def send_the_letter(
    smtp: tuple[int, Sink],
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> tuple[Delivery, str, email.message.EmailMessage]:
    """The queued letter, sent through the worker; returns it, its envelope sender and message."""
    port, sink = smtp
    config = smtp_settings(settings, port)
    transport = SmtpTransport(config)
    assert await Worker(sessionmaker, config, transport, name="w1").run_once() == 1
    await transport.close()
    [(mail_from, _rcpt, content)] = sink.messages
    message = email.message_from_bytes(content, policy=default_policy)
    assert isinstance(message, email.message.EmailMessage)
    return await the_delivery(session), mail_from, message


class TestEndToEnd:
    async def test_a_sent_letter_bounces_and_is_answered(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery, mail_from, sent = await send_the_letter(smtp, settings, sessionmaker, session)
        assert delivery.status is DeliveryStatus.sent
        # What Postfix returns to the VERP sender, and the office's answer to the Reply-To.
        bounce = sample("postfix-hard-bounce.eml", delivery_id=delivery.id)
        assert f"To: {mail_from}".encode() in bounce
        assert f"Message-ID: {sent['Message-ID']}".encode() in bounce
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)
        assert f"To: {sent['Reply-To']}".encode() in reply

        answered = await post_mail(client, bounce)
        assert answered.status_code == 200, answered.text
        result = answered.json()
        assert (result["status"], result["kind"], result["matched_by"]) == (
            "matched",
            "bounce",
            "token",
        )
        assert (result["delivery_id"], result["dsn_status"], result["hard_bounce"]) == (
            delivery.id,
            "5.1.1",
            True,
        )
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.bounced
        assert delivery.last_error_code == 550

        answered = await post_mail(client, reply)
        assert answered.status_code == 200, answered.text
        response_id = answered.json()["response_id"]
        assert answered.json()["kind"] == "reply"

        auth = bearer(queued["token"])
        log = (await client.get("/api/v1/responses?campaign=mail-test", headers=auth)).json()
        [response] = log["items"]
        assert response["id"] == response_id
        assert response["letter_id"] == queued["letter"]["id"]
        assert response["delivery_id"] == delivery.id
        office = (await client.get("/api/v1/recipients/pace-president")).json()["office"]
        assert (response["recipient_id"], response["office"]) == ("pace-president", office)
        assert (response["campaign"], response["case_id"]) == ("mail-test", "bokayev-ayan")
        assert (response["kind"], response["suggested_kind"]) == (
            "unclassified",
            "acknowledgement",
        )
        assert response["from_address"] == "private.office@pace.example"
        assert response["excerpt"].startswith("Dear Ms Lovelace")

        events = await timeline(client, queued["token"], delivery.id)
        bounced = next(e for e in events if e["to_status"] == "bounced")
        assert (bounced["from_status"], bounced["code"]) == ("sent", 550)
        assert "5.1.1" in bounced["detail"] and "User unknown" in bounced["detail"]
        assert f"response {response_id}" in events[-1]["detail"]

        await signed_in(client, session)
        page = await client.get("/staff/responses?campaign=mail-test")
        assert page.status_code == 200
        assert "Re: Appeal: release Maks Bokayev" in page.text
        assert "private.office@pace.example" in page.text
        # The bounce is listed too, linked to the delivery's timeline.
        assert "<code>5.1.1</code> permanent" in page.text
        assert f'href="/staff/deliveries/{delivery.id}"' in page.text
        detail = await client.get(f"/staff/responses/{response_id}")
        assert "We acknowledge receipt" in detail.text
        assert f'href="/staff/deliveries/{delivery.id}"' in detail.text

        # The dashboard: the letter bounced, and was answered (the answer counts for the rate).
        board = (await client.get("/api/v1/campaigns/mail-test/dashboard", headers=auth)).json()
        assert (board["funnel"]["bounced"], board["funnel"]["responded"]) == (1, 1)
        [pace] = [o for o in board["offices"] if o["recipient_id"] == "pace-president"]
        assert pace["bounced"] == 1
        assert pace["last_response_at"] is not None
        dashboard = await client.get("/staff/campaigns/mail-test")
        assert dashboard.status_code == 200
        assert "responded" in dashboard.text


class TestEndpoint:
    async def test_unconfigured_inbound_mail_answers_503(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        client._transport.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
            update={"inbound_secret": None}
        )
        answered = await post_mail(client, sample("reply-quoting-letter.eml"))
        assert answered.status_code == 503
        assert answered.json()["detail"].startswith("inbound mail not configured")

    @pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {INBOUND_SECRET}"])
    async def test_a_wrong_secret_is_401(
        self, client: httpx.AsyncClient, authorization: str | None
    ) -> None:
        headers = {"Content-Type": "message/rfc822"}
        if authorization:
            headers["Authorization"] = authorization
        answered = await client.post(
            "/api/v1/inbound/email", content=b"Subject: x\n\nx\n", headers=headers
        )
        assert answered.status_code == 401
        assert answered.json()["error"] == "Unauthorized"

    async def test_a_staff_token_is_not_the_inbound_secret(
        self, client: httpx.AsyncClient, queued: dict[str, Any]
    ) -> None:
        answered = await client.post(
            "/api/v1/inbound/email",
            content=b"Subject: x\n\nx\n",
            headers={**bearer(queued["token"]), "Content-Type": "message/rfc822"},
        )
        assert answered.status_code == 401

    async def test_a_message_over_the_limit_is_413_and_not_stored(
        self, client: httpx.AsyncClient, settings: Settings, session: AsyncSession
    ) -> None:
        raw = b"Subject: big\n\n" + b"x" * settings.inbound_max_bytes
        answered = await post_mail(client, raw)
        assert answered.status_code == 413
        assert answered.json()["error"] == "PayloadTooLarge"
        assert await session.scalar(select(InboundMessage.id)) is None

    async def test_other_media_types_are_415(self, client: httpx.AsyncClient) -> None:
        answered = await client.post(
            "/api/v1/inbound/email",
            json={"raw": "Subject: x"},
            headers={"Authorization": f"Bearer {INBOUND_SECRET}"},
        )
        assert answered.status_code == 415

    async def test_the_same_message_twice_is_processed_once(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        session: AsyncSession,
    ) -> None:
        delivery = await the_delivery(session)
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)
        first = (await post_mail(client, reply)).json()
        again = (await post_mail(client, reply)).json()
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        assert again["id"] == first["id"] and again["response_id"] == first["response_id"]
        log = await client.get("/api/v1/responses", headers=bearer(queued["token"]))
        assert log.json()["total"] == 1


class TestPipeline:
    async def test_auto_replies_are_responses_that_change_nothing(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery, _, _ = await send_the_letter(smtp, settings, sessionmaker, session)
        for name in ("exchange-auto-reply.eml", "gmail-vacation.eml"):
            result = (await post_mail(client, sample(name, delivery_id=delivery.id))).json()
            assert (result["status"], result["kind"]) == ("matched", "auto_reply")
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.sent
        log = await client.get("/api/v1/responses?kind=auto_reply", headers=bearer(queued["token"]))
        assert log.json()["total"] == 2
        assert {r["suggested_kind"] for r in log.json()["items"]} == {"auto_reply"}

    async def test_a_reply_without_the_token_is_matched_by_in_reply_to(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery, _, sent = await send_the_letter(smtp, settings, sessionmaker, session)
        reply = (
            f"From: Clerk <clerk@pace.example>\nTo: campaign@appeals.invalid\n"
            f"Subject: Re: your appeal\nIn-Reply-To: {sent['Message-ID']}\n\n"
            "Your letter has been forwarded to the Rapporteur on Kazakhstan.\n"
        ).encode()
        result = (await post_mail(client, reply)).json()
        assert (result["status"], result["matched_by"]) == ("matched", "references")
        assert result["delivery_id"] == delivery.id
        response = await client.get(
            f"/api/v1/responses/{result['response_id']}", headers=bearer(queued["token"])
        )
        assert response.json()["suggested_kind"] == "forwarded"

    async def test_a_soft_bounce_is_a_note(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery, _, _ = await send_the_letter(smtp, settings, sessionmaker, session)
        result = (
            await post_mail(client, sample("postfix-delayed.eml", delivery_id=delivery.id))
        ).json()
        assert (result["kind"], result["dsn_status"], result["hard_bounce"]) == (
            "bounce",
            "4.2.2",
            False,
        )
        delivery = await the_delivery(session)
        assert delivery.status is DeliveryStatus.sent
        events = await timeline(client, queued["token"], delivery.id)
        assert events[-1]["from_status"] == events[-1]["to_status"] == "sent"
        assert events[-1]["detail"].startswith("delayed")
        assert "4.2.2" in events[-1]["detail"]

    async def test_unmatched_mail_waits_for_review_and_staff_match_it(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery, _, _ = await send_the_letter(smtp, settings, sessionmaker, session)
        # Forwarded by hand to the campaign mailbox: no token, no thread.
        raw = (
            b"From: Clerk <clerk@pace.example>\nTo: campaign@appeals.invalid\n"
            b"Message-ID: <fwd-1@pace.example>\nSubject: About Mr Bokayev\n\n"
            b"We have received your letter and will reply in due course.\n"
        )
        result = (await post_mail(client, raw)).json()
        assert (result["status"], result["delivery_id"], result["response_id"]) == (
            "unmatched",
            None,
            None,
        )
        auth = bearer(queued["token"])
        inbox = (await client.get("/api/v1/inbound?status=unmatched", headers=auth)).json()
        assert [m["id"] for m in inbox["items"]] == [result["id"]]
        detail = (await client.get(f"/api/v1/inbound/{result['id']}", headers=auth)).json()
        assert "We have received your letter" in detail["text"]
        raw_back = await client.get(f"/api/v1/inbound/{result['id']}.eml", headers=auth)
        assert raw_back.content == raw

        matched = await client.post(
            f"/api/v1/inbound/{result['id']}/match", json={"delivery_id": delivery.id}, headers=auth
        )
        assert matched.status_code == 200, matched.text
        assert (matched.json()["status"], matched.json()["matched_by"]) == ("matched", "staff")
        response = await client.get(
            f"/api/v1/responses/{matched.json()['response_id']}", headers=auth
        )
        assert response.json()["letter_id"] == queued["letter"]["id"]
        again = await client.post(
            f"/api/v1/inbound/{result['id']}/match", json={"delivery_id": delivery.id}, headers=auth
        )
        assert again.status_code == 409
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "inbound.match"))
        assert audit is not None and audit.entity_id == str(result["id"])

    async def test_staff_can_ignore_and_restore_an_unmatched_message(
        self, queued: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        result = (await post_mail(client, b"From: spam@x.example\nSubject: Win\n\nWin!\n")).json()
        auth = bearer(queued["token"])
        url = f"/api/v1/inbound/{result['id']}/review"
        ignored = await client.post(url, json={"ignored": True}, headers=auth)
        assert ignored.json()["status"] == "ignored"
        inbox = (await client.get("/api/v1/inbound?status=unmatched", headers=auth)).json()
        assert inbox["total"] == 0
        restored = await client.post(url, json={"ignored": False}, headers=auth)
        assert restored.json()["status"] == "unmatched"

    async def test_a_forged_token_matches_nothing(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        delivery = await the_delivery(session)
        forged = sample("reply-quoting-letter.eml", delivery_id=delivery.id, secret="not ours")
        result = (await post_mail(client, forged)).json()
        assert result["status"] == "unmatched"

    async def test_repeated_hard_bounces_make_the_address_suspect(
        self,
        queued: dict[str, Any],
        settings: Settings,
        client: httpx.AsyncClient,
        session: AsyncSession,
    ) -> None:
        auth = bearer(queued["token"])
        second = await client.post(
            "/api/v1/campaigns/mail-test/letters", json={"name": "Béla Bartók"}, headers=auth
        )
        assert len(second.json()["created"]) == 1
        deliveries = (
            await session.scalars(
                select(Delivery)
                .where(Delivery.recipient_id == "pace-president")
                .order_by(Delivery.id)
            )
        ).all()
        assert len(deliveries) == 2
        for delivery in deliveries:  # as if the worker had sent them
            delivery.status = DeliveryStatus.sent
        await session.commit()

        await post_mail(client, sample("postfix-hard-bounce.eml", delivery_id=deliveries[0].id))
        health = await client.get("/api/v1/directory/health", headers=auth)
        assert not _suspect_warnings(health.json())
        # The same letter bouncing again (another copy of the report) still counts once.
        await post_mail(client, sample("exchange-ndr.eml", delivery_id=deliveries[0].id))
        assert not _suspect_warnings(
            (await client.get("/api/v1/directory/health", headers=auth)).json()
        )

        await post_mail(client, sample("gmail-bounce.eml", delivery_id=deliveries[1].id))
        session.expire_all()
        channel = await session.scalar(
            select(RecipientChannel).where(RecipientChannel.value == "president@pace.example")
        )
        assert channel is not None and channel.suspect_since is not None
        assert "2 letters bounced for good" in (channel.suspect_reason or "")
        warnings = _suspect_warnings(
            (await client.get("/api/v1/directory/health", headers=auth)).json()
        )
        assert warnings and "president@pace.example" in warnings[0]

        # Staff verify a new address: the suspicion is lifted.
        office = (await client.get("/api/v1/recipients/pace-president")).json()
        email_channel = next(c for c in office["channels"] if c["kind"] == "email")
        await client.patch(
            f"/api/v1/recipients/pace-president/channels/{email_channel['id']}",
            json={"address": "secretariat@pace.example", "source": "phoned them"},
            headers=auth,
        )
        assert not _suspect_warnings(
            (await client.get("/api/v1/directory/health", headers=auth)).json()
        )

    async def test_a_message_whose_processing_failed_is_kept_and_processed_again(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from app.responses import service

        delivery = await the_delivery(session)
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("a bug while matching")

        with monkeypatch.context() as patch:
            patch.setattr(service.matching, "find_delivery", broken)
            failed = await post_mail(client, reply)
        assert failed.status_code == 500
        session.expire_all()
        stored = await session.scalar(select(InboundMessage))
        assert stored is not None and stored.status is InboundStatus.received
        assert stored.raw == reply

        retried = await post_mail(client, reply)  # the MTA tries again
        assert retried.json()["status"] == "matched"
        assert retried.json()["id"] == stored.id

    async def test_a_message_that_cannot_be_read_is_kept_failed_not_retried(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Unlike a bug in matching, the same bytes would fail the same way: kept, with why.
        from app.responses import parsing

        delivery = await the_delivery(session)
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)

        def choking(*args: Any) -> None:
            raise ValueError("a detector choked")

        with monkeypatch.context() as patch:
            patch.setattr(parsing.bounces, "detect", choking)
            answered = await post_mail(client, reply)
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "failed"
        assert answered.json()["detail"] == "could not be read: the mail parser failed (ValueError)"
        again = await post_mail(client, reply)  # the detector fixed, the MTA retrying: left be
        assert (again.json()["status"], again.json()["duplicate"]) == ("failed", True)
        assert (await the_delivery(session)).status is delivery.status
        detail = await client.get(
            f"/api/v1/inbound/{answered.json()['id']}", headers=bearer(queued["token"])
        )
        assert detail.status_code == 200 and detail.json()["unreadable"] is None  # it reads now


def _suspect_warnings(health: dict[str, Any]) -> list[str]:
    office = next(o for o in health["offices"] if o["recipient_id"] == "pace-president")
    return [w for w in office["warnings"] if "suspect" in w]


class TestABounceNamingNoRecipient:
    async def test_is_a_bounce_in_the_inbox_and_says_it_names_no_one(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        corpus = Path(__file__).parent / "bounce_corpus"
        raw = (corpus / "hb-no-address-readable.eml").read_bytes()
        stored = await post_mail(client, raw)
        assert stored.status_code == 200, stored.text
        body = stored.json()
        assert (body["kind"], body["status"]) == ("bounce", "unmatched")  # never a response
        assert body["response_id"] is None
        assert body["detail"].startswith("bounce naming no recipient; no delivery matched")
