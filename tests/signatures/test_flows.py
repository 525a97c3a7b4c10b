"""Confirming writes one letter per office, once; the status page withdraws, exports, erases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.email import OutboxTransport
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.worker import Worker
from app.digests.models import Cosigner
from app.letters.models import Letter
from app.signatures.models import Signature, SignatureStatus, Supporter
from tests.signatures.conftest import (
    SLUG,
    Mail,
    Outbox,
    count,
    letters_of,
    open_campaign,
    sign,
    the_signature,
)


async def confirmed(client: httpx.AsyncClient, outbox: Outbox, **overrides: Any) -> Mail:
    """Sign, read the mail, press the confirm button; returns the mail."""
    assert (await sign(client, **overrides)).status_code == 202
    [mail] = await outbox.round()
    done = await client.post(mail.link("confirm"))
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/s/")
    return mail


async def deliveries(session: AsyncSession, letter_ids: list[int]) -> dict[str, DeliveryStatus]:
    session.expire_all()
    rows = await session.scalars(select(Delivery).where(Delivery.letter_id.in_(letter_ids)))
    return {d.channel.value: d.status for d in rows}


class TestConfirm:
    async def test_opening_the_link_changes_nothing_only_the_button_confirms(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client, message="<script>alert(1)</script> {{ 7*7 }}")
        [mail] = await outbox.round()
        page = await client.get(mail.link("confirm"))  # what a mail scanner does
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page.text
        assert "<script>" not in page.text
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert (await the_signature(session)).status is SignatureStatus.pending
        assert await count(session, Letter) == 0

    async def test_confirming_writes_and_queues_one_letter_per_office(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await confirmed(client, outbox)
        signature = await the_signature(session)
        assert signature.status is SignatureStatus.confirmed
        assert signature.confirmed_at is not None
        letters = await letters_of(session, signature.id)
        assert sorted(x.recipient_id for x in letters) == ["pace-president", "uk-prime-minister"]
        assert all(x.sender_name == "Ada Lovelace" for x in letters)
        assert "free speech matters to my pupils" in letters[0].body
        assert await deliveries(session, [x.id for x in letters]) == {
            "email": DeliveryStatus.queued,
            "postal": DeliveryStatus.queued,
        }
        info = (await client.get(f"/api/v1/campaigns/{SLUG}/signing")).json()
        assert info["signatures"] == 1

    async def test_a_double_confirm_and_a_second_link_write_nothing_more(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await sign(client)
        [first] = await outbox.round()
        await sign(client)  # asks again: the second (last) mail comes now
        [second] = await outbox.round()
        assert (await client.post(first.link("confirm"))).status_code == 303
        again = await client.post(first.link("confirm"))
        assert again.status_code == 409
        assert "already been used" in again.text
        assert (await client.post(second.link("confirm"))).status_code == 409
        assert (await client.get(second.link("confirm"))).status_code == 409
        assert await count(session, Letter) == 2
        assert await count(session, Delivery) == 2

    async def test_signing_again_after_confirming_writes_no_second_letter(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await confirmed(client, outbox)
        again = await sign(client, email="Ada@Example.org", name="Ada L.", city="Paris")
        assert again.status_code == 202
        assert await outbox.round() == []  # no mail to confirm anything
        assert await count(session, Letter) == 2

    async def test_a_digest_campaign_adds_a_co_signer_instead_of_letters(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        staff_token: str,
        outbox: Outbox,
        session: AsyncSession,
    ) -> None:
        await open_campaign(client, staff_token, slug="digest", mode="digest")
        mail = await confirmed(client, outbox, slug="digest")
        assert await count(session, Letter) == 0
        assert await count(session, Cosigner) == 1
        status = await client.get(mail.link("s"))
        assert "listed in the next letter" in status.text
        await client.post(mail.link("s") + "/withdraw")
        assert await count(session, Cosigner) == 0  # not yet in a digest: simply removed


class TestStatusPage:
    async def test_it_shows_each_letter_and_its_delivery(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
    ) -> None:
        mail = await confirmed(client, outbox)
        page = await client.get(mail.link("s"))
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "President of the Parliamentary Assembly" in page.text
        assert page.text.count('class="delivery-queued"') == 2
        assert (await client.get("/s/not-a-real-token")).status_code == 404

    async def test_withdrawing_cancels_the_letters_not_yet_sent(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        mail = await confirmed(client, outbox)
        worker = Worker(sessionmaker, settings, OutboxTransport(tmp_path / "letters"), name="w")
        assert await worker.run_once() == 1  # the e-mail to PACE goes; the post waits
        page = await client.post(mail.link("s") + "/withdraw")
        assert page.status_code == 303  # POST/redirect/GET: a reload sends nothing again
        assert page.headers["location"] == mail.link("s") + "?done=withdrawn"
        page = await client.get(page.headers["location"])
        assert "Your signature is withdrawn" in page.text
        signature = await the_signature(session)
        assert signature.status is SignatureStatus.withdrawn
        letters = await letters_of(session, signature.id)
        assert await deliveries(session, [x.id for x in letters]) == {
            "email": DeliveryStatus.sent,
            "postal": DeliveryStatus.cancelled,
        }
        info = (await client.get(f"/api/v1/campaigns/{SLUG}/signing")).json()
        assert info["signatures"] == 0
        assert (await client.post(mail.link("s") + "/withdraw")).status_code == 303  # no-op

    async def test_the_download_holds_everything_kept_about_the_supporter(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
    ) -> None:
        mail = await confirmed(client, outbox)
        response = await client.get(mail.link("s") + "/data.json")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "attachment" in response.headers["Content-Disposition"]
        data = response.json()
        assert data["email"] == "ada@example.org"
        [signature] = data["signatures"]
        assert signature["name"] == "Ada Lovelace"
        assert signature["consent_text"].startswith("I agree that Appeals keeps")
        assert signature["confirmed_at"] is not None
        assert {x["channel"] for x in signature["letters"]} == {"email", "postal"}
        assert all(x["body"] for x in signature["letters"])

    async def test_erasing_removes_personal_data_but_keeps_the_count_and_sent_letters(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        mail = await confirmed(client, outbox)
        worker = Worker(sessionmaker, settings, OutboxTransport(tmp_path / "letters"), name="w")
        await worker.run_once()
        signature_id = (await the_signature(session)).id
        unticked = await client.post(mail.link("s") + "/erase")
        assert unticked.status_code == 422
        assert (await the_signature(session)).name == "Ada Lovelace"

        erased = await client.post(mail.link("s") + "/erase", data={"really": "yes"})
        assert erased.status_code == 303
        assert erased.headers["location"] == "/erased"
        erased = await client.get("/erased")
        assert erased.status_code == 200
        assert "Your data is erased" in erased.text
        session.expire_all()
        supporter = await session.scalar(select(Supporter))
        assert supporter is not None
        assert (supporter.email, supporter.email_key) == (None, None)
        assert await count(session, Supporter, Supporter.email.is_not(None)) == 0
        signature = await the_signature_by_id(session, signature_id)
        assert (signature.name, signature.city, signature.message) == ("", "", "")
        letters = {x.channel.value: x for x in await letters_of(session, signature_id)}
        assert letters["postal"].sender_name == ""  # never sent: scrubbed and cancelled
        assert "free speech" not in letters["postal"].body
        assert letters["email"].sender_name == "Ada Lovelace"  # sent: the letter on record
        assert await deliveries(session, [x.id for x in letters.values()]) == {
            "email": DeliveryStatus.sent,
            "postal": DeliveryStatus.cancelled,
        }
        info = (await client.get(f"/api/v1/campaigns/{SLUG}/signing")).json()
        assert info["signatures"] == 1  # counts kept
        assert (await client.get(mail.link("s"))).status_code == 404  # the link is gone


async def the_signature_by_id(session: AsyncSession, signature_id: int) -> Signature:
    session.expire_all()
    signature = await session.get(Signature, signature_id)
    assert signature is not None
    return signature
