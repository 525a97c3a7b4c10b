"""The deliveries table is the queue; delivery_events is its append-only log.

Each letter gets one delivery per channel. Its status follows the channel's state machine,
written down here as data; a worker holds a delivery only through a lease that expires, so a
killed worker's work is found again and nothing confirmed is lost.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from app.db import Base, UTCDateTime, utcnow
from app.recipients.channels import ChannelKind
from app.states import Machine


class DeliveryStatus(StrEnum):
    queued = "queued"  # waiting for its next attempt time
    sending = "sending"  # leased by a worker
    sent = "sent"  # accepted by the SMTP server (250)
    delivered = "delivered"
    bounced = "bounced"
    failed = "failed"  # permanent failure, or gave up retrying
    cancelled = "cancelled"
    printed = "printed"  # in a print batch, or accepted by a print-and-mail provider
    posted = "posted"
    returned = "returned"
    open = "open"  # a manual task waiting for a person
    done = "done"
    skipped = "skipped"


S = DeliveryStatus
TRANSITIONS: dict[ChannelKind, dict[DeliveryStatus, frozenset[DeliveryStatus]]] = {
    ChannelKind.email: {
        S.queued: frozenset({S.sending, S.cancelled}),
        S.sending: frozenset({S.sent, S.queued, S.failed}),  # queued again = retry wait
        S.sent: frozenset({S.delivered, S.bounced}),
        S.delivered: frozenset({S.bounced}),
        S.bounced: frozenset(),
        S.failed: frozenset({S.queued}),  # staff retry
        S.cancelled: frozenset({S.queued}),
    },
    ChannelKind.postal: {
        # printed straight from queued: in a print batch; through sending: a print-and-mail
        # provider accepted it (sending = leased by a worker, as for e-mail)
        S.queued: frozenset({S.printed, S.sending, S.cancelled}),
        S.sending: frozenset({S.printed, S.queued, S.failed}),  # queued again = retry wait
        S.printed: frozenset({S.posted, S.queued}),
        S.posted: frozenset({S.delivered, S.returned}),
        S.delivered: frozenset(),
        S.returned: frozenset({S.queued}),
        S.failed: frozenset({S.queued}),  # staff retry
        S.cancelled: frozenset({S.queued}),
    },
    ChannelKind.web_form: {
        S.open: frozenset({S.done, S.skipped}),
        S.done: frozenset(),
        S.skipped: frozenset({S.open}),
    },
}
# Each channel's machine over those moves: `MACHINES[channel].check(start, to)` refuses the rest.
MACHINES: dict[ChannelKind, Machine[DeliveryStatus]] = {
    channel: Machine(f"a {channel.value} delivery", moves) for channel, moves in TRANSITIONS.items()
}
INITIAL: dict[ChannelKind, DeliveryStatus] = {
    ChannelKind.email: S.queued,
    ChannelKind.postal: S.queued,
    ChannelKind.web_form: S.open,
}


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # Also the index of letter_id alone (a letter's deliveries).
        UniqueConstraint("letter_id", "channel", name="uq_deliveries_letter_channel"),
        Index("ix_deliveries_due", "channel", "status", "next_attempt_at", "id"),
        # The pacing count: an office's e-mails changed in the last day, read from the index
        # alone, however long the history behind them.
        Index(
            "ix_deliveries_office_sends", "channel", "recipient_id", "status_changed_at", "status"
        ),
        # A campaign's reports read only its own deliveries: the dashboard's and the schedule's
        # counts by state, office and channel (from the index alone); the delivery log in its
        # order (last changed first) and the API's list in id order, each paged by a cursor.
        Index(
            "ix_deliveries_campaign_status",
            "campaign_id",
            "status",
            "recipient_id",
            "channel",
            "next_attempt_at",
        ),
        Index("ix_deliveries_campaign_changed", "campaign_id", "status_changed_at", "id"),
        Index("ix_deliveries_campaign_id", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="RESTRICT"))
    # The letter's campaign, copied here so that a campaign's reports need not go through
    # letters (every one of them filtered the whole table through a join before).
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id", ondelete="RESTRICT"))
    channel: Mapped[ChannelKind] = mapped_column(
        Enum(ChannelKind, native_enum=False, length=20, validate_strings=True)
    )
    address: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=20, validate_strings=True)
    )
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    retrying_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first temporary failure
    external_id: Mapped[str | None] = mapped_column(String(300))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("print_batches.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrintBatch(Base):
    """Postal letters printed together: one PDF, one manifest, posted together."""

    __tablename__ = "print_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_by: Mapped[str | None] = mapped_column(String(320))
    # made from a campaign in test mode: its pages say TEST, for its letters carry real addresses
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DeliveryEvent(Base):
    """Every transition and every attempt, with the server's answer. Never updated."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(320))


class ChannelPause(Base):
    """A channel stopped for everyone: its credentials or settings are wrong, not any letter.

    While a pause holds, workers claim nothing on that channel and no letter spends an attempt;
    it lifts by itself at `until` (to try the settings again) or when staff resume it."""

    __tablename__ = "channel_pauses"

    channel: Mapped[ChannelKind] = mapped_column(
        Enum(ChannelKind, native_enum=False, length=20, validate_strings=True), primary_key=True
    )
    reason: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_by: Mapped[str] = mapped_column(String(320))
