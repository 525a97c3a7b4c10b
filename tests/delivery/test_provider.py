"""The postal channel through a print-and-mail provider, against a fake one on 127.0.0.1.

The fake (`fake_printmail.py`) is a real HTTP server that behaves like the documented API:
basic auth, letters kept by idempotency key, 429 with Retry-After, 5xx, stalls, tracking events.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pdfminer.high_level import extract_text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery import service
from app.delivery.email import OutboxTransport
from app.delivery.models import ChannelPause, Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.post import round as postal
from app.delivery.post.provider import (
    PostalAddress,
    PrintMailClient,
    ProviderConfigError,
    ProviderError,
    make_printmail,
)
from app.delivery.post.round import run_postal_round
from app.recipients.channels import ChannelKind
from app.signatures import consent
from app.staff.models import Role
from app.templating.kit import LetterKit
from app.workers import build_worker
from tests.delivery.fake_printmail import API_KEY, FakePrintMail, serving
from tests.factories import bearer, make_staff

OFFICE = "eu-high-representative"
S = DeliveryStatus


@pytest.fixture
def provider() -> Iterator[tuple[FakePrintMail, str]]:
    fake = FakePrintMail()
    with serving(fake) as base_url:
        yield fake, base_url


def provider_settings(settings: Settings, base_url: str, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "post_transport": "provider",
            "printmail_base_url": base_url,
            "printmail_api_key": API_KEY,
            "printmail_timeout_seconds": 2,
            "organisation_name": "Appeals Test",
            "organisation_address": ["Rue Test 1", "1000 Brussels"],
            "home_country": "BE",
            **extra,
        }
    )


@pytest.fixture
async def printmail(
    provider: tuple[FakePrintMail, str], settings: Settings
) -> AsyncIterator[PrintMailClient]:
    client = make_printmail(provider_settings(settings, provider[1]))
    yield client
    await client.aclose()


@pytest.fixture
async def postal_letter(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """One letter to the EU High Representative, queued for the post."""
    _, token = await make_staff(session, Role.campaigner)
    campaign = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "post-provider",
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": [OFFICE]},
            "template": "individual-appeal",
            "channel_preference": ["postal"],
        },
        headers=bearer(token),
    )
    assert campaign.status_code == 201, campaign.text
    letters = await client.post(
        "/api/v1/campaigns/post-provider/letters",
        json={"name": "Ada Lovelace", "city": "London"},
        headers=bearer(token),
    )
    [letter] = letters.json()["created"]
    return {"token": token, "letter": letter}


async def the_delivery(session: AsyncSession) -> Delivery:
    session.expire_all()
    delivery = await session.scalar(
        select(Delivery).where(
            Delivery.recipient_id == OFFICE, Delivery.channel == ChannelKind.postal
        )
    )
    assert delivery is not None
    return delivery


async def events(session: AsyncSession, delivery: Delivery) -> list[DeliveryEvent]:
    return list(await service.events_of(session, delivery_id=delivery.id))


def moves(logged: list[DeliveryEvent]) -> list[tuple[str | None, str]]:
    return [(e.from_status, e.to_status) for e in logged if e.from_status != e.to_status]


class Round:
    """run_postal_round with this test's database, settings and provider client."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        client: PrintMailClient,
    ) -> None:
        self.sessionmaker, self.settings, self.client = sessionmaker, settings, client

    async def __call__(self, now: datetime, *, worker: str = "w1") -> int:
        return await run_postal_round(
            self.sessionmaker, self.settings, self.client, worker_name=worker, now=now
        )


@pytest.fixture
def round_(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    provider: tuple[FakePrintMail, str],
    printmail: PrintMailClient,
) -> Round:
    return Round(sessionmaker, provider_settings(settings, provider[1]), printmail)


