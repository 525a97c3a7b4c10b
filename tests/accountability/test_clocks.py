"""Answer clocks: a delivered letter gets its due date, passes it, and is stopped by an answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accountability.round import run_clock_round
from app.accountability.service import Heard, settle
from app.delivery.models import DeliveryStatus
from app.recipients import service as recipients_service
from app.recipients.files import OnAcknowledgement, ResponseTerm, TermBasis
from app.responses.models import ResponseKind
from tests.accountability.conftest import SENT_AT, Letter, deliver

DUE = date(2026, 4, 1)  # 30 calendar days (the campaign's default) after Monday 2 March
KZ_TERM = ResponseTerm(
    days=15,
    basis=TermBasis.working,
    country="KZ",
    source="Administrative Procedural Code of Kazakhstan",
)


async def _with_office_term(letter: Letter, term: ResponseTerm) -> None:
    recipient = await recipients_service.get_recipient(
        letter.session, recipient_id="pace-president"
    )
    recipient.response_term = term.model_dump(mode="json")
    await letter.session.commit()


async def _state(letter: Letter, as_of: date) -> dict[str, Any]:
    [clock] = (await letter.due_dates(campaign="mail-test", as_of=as_of.isoformat()))["items"]
    return dict(clock)


class TestStarting:
    async def test_a_delivered_letter_gets_its_due_date_from_the_campaigns_default(
        self, delivered: Letter
    ) -> None:
        assert await delivered.round() == 1
        clock = await delivered.clock()
        assert clock is not None
        assert (clock.started_on, clock.due_on, clock.term_from) == (
            date(2026, 3, 2),
            DUE,
            "campaign",
        )
        assert clock.term == {
            "days": 30,
            "basis": "calendar",
            "country": "FR",  # PACE's: whose holidays a working-day term would count
            "source": "organisation's own target",
            "on_acknowledgement": "nothing",
        }
        assert await delivered.round(SENT_AT + timedelta(minutes=1)) == 0  # started once

    async def test_a_letter_not_yet_delivered_has_no_clock(
        self, queued: dict[str, Any], sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert await run_clock_round(sessionmaker, now=SENT_AT) == 0

    async def test_it_starts_when_first_delivered_on_the_offices_calendar(
        self,
        queued: dict[str, Any],
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        # Accepted at 23:30 UTC, already 3 March in Strasbourg; the receipt comes two days
        # later and the round later still: the clock starts when the letter was accepted.
        accepted = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
        letter = await deliver(queued, client, session, sessionmaker, at=accepted)
        await letter.move(DeliveryStatus.delivered, accepted + timedelta(days=2))
        await letter.round(accepted + timedelta(days=5))
        clock = await letter.clock()
        assert clock is not None
        assert (clock.started_at, clock.started_on) == (accepted, date(2026, 3, 3))
        assert clock.due_on == date(2026, 4, 2)

    async def test_an_offices_own_working_day_term_counts_its_countrys_holidays(
        self, delivered: Letter
    ) -> None:
        await _with_office_term(delivered, KZ_TERM)
        await delivered.round()
        clock = await delivered.clock()
        assert clock is not None and clock.term_from == "office"
        # 15 working days from 2 March 2026 without 9 March (Women's Day, observed) and 23–25
        # March (Nauryz): Friday 27 March, where weekends alone would give 23 March.
        assert clock.due_on == date(2026, 3, 27)


class TestOverdue:
    async def test_the_day_after_the_due_date_it_is_overdue(self, delivered: Letter) -> None:
        await delivered.round()
        on_time = await _state(delivered, DUE)
        assert (on_time["state"], on_time["days_left"], on_time["days_overdue"]) == (
            "awaiting",
            0,
            0,
        )
        late = await _state(delivered, DUE + timedelta(days=3))
        assert (late["state"], late["days_overdue"], late["days_left"]) == ("overdue", 3, 0)
        overdue = await delivered.due_dates("/overdue", as_of=(DUE + timedelta(days=1)).isoformat())
        assert [c["letter_id"] for c in overdue["items"]] == [delivered.letter_id]
        assert (await delivered.due_dates("/overdue", as_of=DUE.isoformat()))["total"] == 0

    async def test_a_letter_that_bounced_after_all_is_undelivered_not_overdue(
        self, delivered: Letter
    ) -> None:
        await delivered.round()
        await delivered.move(DeliveryStatus.bounced, SENT_AT + timedelta(hours=1))
        late = await _state(delivered, DUE + timedelta(days=10))
        assert late["state"] == "undelivered"


class TestAnswers:
    async def test_a_response_stops_the_clock_even_after_the_due_date(
        self, delivered: Letter
    ) -> None:
        await delivered.round()
        response_id = await delivered.respond("substantive", DUE + timedelta(days=4))
        assert await delivered.round() == 1
        clock = await delivered.clock()
        assert clock is not None
        assert (clock.response_id, clock.answer_kind) == (response_id, "substantive")
        stopped = await _state(delivered, DUE + timedelta(days=30))
        assert (stopped["state"], stopped["days_overdue"]) == ("answered", 0)
        assert stopped["response_id"] == response_id

    async def test_an_unclassified_reply_counts_until_staff_call_it_an_auto_reply(
        self, delivered: Letter
    ) -> None:
        await delivered.round()
        response_id = await delivered.respond("unclassified", date(2026, 3, 5))
        await delivered.round()
        assert (await _state(delivered, DUE + timedelta(days=1)))["state"] == "answered"
        await delivered.classify(response_id, "auto_reply")
        assert await delivered.round() == 1
        reopened = await _state(delivered, DUE + timedelta(days=1))
        assert (reopened["state"], reopened["response_id"]) == ("overdue", None)

    async def test_an_acknowledgement_restarts_the_term_where_the_term_says_so(
        self, delivered: Letter
    ) -> None:
        await _with_office_term(
            delivered, KZ_TERM.model_copy(update={"on_acknowledgement": OnAcknowledgement.restart})
        )
        await delivered.round()
        await delivered.respond("acknowledgement", date(2026, 3, 20))
        await delivered.round()
        clock = await delivered.clock()
        assert clock is not None
        assert clock.acknowledged_on == date(2026, 3, 20)
        assert clock.due_on == date(2026, 4, 15)  # 15 working days from 20 March, past Nauryz
        state = await _state(delivered, date(2026, 4, 1))
        assert (state["state"], state["acknowledged_on"]) == ("acknowledged", "2026-03-20")

    async def test_an_acknowledgement_changes_nothing_under_the_default_term(
        self, delivered: Letter
    ) -> None:
        await delivered.round()
        await delivered.respond("acknowledgement", date(2026, 3, 20))
        await delivered.round()
        clock = await delivered.clock()
        assert clock is not None and (clock.acknowledged_on, clock.due_on) == (
            date(2026, 3, 20),
            DUE,
        )
        assert (await _state(delivered, DUE + timedelta(days=1)))["state"] == "overdue"


def _heard(response_id: int, kind: ResponseKind, day: int) -> Heard:
    return Heard(response_id, kind, datetime(2026, 3, day, 12, tzinfo=UTC))


class TestSettle:
    TERM = KZ_TERM.model_copy(update={"on_acknowledgement": OnAcknowledgement.restart})

    def test_auto_replies_never_count(self) -> None:
        heard = [_heard(1, ResponseKind.auto_reply, 3)]
        settled = settle(started_on=date(2026, 3, 2), term=self.TERM, heard=heard, timezone="UTC")
        assert settled.response_id is None and settled.acknowledged_on is None

    def test_the_first_answer_stops_it_and_only_the_first_acknowledgement_restarts(
        self,
    ) -> None:
        heard = [
            _heard(4, ResponseKind.refusal, 30),
            _heard(2, ResponseKind.acknowledgement, 10),
            _heard(3, ResponseKind.acknowledgement, 20),
            _heard(5, ResponseKind.substantive, 31),
        ]
        settled = settle(started_on=date(2026, 3, 2), term=self.TERM, heard=heard, timezone="UTC")
        assert (settled.response_id, settled.answer_kind) == (4, "refusal")
        assert (settled.acknowledgement_id, settled.acknowledged_on) == (2, date(2026, 3, 10))
        assert settled.due_on == date(2026, 4, 3)  # 15 KZ working days from 10 March

    def test_forwarding_counts_as_an_answer(self) -> None:
        heard = [_heard(7, ResponseKind.forwarded, 4)]
        settled = settle(started_on=date(2026, 3, 2), term=self.TERM, heard=heard, timezone="UTC")
        assert settled.response_id == 7
