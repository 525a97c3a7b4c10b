"""The delivery log: a campaign's deliveries filtered by status, channel, office and day, paged,
and the same rows as a CSV export (the staff page and the API share this one query).

Pages go by cursor (keyset), not by skipping rows: a page deep in a large campaign reads only
its own rows. Every query reads the campaign's rows through deliveries.campaign_id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.db import UTCDateTime
from app.delivery.models import Delivery, DeliveryStatus
from app.errors import InvalidInput
from app.letters.models import Letter
from app.params import MAX_ID
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient

S = DeliveryStatus


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The log counts its rows up to here: a count beyond it would read all of a large campaign's
# rows for every page, only to print "more than".
COUNT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Cursor:
    """A place in the log's order (last changed first, then the highest id): the row a page
    ends or starts at. Written "<microseconds since 1970>_<id>" in links."""

    at: datetime
    id: int

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // _MICROSECOND}_{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        try:
            micros, _, delivery_id = text.partition("_")
            cursor = cls(_EPOCH + int(micros) * _MICROSECOND, int(delivery_id))
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(f"not a place in the delivery log: {text!r}") from exc
        if not 0 <= cursor.id <= MAX_ID:  # an id no column holds: no driver could bind it
            raise InvalidInput(f"not a place in the delivery log: {text!r}")
        return cursor

    @classmethod
    def of(cls, row: LogRow) -> Cursor:
        return cls(row.delivery.status_changed_at, row.delivery.id)


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[LogRow]
    total: int  # the matching deliveries, counted up to COUNT_LIMIT
    more: bool  # more than COUNT_LIMIT match
    newer: Cursor | None  # where the page before this one starts (None: this is the newest)
    older: Cursor | None  # where the next page starts (None: this is the oldest)


def _log_query(campaign: Campaign, filters: LogFilter) -> Select[Delivery, str, str, str]:
    query = (
        select(Delivery, Recipient.office, Letter.sender_name, Letter.subject)
        .join(Letter, Letter.id == Delivery.letter_id)
        .join(Recipient, Recipient.id == Delivery.recipient_id)
    )
    return filtered(query, campaign, filters)


Ts = TypeVarTuple("Ts")


def filtered(query: Select[*Ts], campaign: Campaign, filters: LogFilter) -> Select[*Ts]:
    """`query` (of deliveries) narrowed to the campaign and `filters`: the one reading of the
    log's filters, for the page, the CSV and the JSON list alike."""
    query = query.where(Delivery.campaign_id == campaign.id)
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


def _place(cursor: Cursor | None = None) -> ColumnElement[Any]:
    """The log's order as a row value: of each delivery, or of `cursor`."""
    if cursor is None:
        return tuple_(Delivery.status_changed_at, Delivery.id)
    return tuple_(literal(cursor.at, UTCDateTime), literal(cursor.id))


def _rows(result: Iterable[tuple[Delivery, str, str, str]]) -> list[LogRow]:
    return [LogRow(d, office, name, subject) for d, office, name, subject in result]


async def delivery_log(
    session: AsyncSession,
    *,
    campaign: Campaign,
    filters: LogFilter,
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
    offset: int = 0,
) -> LogPage:
    """One page of the campaign's deliveries, most recently changed first: the newest, or
    those older than `before`, or the page newer than `after`; `offset` (old page links) skips
    rows of the newest. A cursor's page reads only its rows (ix_deliveries_campaign_changed),
    however deep it lies; the count stops at COUNT_LIMIT."""
    query = _log_query(campaign, filters)
    if after is not None:
        newest_first = False
        query = query.where(_place() > _place(after)).order_by(
            Delivery.status_changed_at, Delivery.id
        )
    else:
        newest_first = True
        if before is not None:
            query = query.where(_place() < _place(before))
        query = query.order_by(Delivery.status_changed_at.desc(), Delivery.id.desc())
    found = _rows(await session.execute(query.limit(limit + 1).offset(offset)))
    rows = found[:limit] if newest_first else found[:limit][::-1]
    further = len(found) > limit  # another page lies beyond, in the direction read
    if newest_first:
        deeper = before is not None or offset > 0
        newer = Cursor.of(rows[0]) if rows and deeper else None
        older = Cursor.of(rows[-1]) if further else None
    else:
        newer = Cursor.of(rows[0]) if further else None
        older = Cursor.of(rows[-1]) if rows else None
    total = await count(session, campaign=campaign, filters=filters)
    return LogPage(rows, min(total, COUNT_LIMIT), total > COUNT_LIMIT, newer, older)


async def count(session: AsyncSession, *, campaign: Campaign, filters: LogFilter) -> int:
    """The deliveries `filters` match, counted up to one more than COUNT_LIMIT."""
    matching = filtered(select(Delivery.id), campaign, filters).limit(COUNT_LIMIT + 1)
    return await session.scalar(select(func.count()).select_from(matching.subquery())) or 0


async def export(session: AsyncSession, *, campaign: Campaign, filters: LogFilter) -> list[LogRow]:
    """Every delivery `filters` match, in the log's order, for the CSV (nothing counted)."""
    query = _log_query(campaign, filters).order_by(
        Delivery.status_changed_at.desc(), Delivery.id.desc()
    )
    return _rows(await session.execute(query))


async def listing(
    session: AsyncSession,
    *,
    campaign: Campaign,
    filters: LogFilter,
    limit: int,
    after: int | None = None,
    offset: int = 0,
) -> list[Delivery]:
    """The API's list: the campaign's deliveries by id, those after the id `after` (a page
    that reads only its rows, ix_deliveries_campaign_id), or after skipping `offset` (the
    skipped rows read from the index alone: their ids first, then the page's rows)."""
    ids = filtered(select(Delivery.id), campaign, filters)
    if after is not None:
        ids = ids.where(Delivery.id > after)
    page = ids.order_by(Delivery.id).limit(limit).offset(offset).subquery()
    rows = await session.scalars(
        select(Delivery).join(page, page.c.id == Delivery.id).order_by(Delivery.id)
    )
    return list(rows)


async def offices_of(session: AsyncSession, *, campaign: Campaign) -> list[tuple[str, str]]:
    """The offices the campaign has written to, for the log's office filter."""
    # Per office of the (small) directory, a few probes of ix_deliveries_campaign_status
    # (campaign_id, status, recipient_id, ...), one per state: naming every state lets each
    # probe reach recipient_id, where without it an office the campaign never wrote to read
    # all of the campaign's rows (and reading its letters, all of those).
    rows = await session.execute(
        select(Recipient.id, Recipient.office)
        .where(
            Recipient.id.in_(
                select(Delivery.recipient_id).where(
                    Delivery.campaign_id == campaign.id, Delivery.status.in_(list(S))
                )
            )
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