class TestPrintMailClient:
    """The HTTP adapter alone (no database)."""

    TO = PostalAddress(("Office of Tests", "Rue de la Loi 200", "1049 Brussels"), "BE")
    FROM = PostalAddress(("Appeals Test", "Rue Test 1"), "BE")

    async def create(self, client: PrintMailClient, key: str = "key-1") -> str:
        return await client.create_letter(
            idempotency_key=key, to=self.TO, sender=self.FROM, pdf=b"%PDF-1.4 test", description="t"
        )

    async def test_the_same_key_gets_the_same_letter_back(
        self, provider: tuple[FakePrintMail, str]
    ) -> None:
        fake, base_url = provider
        client = make_printmail(provider_settings(Settings(), base_url))
        first = await self.create(client)
        again = await self.create(client)
        other = await self.create(client, key="key-2")
        await client.aclose()
        assert first == again != other
        assert fake.posts() == ["key-1", "key-1", "key-2"]
        assert len(fake.letters) == 2
        letter = fake.letters[first]
        assert letter.to == {
            "name": "Office of Tests",
            "address_line1": "Rue de la Loi 200",
            "address_line2": "1049 Brussels",
            "address_country": "BE",
        }
        assert letter.metadata == {"idempotency_key": "key-1"}

    async def test_a_letter_is_found_by_its_key_after_the_provider_forgot_the_key(
        self, provider: tuple[FakePrintMail, str]
    ) -> None:
        fake, base_url = provider
        client = make_printmail(provider_settings(Settings(), base_url))
        made = await self.create(client)
        await self.create(client, key="key-2")
        fake.forget_keys()
        found = await client.find_letter("key-1")
        missing = await client.find_letter("key-3")
        await client.aclose()
        assert (found, missing) == (made, None)
        assert len(fake.letters) == 2

    async def test_a_refused_api_key_is_a_configuration_error(
        self, provider: tuple[FakePrintMail, str]
    ) -> None:
        fake, base_url = provider
        client = make_printmail(provider_settings(Settings(), base_url, printmail_api_key="wrong"))
        with pytest.raises(ProviderConfigError) as refused:
            await self.create(client)
        await client.aclose()
        assert refused.value.code == 401
        assert not isinstance(refused.value, ProviderError)  # so nobody fails a letter for it
        assert fake.letters == {}

    @pytest.mark.parametrize("form", ["seconds", "http-date"])
    async def test_a_429_keeps_the_retry_after(
        self, provider: tuple[FakePrintMail, str], form: str
    ) -> None:
        fake, base_url = provider
        later = utcnow() + timedelta(seconds=90)
        fake.answer_next(429, retry_after="90" if form == "seconds" else format_datetime(later))
        client = make_printmail(provider_settings(Settings(), base_url))
        with pytest.raises(ProviderError) as limited:
            await self.create(client)
        await client.aclose()
        assert limited.value.temporary and limited.value.code == 429
        assert limited.value.retry_after == pytest.approx(90, abs=2)

    async def test_a_422_is_permanent_with_the_providers_reason(
        self, provider: tuple[FakePrintMail, str]
    ) -> None:
        _, base_url = provider
        client = make_printmail(provider_settings(Settings(), base_url))
        with pytest.raises(ProviderError) as refused:
            await client.create_letter(
                idempotency_key="k",
                to=PostalAddress(("Only a name",), "BE"),
                sender=self.FROM,
                pdf=b"%PDF-1.4",
                description="t",
            )
        await client.aclose()
        assert (refused.value.code, refused.value.temporary) == (422, False)
        assert "to.address_line1 is required" in refused.value.detail

    async def test_nothing_is_contacted_without_a_base_url(self) -> None:
        client = make_printmail(Settings(post_transport="provider", printmail_api_key="k"))
        with pytest.raises(ProviderConfigError):
            await self.create(client)
        await client.aclose()

    async def test_an_unreachable_provider_is_temporary(self) -> None:
        with serving(FakePrintMail()) as base_url:
            pass  # stopped: nothing listens on that port any more
        client = make_printmail(provider_settings(Settings(), base_url))
        with pytest.raises(ProviderError) as failed:
            await self.create(client)
        await client.aclose()
        assert failed.value.temporary and failed.value.code is None


