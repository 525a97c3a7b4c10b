"""Starting answer clocks for delivered letters and settling them from the responses.

Starting: a delivery in a delivered state (`models.STARTS`) without a clock gets one, started
on the day of its first event into such a state (in the office's timezone), counting by the
office's own term (its directory file's `response_term`) or else its campaign's default term.

Settling, from every response linked to the clock's letter, oldest first:
- a substantive answer, a refusal, a forwarding notice, or a reply staff have not classified
  yet (`ANSWERS`) stops the clock. An unclassified reply counts because a person wrote back:
  until staff say otherwise that is the likelier reading, and calling it silence would put an
  office on the overdue list that did answer. Staff classifying it as an auto-reply reopens the
  clock on the next round (settling is recomputed from the responses, not accumulated);
- an acknowledgement is noted, and where the term says so (`on_acknowledgement: restart`)
  the term starts again from the first one; later ones change nothing;
- an auto-reply never counts: a vacation notice is no answer.

A response not linked to a letter (a postal answer recorded for the office alone) stops no
clock: staff link it to the letter it answers. Nothing here hooks into the other domains'
writes: the worker's round (`round.py`) reads what they wrote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.accountability.models import STARTS, AnswerClock
from app.accountability.terms import due_on
from app.campaigns.models import Campaign
from app.delivery.models import Delivery, DeliveryEvent
from app.recipients.files import OnAcknowledgement, ResponseTerm
from app.recipients.models import Recipient
from app.responses.models import Response, ResponseKind

ANSWERS = frozenset(
    {
        ResponseKind.substantive,
        ResponseKind.refusal,
        ResponseKind.forwarded,
        ResponseKind.unclassified,
    }
)
BATCH = 500  # clocks started per round at most: a big mailing's backlog spreads over rounds


@dataclass(frozen=True, slots=True)
class Heard:
    """A response linked to a clock's letter, as settling reads it."""

    response_id: int
    kind: ResponseKind
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    due_on: date
    acknowledged_on: date | None = None
    acknowledgement_id: int | None = None
    answered_at: datetime | None = None
    response_id: int | None = None
    answer_kind: str | None = None


