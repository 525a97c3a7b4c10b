"""Message-IDs and reply/bounce tokens name their delivery without showing a counter.

Two letters go through the worker to the outbox (consecutive delivery ids); what the offices
receive must not carry those ids, and a reply or a bounce to each still finds its own letter,
as do replies to letters sent earlier with the old `<id>.<signature>` tokens.
"""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.email import (
    OutboxTransport,
    delivery_token,
    legacy_delivery_token,
    parse_token,
)
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.worker import Worker
from app.responses.matching import find_delivery
from app.responses.parsing import parse
from app.staff.models import Role
from tests.factories import bearer, make_staff

OFFICES = {
    "pace-president": "president@pace.example",
    "coe-secretary-general": "sg@coe.example",
}
OFFICE_INBOX = "private.office@example.org"  # replies come from here, not to our reply+ address


async def _send_two_letters(
    client: httpx.AsyncClient,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> dict[int, EmailMessage]:
    """One letter to each of two offices, sent to the outbox: {delivery id: message}."""
    _, token = await make_staff(session, Role.campaigner)
    for office, address in OFFICES.items():
        channels = (await client.get(f"/api/v1/recipients/{office}")).json()["channels"]
        channel = next(c for c in channels if c["kind"] == "email")
        verified = await client.patch(
            f"/api/v1/recipients/{office}/channels/{channel['id']}",
            json={"address": address, "source": "test"},
            headers=bearer(token),
        )
        assert verified.status_code == 200, verified.text
    campaign = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "ids-test",
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": list(OFFICES)},
            "template": "individual-appeal",
            "channel_preference": ["email"],
            "pacing": {"office_hours_start": 0, "office_hours_end": 24, "office_days": [*range(7)]},
        },
        headers=bearer(token),
    )
    assert campaign.status_code == 201, campaign.text
    letters = await client.post(
        "/api/v1/campaigns/ids-test/letters",
        json={"name": "Ada Lovelace", "city": "London"},
        headers=bearer(token),
    )
    assert len(letters.json()["created"]) == 2

    outbox = settings.var_dir / "outbox"
    worker = Worker(sessionmaker, settings, OutboxTransport(outbox), name="w1")
    assert await worker.run_once() == 2
    session.expire_all()
    deliveries = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
    assert [d.status for d in deliveries] == [DeliveryStatus.sent] * 2
    by_message_id = {str(m["Message-ID"]): m for m in map(_read, sorted(outbox.glob("*.eml")))}
    return {d.id: by_message_id[str(d.external_id)] for d in deliveries}


def _read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def _reply(*, to: str, in_reply_to: str, references: str = "") -> bytes:
    return (
        f"From: Private Office <{OFFICE_INBOX}>\r\nTo: {to}\r\n"
        "Subject: Re: your letter\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <answer-{abs(hash(in_reply_to))}@example.org>\r\n"
        f"In-Reply-To: {in_reply_to}\r\n"
        + (f"References: {references}\r\n" if references else "")
        + "Content-Type: text/plain; charset=utf-8\r\n\r\nThank you for your letter.\r\n"
    ).encode()


