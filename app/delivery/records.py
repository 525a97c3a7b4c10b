"""The delivery log: a campaign's deliveries filtered by status, channel, office and day, paged,
and the same rows as a CSV export (the staff page and the API share this one query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.delivery.models import Delivery, DeliveryStatus
from app.letters.models import Letter
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