class TestRunPostalRound:
    async def test_a_letter_goes_to_the_provider_and_is_printed(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        now = utcnow()
        assert await round_(now) == 1
        assert await round_(now) == 0  # nothing twice; tracking is not due yet

        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        [letter] = fake.letters.values()
        assert delivery.external_id == letter.id
        assert letter.idempotency_key == delivery.idempotency_key
        assert letter.to == {
            "name": "High Representative of the Union for Foreign Affairs and Security Policy",
            "address_line1": "European External Action Service (EEAS)",
            "address_line2": "Rue de la Loi / Wetstraat 200, 1049 Brussels",
            "address_country": "BE",
        }
        assert letter.sender["name"] == "Appeals Test"
        text = extract_text(io.BytesIO(letter.pdf))
        assert f"Ref. L{postal_letter['letter']['id']}" in text
        assert moves(await events(session, delivery)) == [
            (None, "queued"),
            ("queued", "sending"),
            ("sending", "printed"),
        ]
        assert delivery.lease_owner is None and delivery.attempts == 1

    async def test_batch_mode_leaves_postal_letters_to_print_batches(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        printmail: PrintMailClient,
        session: AsyncSession,
    ) -> None:
        fake, base_url = provider
        batch = provider_settings(settings, base_url, post_transport="batch")
        assert (
            await run_postal_round(sessionmaker, batch, printmail, worker_name="w1", now=utcnow())
            == 0
        )
        assert fake.requests == []
        assert (await the_delivery(session)).status is S.queued

    async def test_a_replay_after_a_crash_creates_no_second_letter(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        fake, _ = provider
        now = utcnow()
        config = round_.settings
        [item] = await postal.claim(sessionmaker, config, worker_name="crashed", now=now, limit=10)
        sender = postal.return_address(config)
        first = await postal.send(round_.client, item, sender=sender, settings=config)
        # ...and the worker dies before recording that the provider accepted the letter.

        assert await round_(now + timedelta(seconds=10), worker="survivor") == 0  # lease holds
        later = now + timedelta(seconds=config.lease_seconds + 1)
        assert await round_(later, worker="survivor") == 1

        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        assert delivery.external_id == first
        assert delivery.attempts == 2
        assert len(fake.letters) == 1
        assert fake.posts() == [delivery.idempotency_key]  # the retry found it first
        logged = await events(session, delivery)
        assert any("outcome of attempt 1 is unknown" in (e.detail or "") for e in logged)

    async def test_a_429_waits_for_retry_after_and_spends_no_retry(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        fake.answer_next(429, retry_after="120")
        now = utcnow()
        assert await round_(now) == 1
        delivery = await the_delivery(session)
        assert delivery.status is S.queued
        assert delivery.last_error_code == 429
        assert delivery.attempts == 0
        assert delivery.next_attempt_at == now + timedelta(seconds=120)

        assert await round_(now + timedelta(seconds=119)) == 0  # not before Retry-After
        assert len(fake.posts()) == 1
        assert await round_(now + timedelta(seconds=120)) == 1
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        assert len(fake.letters) == 1

    @pytest.mark.parametrize("status", [500, 503])
    async def test_a_server_error_is_retried_later(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
        status: int,
    ) -> None:
        fake, _ = provider
        fake.answer_next(status)
        now = utcnow()
        await round_(now)
        delivery = await the_delivery(session)
        assert delivery.status is S.queued
        assert delivery.last_error_code == status
        assert delivery.attempts == 1
        first_wait = timedelta(minutes=round_.settings.retry_delays_minutes[0])
        assert delivery.next_attempt_at >= now + first_wait
        assert await round_(now + timedelta(seconds=30)) == 0  # waits for its next attempt

        await round_(delivery.next_attempt_at)
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        assert delivery.last_error_code is None
        assert len(fake.letters) == 1

    async def test_a_timeout_is_retried_and_gets_the_letter_the_provider_made(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        fake, base_url = provider
        config = provider_settings(settings, base_url, printmail_timeout_seconds=0.3)
        client = make_printmail(config)
        fake.stall_next(1.0)  # answers too late, but makes the letter
        now = utcnow()
        await run_postal_round(sessionmaker, config, client, worker_name="w1", now=now)
        delivery = await the_delivery(session)
        assert delivery.status is S.queued
        assert delivery.last_error_code is None
        assert "no answer within 0.3 s" in (delivery.last_error or "")

        await asyncio.to_thread(fake.wait_for_letters, 1)
        fake.forget_keys()  # the retry comes after the provider's idempotency window
        await run_postal_round(
            sessionmaker, config, client, worker_name="w1", now=delivery.next_attempt_at
        )
        await client.aclose()
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        [letter] = fake.letters.values()  # found by its metadata, not made again
        assert delivery.external_id == letter.id
        assert len(fake.posts()) == 1
        assert ("GET", "/v1/letters", None) in fake.requests

    async def test_a_refused_address_fails_with_the_code(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        fake.refused_countries = {"BE"}
        await round_(utcnow())
        delivery = await the_delivery(session)
        assert delivery.status is S.failed
        assert delivery.last_error_code == 422
        assert "we do not deliver to BE" in (delivery.last_error or "")
        logged = await events(session, delivery)
        assert logged[-1].code == 422 and "permanent failure" in (logged[-1].detail or "")

    async def test_refused_credentials_pause_the_channel_and_fail_no_letter(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        fake, base_url = provider
        config = provider_settings(settings, base_url, printmail_api_key="revoked")
        client = make_printmail(config)
        now = utcnow()
        assert await run_postal_round(sessionmaker, config, client, worker_name="w1", now=now) == 0
        delivery = await the_delivery(session)
        assert delivery.status is S.queued
        assert delivery.attempts == 0  # the letter spent nothing
        assert delivery.last_error_code == 401
        pause = await session.get(ChannelPause, ChannelKind.postal)
        assert pause is not None and "refused our credentials" in pause.reason
        assert pause.until == now + timedelta(minutes=config.channel_pause_minutes)

        later = now + timedelta(minutes=1)
        assert (
            await run_postal_round(sessionmaker, config, client, worker_name="w1", now=later) == 0
        )
        assert len(fake.requests) == 1  # paused: the provider is not asked again
        await client.aclose()

    async def test_without_a_return_address_the_channel_pauses_before_claiming(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        printmail: PrintMailClient,
        session: AsyncSession,
    ) -> None:
        fake, base_url = provider
        config = provider_settings(settings, base_url, organisation_address=[])
        assert (
            await run_postal_round(sessionmaker, config, printmail, worker_name="w1", now=utcnow())
            == 0
        )
        assert fake.requests == []
        delivery = await the_delivery(session)
        assert (delivery.status, delivery.attempts) == (S.queued, 0)
        pause = await session.get(ChannelPause, ChannelKind.postal)
        assert pause is not None and "APPEALS_ORGANISATION_ADDRESS" in pause.reason

    async def test_test_mode_sends_the_letter_back_to_us(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        client: httpx.AsyncClient,
    ) -> None:
        fake, _ = provider
        changed = await client.patch(
            "/api/v1/campaigns/post-provider",
            json={"test_mode": True, "test_address": "staff@ngo.example"},
            headers=bearer(postal_letter["token"]),
        )
        assert changed.status_code == 200
        await round_(utcnow())
        [letter] = fake.letters.values()
        assert letter.to["name"].startswith("TEST for High Representative")
        assert letter.to["address_line1"] == "Appeals Test"
        assert letter.to["address_line2"] == "Rue Test 1, 1000 Brussels"


class TestTracking:
    async def printed(self, round_: Round, session: AsyncSession) -> tuple[Delivery, datetime]:
        now = utcnow()
        assert await round_(now) == 1
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        return delivery, now + timedelta(minutes=round_.settings.printmail_tracking_minutes)

    async def test_tracking_moves_a_letter_to_posted_then_delivered(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        delivery, due = await self.printed(round_, session)
        reference = str(delivery.external_id)
        assert await round_(due) == 1  # read: no events yet, nothing changes
        assert (await the_delivery(session)).status is S.printed

        in_transit = fake.track(reference, "In Transit")
        step = timedelta(minutes=round_.settings.printmail_tracking_minutes)
        assert await round_(due + step) == 1
        delivery = await the_delivery(session)
        assert delivery.status is S.posted
        logged = await events(session, delivery)
        assert logged[-1].detail is not None and logged[-1].detail.startswith(
            f"provider event {in_transit}: In Transit"
        )

        before = len(await events(session, delivery))
        assert await round_(due + 2 * step) == 1  # read again: nothing new to log
        assert len(await events(session, delivery)) == before

        fake.track(reference, "Processed for Delivery")
        fake.track(reference, "Delivered")
        await round_(due + 3 * step)
        delivery = await the_delivery(session)
        assert delivery.status is S.delivered
        logged = await events(session, delivery)
        assert moves(logged) == [
            (None, "queued"),
            ("queued", "sending"),
            ("sending", "printed"),
            ("printed", "posted"),
            ("posted", "delivered"),
        ]
        notes = [e.detail for e in logged if e.from_status == e.to_status]
        assert len(notes) == 1 and "Processed for Delivery" in (notes[0] or "")
        assert await round_(due + 4 * step) == 0  # delivered: no more tracking

    async def test_a_letter_returned_to_sender_is_returned(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        delivery, due = await self.printed(round_, session)
        returned = fake.track(str(delivery.external_id), "Returned to Sender")
        await round_(due)
        delivery = await the_delivery(session)
        assert delivery.status is S.returned
        logged = await events(session, delivery)
        # No scan said "posted", but a returned letter was posted: both steps name the event.
        assert [(e.from_status, e.to_status) for e in logged[-2:]] == [
            ("printed", "posted"),
            ("posted", "returned"),
        ]
        assert all(f"provider event {returned}:" in (e.detail or "") for e in logged[-2:])

    async def test_a_returned_letter_sent_again_is_a_new_provider_letter(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        session: AsyncSession,
    ) -> None:
        fake, _ = provider
        delivery, due = await self.printed(round_, session)
        old_reference, old_key = delivery.external_id, delivery.idempotency_key
        fake.track(str(old_reference), "Returned to Sender")
        await round_(due)
        delivery = await the_delivery(session)
        await service.act(
            session,
            delivery,
            S.queued,
            actor="staff@test",
            note="address corrected",
            consent=consent.withdrawn_reason,
        )
        await session.commit()

        await round_(due + timedelta(minutes=1))
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        assert delivery.idempotency_key != old_key
        assert delivery.external_id not in (None, old_reference)
        assert len(fake.letters) == 2


class TestTheAssembledWorker:
    async def test_one_worker_round_sends_a_postal_letter_through_the_provider(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        settings: Settings,
        provider: tuple[FakePrintMail, str],
        printmail: PrintMailClient,
        postal_letter: dict[str, Any],
    ) -> None:
        """`appeals worker` and the demo's worker are built by `build_worker`: with a provider
        configured, their rounds include the post."""
        config = provider_settings(settings, provider[1])
        worker = build_worker(
            sessionmaker,
            config,
            OutboxTransport(settings.var_dir / "outbox"),
            kit=LetterKit.from_settings(config),
            name="assembled",
            printmail=printmail,
        )
        await worker.run_once()
        delivery = await the_delivery(session)
        assert delivery.status is S.printed
        assert delivery.external_id in provider[0].letters


class TestTheRoundsLogLine:
    """One line per postal round that did something: counts and failure classes, no address."""

    async def test_a_sent_letter(
        self, postal_letter: dict[str, Any], round_: Round, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("INFO", logger="app.delivery.post.round")
        assert await round_(utcnow()) == 1
        [line] = [r.getMessage() for r in caplog.records if "postal round" in r.getMessage()]
        assert line == "worker w1: postal round: 1 claimed, 1 sent, 0 to retry, 0 failed"

    async def test_a_refusal_is_counted_by_its_code(
        self,
        postal_letter: dict[str, Any],
        provider: tuple[FakePrintMail, str],
        round_: Round,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        provider[0].answer_next(429, retry_after="120")
        caplog.set_level("INFO", logger="app.delivery.post.round")
        await round_(utcnow())
        [line] = [r.getMessage() for r in caplog.records if "postal round" in r.getMessage()]
        assert line.endswith("0 sent, 1 to retry, 0 failed, failures by class: 429: 1")
        assert "Brussels" not in caplog.text and "EEAS" not in caplog.text

    async def test_an_idle_round_logs_nothing(
        self, round_: Round, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("INFO", logger="app.delivery.post.round")
        assert await round_(utcnow()) == 0
        assert "postal round" not in caplog.text
