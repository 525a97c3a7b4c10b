"""Reading answer clocks: their state on a given day, lists, and counts per office and campaign.

A clock's state is worked out in SQL (`state_of`), once, for lists, filters and counts alike:
answered if a response stopped it; undelivered if its letter bounced or came back since; overdue
once `today` is past its due date; acknowledged or awaiting before that. `today` is passed in
(the API's `as_of`, a test's clock), never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accountability.models import UNDELIVERED, AnswerClock
from app.accountability.schemas import (
    CampaignCounts,
    CampaignDueDates,
    ClockRead,
    ClockState,
    OfficeCounts,
    OfficeDueDates,
    StateCounts,
)
from app.accountability.service import term_for
from app.campaigns.models import Campaign
from app.delivery.models import Delivery
from app.recipients.files import ResponseTerm
from app.recipients.models import Recipient

S = ClockState
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
# The order lists show: what needs chasing first, what is settled last.
_RANK = {S.overdue: 0, S.acknowledged: 1, S.awaiting: 1, S.undelivered: 2, S.answered: 3}


def state_of(today: date) -> ColumnElement[str]:
    """The state of a clock on `today` (needs `Delivery` joined)."""
    return case(
        (AnswerClock.response_id.is_not(None), S.answered.value),
        (Delivery.status.in_(UNDELIVERED), S.undelivered.value),
        (AnswerClock.due_on < today, S.overdue.value),
        (AnswerClock.acknowledged_on.is_not(None), S.acknowledged.value),
        else_=S.awaiting.value,
    )


def _rank(state: ColumnElement[str]) -> ColumnElement[int]:
    return case({s.value: rank for s, rank in _RANK.items()}, value=state, else_=9)


@dataclass(frozen=True, slots=True)
class Filters:
    campaign_id: int | None = None
    recipient_id: str | None = None
    state: ClockState | None = None


def _where(query: Q, filters: Filters, state: ColumnElement[str]) -> Q:
    if filters.campaign_id is not None:
        query = query.where(AnswerClock.campaign_id == filters.campaign_id)
    if filters.recipient_id is not None:
        query = query.where(AnswerClock.recipient_id == filters.recipient_id)
    if filters.state is not None:
        query = query.where(state == filters.state.value)
    return query


def _read(row: Any, today: date) -> ClockRead:
    clock: AnswerClock = row.AnswerClock
    state = ClockState(row.state)
    waiting = state in (S.awaiting, S.acknowledged)
    return ClockRead(
        id=clock.id,
        letter_id=clock.letter_id,
        delivery_id=clock.delivery_id,
        campaign=row.slug,
        office_id=clock.recipient_id,
        office=row.office,
        channel=row.channel,
        delivery_status=row.status,
        started_on=clock.started_on,
        due_on=clock.due_on,
        state=state,
        days_overdue=(today - clock.due_on).days if state is S.overdue else 0,
        days_left=(clock.due_on - today).days if waiting else 0,
        term=ResponseTerm.model_validate(clock.term),
        term_from=clock.term_from,
        acknowledged_on=clock.acknowledged_on,
        answered_at=clock.answered_at,
        response_id=clock.response_id,
        answer_kind=clock.answer_kind,
    )


async def list_clocks(
    session: AsyncSession, *, today: date, filters: Filters, limit: int, offset: int
) -> tuple[list[ClockRead], int]:
    """One page of clocks, overdue first (longest overdue first), then by due date."""
    state = state_of(today).label("state")
    base = _where(
        select(AnswerClock.id).join(Delivery, Delivery.id == AnswerClock.delivery_id),
        filters,
        state_of(today),
    )
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    query = _where(
        select(
            AnswerClock,
            state,
            Campaign.slug,
            Recipient.office,
            Delivery.channel,
            Delivery.status,
        )
        .join(Delivery, Delivery.id == AnswerClock.delivery_id)
        .join(Campaign, Campaign.id == AnswerClock.campaign_id)
        .join(Recipient, Recipient.id == AnswerClock.recipient_id),
        filters,
        state_of(today),
    ).order_by(_rank(state_of(today)), AnswerClock.due_on, AnswerClock.id)
    rows = (await session.execute(query.limit(limit).offset(offset))).all()
    return [_read(row, today) for row in rows], total or 0


async def counts(
    session: AsyncSession, *, today: date, filters: Filters, by: Literal["office", "campaign"]
) -> dict[Any, StateCounts]:
    """Clocks counted by state, per office (`by="office"`) or per campaign (`by="campaign"`)."""
    key = AnswerClock.recipient_id if by == "office" else AnswerClock.campaign_id
    # Grouped outside: PostgreSQL would not match the CASE's parameter in GROUP BY to its copy.
    states = _where(
        select(key.label("key"), state_of(today).label("state")).join(
            Delivery, Delivery.id == AnswerClock.delivery_id
        ),
        filters,
        state_of(today),
    ).subquery()
    query = select(states.c.key, states.c.state, func.count()).group_by(
        states.c.key, states.c.state
    )
    found: dict[Any, dict[str, int]] = {}
    for group, name, count in (await session.execute(query)).all():
        found.setdefault(group, {})[name] = count
    return {group: StateCounts(**by_state) for group, by_state in found.items()}


def total_of(counted: Sequence[StateCounts]) -> StateCounts:
    return StateCounts(**{s.value: sum(getattr(c, s.value) for c in counted) for s in ClockState})


async def campaign_summary(
    session: AsyncSession, *, campaign: Campaign, today: date
) -> CampaignDueDates:
    """Each office a campaign's letters reached: the term that applies, its clocks' states."""
    counted = await counts(
        session, today=today, filters=Filters(campaign_id=campaign.id), by="office"
    )
    offices = (
        await session.execute(
            select(
                Recipient.id, Recipient.office, Recipient.country, Recipient.response_term
            ).where(Recipient.id.in_(counted))
        )
    ).all()
    rows = []
    for office in offices:
        term, origin = term_for(
            office.response_term, campaign.response_term, country=office.country
        )
        rows.append(
            OfficeCounts(
                office_id=office.id,
                office=office.office,
                country=office.country,
                term=term,
                term_from=origin,
                counts=counted[office.id],
            )
        )
    rows.sort(key=lambda r: (-r.counts.overdue, r.office))
    return CampaignDueDates(
        campaign=campaign.slug,
        as_of=today,
        default_term=ResponseTerm.model_validate(campaign.response_term),
        totals=total_of(list(counted.values())),
        offices=rows,
    )


async def office_summary(
    session: AsyncSession, *, recipient: Recipient, today: date
) -> OfficeDueDates:
    """Each campaign that wrote to an office: the term its letters count by, their states."""
    counted = await counts(
        session, today=today, filters=Filters(recipient_id=recipient.id), by="campaign"
    )
    campaigns = (
        await session.execute(
            select(Campaign.id, Campaign.slug, Campaign.title, Campaign.response_term)
            .where(Campaign.id.in_(counted))
            .order_by(Campaign.slug)
        )
    ).all()
    rows = []
    for campaign in campaigns:
        term, origin = term_for(
            recipient.response_term, campaign.response_term, country=recipient.country
        )
        rows.append(
            CampaignCounts(
                campaign=campaign.slug,
                title=campaign.title,
                term=term,
                term_from=origin,
                counts=counted[campaign.id],
            )
        )
    own = recipient.response_term
    return OfficeDueDates(
        office_id=recipient.id,
        office=recipient.office,
        as_of=today,
        own_term=ResponseTerm.model_validate(own) if own is not None else None,
        totals=total_of(list(counted.values())),
        campaigns=rows,
    )
