"""What staff read about a campaign: the funnel, each office's status and answers, daily counts.

A few GROUP BY queries over every domain (signatures, deliveries and their events, digests,
responses), shared by the dashboard page and its JSON route, so the two always agree; the delivery
log and its CSV export (app/delivery/records.py) count the same states. Auto-replies are not
answers and count for nothing. Each query reads the campaign's own rows through its indexes
(deliveries carry their campaign), so a report costs what the campaign holds, not the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.campaigns.models import Campaign
from app.delivery.models import Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.queue import schedule
from app.digests.models import Digest
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient
from app.responses.models import Response, ResponseKind
from app.signatures.models import Signature, SignatureStatus

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
    states: list[tuple[DeliveryStatus, int]]  # all of the group's statuses (none hidden at 0)


@dataclass(slots=True)
class Funnel:
    """The campaign's steps; `states` counts each delivery once, under its status now."""

    signed: int = 0
    confirmed: int = 0
    withdrawn: int = 0  # signatures taken back: their undelivered letters were cancelled
    letters: int = 0
    deliveries: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    responded: int | None = None
    states: dict[DeliveryStatus, int] = field(default_factory=dict)

    def steps(self) -> list[tuple[str, int | None]]:
        return [(name, getattr(self, name)) for name in STEPS]

    def groups(self) -> list[StateGroup]:
        """`states` in the dashboard's groups; their totals add up to `deliveries`. Every
        status is listed, at 0 too: staff look for cancelled and skipped letters by name."""
        grouped = []
        for name, members in STATE_GROUPS:
            states = [(s, self.states.get(s, 0)) for s in DeliveryStatus if s in members]
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
    last_response_at: datetime | None = None
    response_rate: float | None = None


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
        .where(Delivery.campaign_id == campaign.id)
        .group_by(Delivery.recipient_id, Recipient.office, Delivery.channel, Delivery.status)
        .order_by(Recipient.office)
    )
    return [(r, o, ChannelKind(c).value, S(s).value, int(n), at) for r, o, c, s, n, at in rows]


# Which of an office's counters each status adds to (a status may count in two: delivered is sent).
_OFFICE_COUNTERS: tuple[tuple[str, frozenset[DeliveryStatus]], ...] = (
    ("waiting", WAITING),
    ("sent", SENT),
    ("delivered", frozenset({S.delivered})),
    ("bounced", BOUNCED),
    ("failed", frozenset({S.failed})),
    ("stopped", STOPPED),
)


def _count_into(row: OfficeRow, state: DeliveryStatus, count: int) -> None:
    for counter, states in _OFFICE_COUNTERS:
        if state in states:
            setattr(row, counter, getattr(row, counter) + count)


async def funnel_and_offices(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> tuple[Funnel, list[OfficeRow]]:
    funnel = Funnel()
    withdrawn = func.count().filter(Signature.status == SignatureStatus.withdrawn)
    signed, confirmed, gone = (
        await session.execute(
            select(func.count(Signature.id), func.count(Signature.confirmed_at), withdrawn).where(
                Signature.campaign_id == campaign.id
            )
        )
    ).one()
    funnel.signed, funnel.confirmed, funnel.withdrawn = int(signed), int(confirmed), int(gone)
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
        _count_into(row, state, count)
        # Only e-mail is sent on a schedule; post and web forms wait for people.
        if state is S.queued and channel == ChannelKind.email.value and first_due:
            due = max(first_due, now)
            row.next_send_at = min(row.next_send_at or due, due)
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


# The dashboard's small multiples: at most four series share a chart (app/web/charts.py).
CHARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("supporters", ("signed", "confirmed", "letters", "deliveries")),
    ("outcomes", ("sent", "delivered", "bounced", "failed")),
)


def chart_days(*, started: datetime, now: datetime, longest: int = 30) -> list[date]:
    """The UTC days a campaign's chart spans: from the day it was created to today, the last
    `longest` at most. A campaign a day old gets one day, not a month of empty days."""
    today = now.astimezone(UTC).date()
    first = max(started.astimezone(UTC).date(), today - timedelta(days=longest - 1))
    first = min(first, today)  # a clock behind the campaign's own
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


async def timeline(
    session: AsyncSession, *, campaign: Campaign, now: datetime, days: int = 30
) -> Timeline:
    """Daily counts per funnel step over the campaign's life, its last `days` days at most
    (UTC), oldest first."""
    calendar = chart_days(started=campaign.created_at, now=now, longest=days)
    first = calendar[0]
    since = datetime.combine(first, time(), tzinfo=UTC)
    index = {d.isoformat(): i for i, d in enumerate(calendar)}
    series = {name: [0] * len(calendar) for name in STEPS if name != "responded"}

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
    # A delivery changed last at or after its creation and each of its transitions, so only
    # those changed since `since` can count: ix_deliveries_campaign_changed finds just them,
    # however long the campaign's history.
    changed = Delivery.status_changed_at >= since
    d = _day(session, Delivery.created_at)
    for day, count in await session.execute(
        select(d, func.count())
        .where(Delivery.campaign_id == campaign.id, changed, Delivery.created_at >= since)
        .group_by(d)
    ):
        add("deliveries", day, count)
    d = _day(session, DeliveryEvent.at)
    for day, to_status, count in await session.execute(
        select(d, DeliveryEvent.to_status, func.count())
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .where(
            Delivery.campaign_id == campaign.id,
            changed,
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


async def _answers(
    session: AsyncSession, campaign: Campaign, funnel: Funnel, offices: Sequence[OfficeRow]
) -> None:
    """Per office, the last answer and the share of its letters answered; the funnel's last
    step. The funnel counts letters: one answered (however often) is one responded."""
    rows = await session.execute(
        select(
            Response.recipient_id,
            func.max(Response.received_at),
            func.count(func.distinct(Response.letter_id)),
        )
        .where(Response.campaign_id == campaign.id, Response.kind != ResponseKind.auto_reply)
        .group_by(Response.recipient_id)
    )
    per_office = {office: (last, int(letters)) for office, last, letters in rows}
    funnel.responded = sum(letters for _, letters in per_office.values())
    for row in offices:
        last, letters = per_office.get(row.recipient_id, (None, 0))
        row.last_response_at = last
        reached = row.sent + row.delivered
        row.response_rate = letters / reached if reached else None


async def dashboard(session: AsyncSession, *, campaign: Campaign, now: datetime) -> Dashboard:
    funnel, offices = await funnel_and_offices(session, campaign=campaign, now=now)
    await _answers(session, campaign, funnel, offices)
    return Dashboard(
        funnel=funnel,
        offices=offices,
        timeline=await timeline(session, campaign=campaign, now=now),
        digests=await digest_summary(session, campaign=campaign),
    )
