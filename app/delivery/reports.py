"""What staff read about a campaign: the funnel, each office's status, daily counts, the log.

A few GROUP BY queries, shared by the dashboard page, its JSON route and the CSV export, so the
three always agree. Responses are counted by app/responses (a layer above this one); the
fields for them stay empty here and that domain fills them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.campaigns.models import Campaign
from app.delivery.models import Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.queue import schedule
from app.digests.models import Digest
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient
from app.signatures.models import Signature

S = DeliveryStatus
STEPS = (
    "signed",
    "confirmed",
    "letters",
    "deliveries",
    "sent",
    "delivered",
    "bounced",
    "failed",
    "responded",
)
WAITING = frozenset({S.queued, S.sending, S.printed, S.open})
# Left our hands: an SMTP server accepted it, it was posted, or a person sent it by hand.
SENT = frozenset({S.sent, S.delivered, S.bounced, S.posted, S.returned, S.done})
BOUNCED = frozenset({S.bounced, S.returned})
STOPPED = frozenset({S.cancelled, S.skipped})
# How the dashboard groups the deliveries by their state now: every status in exactly one group
# (a test checks it), so the groups add up to all deliveries, as the delivery log lists them.
# A withdrawn or erased signature leaves its letters cancelled, or its manual task skipped.
STATE_GROUPS: tuple[tuple[str, frozenset[DeliveryStatus]], ...] = (
    ("waiting", WAITING),
    ("gone_out", SENT),
    ("failed", frozenset({S.failed})),
    ("stopped", STOPPED),
)
# The event that marks each step in the delivery log, for the daily chart.
_EVENT_STEPS = {
    S.sent.value: "sent",
    S.posted.value: "sent",
    S.done.value: "sent",
    S.delivered.value: "delivered",
    S.bounced.value: "bounced",
    S.returned.value: "bounced",
    S.failed.value: "failed",
}


@dataclass(frozen=True, slots=True)
class StateGroup:
    name: str
    total: int
    states: list[tuple[DeliveryStatus, int]]  # the statuses that occur, in the model's order


@dataclass(slots=True)
class Funnel:
    """The campaign's steps; `states` counts each delivery once, under its status now."""

    signed: int = 0
    confirmed: int = 0
    letters: int = 0
    deliveries: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    responded: int | None = None  # app/responses
    states: dict[DeliveryStatus, int] = field(default_factory=dict)

    def steps(self) -> list[tuple[str, int | None]]:
        return [(name, getattr(self, name)) for name in STEPS]

    def groups(self) -> list[StateGroup]:
        """`states` in the dashboard's groups; their totals add up to `deliveries`."""
        grouped = []
        for name, members in STATE_GROUPS:
            states = [
                (s, self.states[s]) for s in DeliveryStatus if s in members and s in self.states
            ]
            grouped.append(StateGroup(name, sum(n for _, n in states), states))
        return grouped


@dataclass(slots=True)
class OfficeRow:
    recipient_id: str
    office: str
    channels: list[str] = field(default_factory=list)
    waiting: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    stopped: int = 0
    next_send_at: datetime | None = None
    drains_by: datetime | None = None
    last_response_at: datetime | None = None  # app/responses
    response_rate: float | None = None  # app/responses


@dataclass(frozen=True, slots=True)
class Timeline:
    days: list[date]
    series: dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class DigestSummary:
    count: int
    cosigners: int
    last_at: datetime | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    funnel: Funnel
    offices: list[OfficeRow]
    timeline: Timeline
    digests: DigestSummary


_Timestamp = QueryableAttribute[datetime] | QueryableAttribute[datetime | None]