class TestNoCounterShows:
    async def test_consecutive_deliveries_carry_unrelated_opaque_tokens(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        sent = await _send_two_letters(client, session, sessionmaker, settings)
        first, second = sorted(sent)
        assert second == first + 1
        tokens = []
        for delivery_id, message in sent.items():
            reply_to = str(message["Reply-To"])
            token = re.fullmatch(r"reply\+([0-9a-f]{36})@.+", reply_to)
            assert token is not None, reply_to
            tokens.append(token.group(1))
            envelope = str(message["X-Envelope-From"])
            assert envelope == f"bounce+{token.group(1)}@{settings.mail_domain}"
            assert message["Message-ID"] == f"<delivery-{token.group(1)}@{settings.mail_domain}>"
            # The id appears nowhere as a number of its own (it was `delivery-<id>.<mac>`).
            for header in (message_id := str(message["Message-ID"]), reply_to, envelope):
                assert not re.search(rf"(?<![0-9a-f]){delivery_id}(?![0-9a-f])", header)
            assert legacy_delivery_token(delivery_id, settings.token_secret) not in str(message)
            assert message_id.split("@")[0] == f"<delivery-{token.group(1)}"
            assert parse_token(token.group(1), settings.token_secret) == delivery_id
        # Consecutive ids give tokens with no common prefix or ordering to read a count from.
        assert tokens[0][:4] != tokens[1][:4]

    def test_the_same_delivery_keeps_its_token_so_a_retry_keeps_its_message_id(self) -> None:
        assert delivery_token(7, "s" * 40) == delivery_token(7, "s" * 40)
        assert delivery_token(7, "s" * 40) != delivery_token(8, "s" * 40)


class TestRepliesStillMatch:
    async def test_a_reply_to_each_letter_finds_that_letter_by_its_message_id(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        sent = await _send_two_letters(client, session, sessionmaker, settings)
        for delivery_id, message in sent.items():
            message_id = str(message["Message-ID"])
            reply = parse(_reply(to=OFFICE_INBOX, in_reply_to=message_id, references=message_id))
            match = await find_delivery(
                session, reply, envelope_to=None, secret=settings.token_secret
            )
            assert match is not None and (match.delivery.id, match.by) == (
                delivery_id,
                "references",
            )

    async def test_a_reply_or_bounce_to_each_token_address_finds_that_letter(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        sent = await _send_two_letters(client, session, sessionmaker, settings)
        for delivery_id, message in sent.items():
            unrelated = "<elsewhere@example.org>"
            reply = parse(_reply(to=str(message["Reply-To"]), in_reply_to=unrelated))
            by_reply = await find_delivery(
                session, reply, envelope_to=None, secret=settings.token_secret
            )
            bounce = await find_delivery(
                session,
                parse(_reply(to=OFFICE_INBOX, in_reply_to=unrelated)),
                envelope_to=str(message["X-Envelope-From"]),
                secret=settings.token_secret,
            )
            for match in (by_reply, bounce):
                assert match is not None and (match.delivery.id, match.by) == (delivery_id, "token")

    @pytest.mark.parametrize("where", ["message_id", "reply_to", "bounce"])
    async def test_letters_sent_with_the_old_numbered_token_still_match(
        self,
        where: str,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        sent = await _send_two_letters(client, session, sessionmaker, settings)
        domain, secret = settings.mail_domain, settings.token_secret
        for delivery_id in sent:
            old = legacy_delivery_token(delivery_id, secret)
            unrelated = "<elsewhere@example.org>"
            envelope_to = f"bounce+{old}@{domain}" if where == "bounce" else None
            raw = {
                "message_id": _reply(to=OFFICE_INBOX, in_reply_to=f"<delivery-{old}@{domain}>"),
                "reply_to": _reply(to=f"reply+{old}@{domain}", in_reply_to=unrelated),
                "bounce": _reply(to=OFFICE_INBOX, in_reply_to=unrelated),
            }[where]
            match = await find_delivery(session, parse(raw), envelope_to=envelope_to, secret=secret)
            assert match is not None and match.delivery.id == delivery_id

    async def test_a_forged_token_of_either_form_matches_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        sent = await _send_two_letters(client, session, sessionmaker, settings)
        domain = settings.mail_domain
        for delivery_id in sent:
            for forged in (
                delivery_token(delivery_id, "f" * 40),
                legacy_delivery_token(delivery_id, "f" * 40),
            ):
                reply = parse(
                    _reply(
                        to=f"reply+{forged}@{domain}", in_reply_to=f"<delivery-{forged}@{domain}>"
                    )
                )
                assert (
                    await find_delivery(
                        session, reply, envelope_to=None, secret=settings.token_secret
                    )
                    is None
                )