def local_day(moment: datetime, timezone: str) -> date:
    """The day `moment` falls on where the office is."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def term_for(
    office_term: dict[str, Any] | None, campaign_term: dict[str, Any], *, country: str
) -> tuple[ResponseTerm, str]:
    """The term a new clock counts by, its country filled in, and where it came from."""
    if office_term is not None:
        term, origin = ResponseTerm.model_validate(office_term), "office"
    else:
        term, origin = ResponseTerm.model_validate(campaign_term), "campaign"
    return term.model_copy(update={"country": term.country or country}), origin


def settle(
    *, started_on: date, term: ResponseTerm, heard: Sequence[Heard], timezone: str
) -> Settlement:
    """What the responses make of a clock (see the module's docstring for the rules)."""
    country = term.country or ""
    acknowledgement: Heard | None = None
    for response in sorted(heard, key=lambda h: (h.received_at, h.response_id)):
        if response.kind in ANSWERS:
            return Settlement(
                due_on=_due(started_on, term, acknowledgement, timezone, country),
                acknowledged_on=_day(acknowledgement, timezone),
                acknowledgement_id=acknowledgement.response_id if acknowledgement else None,
                answered_at=response.received_at,
                response_id=response.response_id,
                answer_kind=response.kind.value,
            )
        if response.kind is ResponseKind.acknowledgement and acknowledgement is None:
            acknowledgement = response
    return Settlement(
        due_on=_due(started_on, term, acknowledgement, timezone, country),
        acknowledged_on=_day(acknowledgement, timezone),
        acknowledgement_id=acknowledgement.response_id if acknowledgement else None,
    )


def _day(response: Heard | None, timezone: str) -> date | None:
    return local_day(response.received_at, timezone) if response else None


def _due(
    started_on: date, term: ResponseTerm, ack: Heard | None, timezone: str, country: str
) -> date:
    start = started_on
    if ack is not None and term.on_acknowledgement is OnAcknowledgement.restart:
        start = max(started_on, local_day(ack.received_at, timezone))
    return due_on(start, term, country=country)


def _insert_ignoring_started(session: AsyncSession) -> Insert:
    """INSERT that leaves alone a clock another worker started meanwhile (same delivery)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(AnswerClock).on_conflict_do_nothing(index_elements=["delivery_id"])
    return sqlite.insert(AnswerClock).on_conflict_do_nothing(index_elements=["delivery_id"])


async def _unstarted(session: AsyncSession, limit: int) -> list[Any]:
    """Deliveries in a delivered state without a clock, with their first such moment."""
    has_clock = select(AnswerClock.id).where(AnswerClock.delivery_id == Delivery.id).exists()
    deliveries = (
        await session.execute(
            select(
                Delivery.id,
                Delivery.letter_id,
                Delivery.campaign_id,
                Delivery.recipient_id,
                Delivery.status_changed_at,
            )
            .where(Delivery.status.in_(STARTS), ~has_clock)
            .order_by(Delivery.id)
            .limit(limit)
        )
    ).all()
    if not deliveries:
        return []
    firsts = dict(
        (
            await session.execute(
                select(DeliveryEvent.delivery_id, func.min(DeliveryEvent.at))
                .where(
                    DeliveryEvent.delivery_id.in_([d.id for d in deliveries]),
                    DeliveryEvent.to_status.in_([s.value for s in STARTS]),
                )
                .group_by(DeliveryEvent.delivery_id)
            )
        ).all()
    )
    # Every move writes its event; a delivery without one (written by hand) starts from its
    # last change rather than never.
    return [(d, firsts.get(d.id, d.status_changed_at)) for d in deliveries]


async def start_clocks(session: AsyncSession, *, now: datetime, limit: int = BATCH) -> int:
    """A clock for every delivered letter that has none yet (up to `limit`); how many."""
    found = await _unstarted(session, limit)
    if not found:
        return 0
    offices = {
        r.id: r
        for r in await session.execute(
            select(
                Recipient.id, Recipient.country, Recipient.timezone, Recipient.response_term
            ).where(Recipient.id.in_({d.recipient_id for d, _ in found}))
        )
    }
    campaigns: dict[int, dict[str, Any]] = dict(
        (
            await session.execute(
                select(Campaign.id, Campaign.response_term).where(
                    Campaign.id.in_({d.campaign_id for d, _ in found})
                )
            )
        ).all()
    )
    rows = []
    for delivery, started_at in found:
        office = offices[delivery.recipient_id]
        term, origin = term_for(
            office.response_term, campaigns[delivery.campaign_id], country=office.country
        )
        started_on = local_day(started_at, office.timezone)
        rows.append(
            {
                "delivery_id": delivery.id,
                "letter_id": delivery.letter_id,
                "campaign_id": delivery.campaign_id,
                "recipient_id": delivery.recipient_id,
                "started_at": started_at,
                "started_on": started_on,
                "due_on": due_on(started_on, term, country=office.country),
                "term": term.model_dump(mode="json"),
                "term_from": origin,
                "created_at": now,
                "updated_at": now,
            }
        )
    await session.execute(_insert_ignoring_started(session), rows)
    return len(rows)


async def settle_clocks(session: AsyncSession) -> int:
    """Bring every clock with a linked response up to date with it; how many changed.

    Officials answer rarely: the clocks read here are those with a response, not all."""
    answered = select(Response.letter_id).where(Response.letter_id.is_not(None))
    clocks = (
        await session.execute(
            select(AnswerClock, Recipient.timezone)
            .join(Recipient, Recipient.id == AnswerClock.recipient_id)
            .where(
                or_(
                    AnswerClock.letter_id.in_(answered),
                    AnswerClock.response_id.is_not(None),
                    AnswerClock.acknowledgement_id.is_not(None),
                )
            )
        )
    ).all()
    if not clocks:
        return 0
    heard: dict[int, list[Heard]] = defaultdict(list)
    for response_id, letter_id, kind, received_at in await session.execute(
        select(Response.id, Response.letter_id, Response.kind, Response.received_at).join(
            AnswerClock, AnswerClock.letter_id == Response.letter_id
        )
    ):
        if letter_id is not None:  # joined on it: always
            heard[letter_id].append(Heard(response_id, kind, received_at))
    changed = 0
    for clock, timezone in clocks:
        settlement = settle(
            started_on=clock.started_on,
            term=ResponseTerm.model_validate(clock.term),
            heard=heard[clock.letter_id],
            timezone=timezone,
        )
        changed += _apply(clock, settlement)
    await session.flush()
    return changed


def _apply(clock: AnswerClock, settlement: Settlement) -> int:
    """Write `settlement` onto `clock`; 1 if that changed anything."""
    changes = {
        field.name: value
        for field in fields(Settlement)
        if getattr(clock, field.name) != (value := getattr(settlement, field.name))
    }
    for name, value in changes.items():
        setattr(clock, name, value)
    return 1 if changes else 0