def _day(session: AsyncSession, column: _Timestamp) -> ColumnElement[str]:
    """The UTC day of a timestamp as YYYY-MM-DD (SQLite stores UTC text; PostgreSQL a zone)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def _of_campaign(campaign: Campaign) -> Select[int]:
    return select(Letter.id).where(Letter.campaign_id == campaign.id)


async def _status_rows(
    session: AsyncSession, campaign: Campaign
) -> Sequence[tuple[str, str, str, str, int, datetime | None]]:
    rows = await session.execute(
        select(
            Delivery.recipient_id,
            Recipient.office,
            Delivery.channel,
            Delivery.status,
            func.count(Delivery.id),
            func.min(Delivery.next_attempt_at),
        )
        .join(Recipient, Recipient.id == Delivery.recipient_id)
        .where(Delivery.letter_id.in_(_of_campaign(campaign)))
        .group_by(Delivery.recipient_id, Recipient.office, Delivery.channel, Delivery.status)
        .order_by(Recipient.office)
    )
    return [(r, o, ChannelKind(c).value, S(s).value, int(n), at) for r, o, c, s, n, at in rows]


async def funnel_and_offices(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> tuple[Funnel, list[OfficeRow]]:
    funnel = Funnel()
    signed, confirmed = (
        await session.execute(
            select(func.count(Signature.id), func.count(Signature.confirmed_at)).where(
                Signature.campaign_id == campaign.id
            )
        )
    ).one()
    funnel.signed, funnel.confirmed = int(signed), int(confirmed)
    funnel.letters = int(
        await session.scalar(select(func.count(Letter.id)).where(Letter.campaign_id == campaign.id))
        or 0
    )
    offices: dict[str, OfficeRow] = {}
    for recipient_id, office, channel, status, count, first_due in await _status_rows(
        session, campaign
    ):
        row = offices.setdefault(recipient_id, OfficeRow(recipient_id, office))
        if channel not in row.channels:
            row.channels.append(channel)
        state = S(status)
        funnel.deliveries += count
        funnel.states[state] = funnel.states.get(state, 0) + count
        if state in WAITING:
            row.waiting += count
            # Only e-mail is sent on a schedule; post and web forms wait for people.
            if state is S.queued and channel == ChannelKind.email.value and first_due:
                due = max(first_due, now)
                row.next_send_at = min(row.next_send_at or due, due)
        if state in SENT:
            row.sent += count
        if state is S.delivered:
            row.delivered += count
        if state in BOUNCED:
            row.bounced += count
        if state is S.failed:
            row.failed += count
        if state in STOPPED:
            row.stopped += count
    for paced in await schedule.campaign_schedule(session, campaign=campaign, now=now):
        row = offices[paced.recipient_id]
        if paced.drains_by is not None:
            row.drains_by = max(row.drains_by or paced.drains_by, paced.drains_by)
    for row in offices.values():
        funnel.sent += row.sent
        funnel.delivered += row.delivered
        funnel.bounced += row.bounced
        funnel.failed += row.failed
    return funnel, list(offices.values())


async def timeline(
    session: AsyncSession, *, campaign: Campaign, now: datetime, days: int = 30
) -> Timeline:
    """Daily counts per funnel step over the last `days` days (UTC), oldest first."""
    first = (now.astimezone(UTC) - timedelta(days=days - 1)).date()
    since = datetime.combine(first, time(), tzinfo=UTC)
    calendar = [first + timedelta(days=i) for i in range(days)]
    index = {d.isoformat(): i for i, d in enumerate(calendar)}
    series = {name: [0] * days for name in STEPS if name != "responded"}

    def add(step: str, day: str, count: int) -> None:
        if day in index:
            series[step][index[day]] += int(count)

    for step, column in (("signed", Signature.created_at), ("confirmed", Signature.confirmed_at)):
        d = _day(session, column)
        for day, count in await session.execute(
            select(d, func.count())
            .where(Signature.campaign_id == campaign.id, column >= since)
            .group_by(d)
        ):
            add(step, day, count)
    d = _day(session, Letter.created_at)
    for day, count in await session.execute(
        select(d, func.count())
        .where(Letter.campaign_id == campaign.id, Letter.created_at >= since)
        .group_by(d)
    ):
        add("letters", day, count)
    d = _day(session, Delivery.created_at)
    for day, count in await session.execute(
        select(d, func.count())
        .where(Delivery.letter_id.in_(_of_campaign(campaign)), Delivery.created_at >= since)
        .group_by(d)
    ):
        add("deliveries", day, count)
    d = _day(session, DeliveryEvent.at)
    for day, to_status, count in await session.execute(
        select(d, DeliveryEvent.to_status, func.count())
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .where(
            Delivery.letter_id.in_(_of_campaign(campaign)),
            DeliveryEvent.at >= since,
            DeliveryEvent.to_status.in_(list(_EVENT_STEPS)),
            DeliveryEvent.from_status.is_distinct_from(DeliveryEvent.to_status),
        )
        .group_by(d, DeliveryEvent.to_status)
    ):
        add(_EVENT_STEPS[to_status], day, count)
    return Timeline(calendar, series)


async def digest_summary(session: AsyncSession, *, campaign: Campaign) -> DigestSummary:
    count, cosigners, last = (
        await session.execute(
            select(
                func.count(Digest.id),
                func.coalesce(func.sum(Digest.cosigners), 0),
                func.max(Digest.created_at),
            ).where(Digest.campaign_id == campaign.id)
        )
    ).one()
    return DigestSummary(int(count), int(cosigners), last)


async def dashboard(session: AsyncSession, *, campaign: Campaign, now: datetime) -> Dashboard:
    funnel, offices = await funnel_and_offices(session, campaign=campaign, now=now)
    return Dashboard(
        funnel=funnel,
        offices=offices,
        timeline=await timeline(session, campaign=campaign, now=now),
        digests=await digest_summary(session, campaign=campaign),
    )


@dataclass(frozen=True, slots=True)
class LogFilter:
    status: DeliveryStatus | None = None
    channel: ChannelKind | None = None
    office: str | None = None
    since: date | None = None  # status changed on or after this day (UTC)
    until: date | None = None  # ... on or before this day


@dataclass(frozen=True, slots=True)
class LogRow:
    delivery: Delivery
    office: str
    sender_name: str
    subject: str


def _log_query(campaign: Campaign, filters: LogFilter) -> Select[Delivery, str, str, str]:
    query = (
        select(Delivery, Recipient.office, Letter.sender_name, Letter.subject)
        .join(Letter, Letter.id == Delivery.letter_id)
        .join(Recipient, Recipient.id == Delivery.recipient_id)
    )
    return filtered(query, campaign, filters)


Ts = TypeVarTuple("Ts")


def filtered(query: Select[*Ts], campaign: Campaign, filters: LogFilter) -> Select[*Ts]:
    """`query` (deliveries joined to their letters) narrowed to the campaign and `filters`: the
    one reading of the log's filters, for the page, the CSV and the JSON list alike."""
    query = query.where(Letter.campaign_id == campaign.id)
    if filters.status is not None:
        query = query.where(Delivery.status == filters.status)
    if filters.channel is not None:
        query = query.where(Delivery.channel == filters.channel)
    if filters.office:
        query = query.where(Delivery.recipient_id == filters.office)
    if filters.since is not None:
        start = datetime.combine(filters.since, time(), tzinfo=UTC)
        query = query.where(Delivery.status_changed_at >= start)
    if filters.until is not None:
        end = datetime.combine(filters.until + timedelta(days=1), time(), tzinfo=UTC)
        query = query.where(Delivery.status_changed_at < end)
    return query


