"""The one writer of delivery events: a typed row, and the ways it reaches `delivery_events`.

Every change to a delivery (a transition, a note, a lease taken or released, a bulk queueing)
builds an `Event` and writes it through this module: `add` for the ORM's unit of work (the event
flushed with its delivery), `add_all` for the queue's bulk paths (one statement, no ORM objects,
which cost a worker more than its SMTP dialogue), and `insert_from` for a fast path that writes
the event in the very statement that changes its delivery (the PostgreSQL outcome's CTE). All
three take their columns from `Event`, so a column added to the log is added everywhere or
refused; tests/delivery/test_events.py checks that the forms write the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Insert, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.delivery.models import DeliveryEvent, DeliveryStatus


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the log: `from_status` is None only for a delivery's first event."""

    delivery_id: int
    at: datetime
    from_status: DeliveryStatus | None
    to_status: DeliveryStatus
    attempt: int
    code: int | None
    detail: str | None
    actor: str

    def row(self) -> dict[str, Any]:
        """The row's columns, as the table stores them (statuses as their text)."""
        return {
            "delivery_id": self.delivery_id,
            "at": self.at,
            "from_status": None if self.from_status is None else self.from_status.value,
            "to_status": self.to_status.value,
            "attempt": self.attempt,
            "code": self.code,
            "detail": self.detail,
            "actor": self.actor,
        }


# The columns every form writes, in the table's order: all of them but the generated id.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Event))
_INSERT = insert(DeliveryEvent)  # built once: the queue's paths run it for every claim


def add(session: AsyncSession, event: Event) -> None:
    """Log `event` in the session's unit of work (flushed with the delivery it is about)."""
    session.add(DeliveryEvent(**event.row()))


async def add_all(connection: AsyncConnection, events: Sequence[Event]) -> None:
    """Log many events in one statement on `connection`, in the caller's transaction."""
    if events:
        await connection.execute(_INSERT, [event.row() for event in events])


def insert_from(source: FromClause, **values: ColumnElement[Any]) -> Insert:
    """`INSERT INTO delivery_events ... SELECT values FROM source`: the event written by the
    statement that changes its deliveries. `values` gives each column's expression over `source`
    (or a parameter) and must name every column of `Event`, no more."""
    if set(values) != set(COLUMNS):
        wrong = sorted(set(values) ^ set(COLUMNS))
        raise ValueError(f"an event statement must give exactly the event's columns: {wrong}")
    rows = select(*(values[column] for column in COLUMNS)).select_from(source)
    return insert(DeliveryEvent).from_select(list(COLUMNS), rows)