async def delivery_log(
    session: AsyncSession,
    *,
    campaign: Campaign,
    filters: LogFilter,
    limit: int,
    offset: int,
) -> tuple[list[LogRow], int]:
    """One page of the campaign's deliveries, most recently changed first, and the total."""
    query = _log_query(campaign, filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Delivery.status_changed_at.desc(), Delivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [LogRow(d, office, name, subject) for d, office, name, subject in rows], total


async def offices_of(session: AsyncSession, *, campaign: Campaign) -> list[tuple[str, str]]:
    """The offices the campaign has written to, for the log's office filter."""
    rows = await session.execute(
        select(Recipient.id, Recipient.office)
        .where(
            Recipient.id.in_(select(Letter.recipient_id).where(Letter.campaign_id == campaign.id))
        )
        .order_by(Recipient.office)
    )
    return [(r, o) for r, o in rows]


CSV_HEADER = (
    "delivery_id",
    "letter_id",
    "office_id",
    "office",
    "channel",
    "address",
    "status",
    "status_changed_at",
    "attempts",
    "next_attempt_at",
    "last_error_code",
    "last_error",
    "sender_name",
    "subject",
)


def csv_row(row: LogRow) -> list[object]:
    d = row.delivery
    return [
        d.id,
        d.letter_id,
        d.recipient_id,
        row.office,
        d.channel.value,
        d.address or "",
        d.status.value,
        d.status_changed_at.isoformat(),
        d.attempts,
        d.next_attempt_at.isoformat(),
        d.last_error_code if d.last_error_code is not None else "",
        d.last_error or "",
        row.sender_name,
        row.subject,
    ]
