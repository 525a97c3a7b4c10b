"""Inbound mail as received, and the responses staff read: replies, auto-replies, postal answers.

Every inbound message is stored raw first (`inbound_messages`), before anything is made of it, so a
bug in matching loses nothing: the message stays `received` and is processed again. A processed
message is `matched` to a delivery, `unmatched` (waiting in the review inbox), or `ignored` by
staff; one that cannot be read (too deeply nested, too many parts: see `mime`) is `failed`, with
the reason in `detail`, and is never processed again, since the same bytes would fail the same
way. Bounces change their delivery; replies and auto-replies become `responses`, linked to the
letter, office, case and campaign. Postal answers are recorded by hand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.states import Machine


class InboundStatus(StrEnum):
    received = "received"  # stored; not (yet) processed
    matched = "matched"  # mapped to a delivery, and applied to it
    unmatched = "unmatched"  # in the review inbox, for staff to match or ignore
    ignored = "ignored"  # staff decided it needs nothing
    failed = "failed"  # could not be read (the reason is in `detail`); kept as it came


class InboundKind(StrEnum):
    bounce = "bounce"  # a delivery status notification (or a non-standard bounce)
    auto_reply = "auto_reply"  # vacation notices, "automatic reply", ticket acknowledgements
    reply = "reply"  # written by a person


# Staff may move an unmatched message to matched (by hand) or ignored, and undo an ignore. A
# failed message is final: nothing can be matched or reviewed in what could not be read (staff
# read it as .eml), and it is not taken up again in a loop.
INBOUND_TRANSITIONS: dict[InboundStatus, frozenset[InboundStatus]] = {
    InboundStatus.received: frozenset(
        {
            InboundStatus.matched,
            InboundStatus.unmatched,
            InboundStatus.ignored,
            InboundStatus.failed,
        }
    ),
    InboundStatus.unmatched: frozenset({InboundStatus.matched, InboundStatus.ignored}),
    InboundStatus.ignored: frozenset({InboundStatus.unmatched}),
    InboundStatus.matched: frozenset(),
    InboundStatus.failed: frozenset(),
}
INBOUND_MACHINE: Machine[InboundStatus] = Machine("an inbound message", INBOUND_TRANSITIONS)


class ResponseKind(StrEnum):
    unclassified = "unclassified"  # a reply staff have not classified yet
    acknowledgement = "acknowledgement"
    substantive = "substantive"
    refusal = "refusal"
    forwarded = "forwarded"
    auto_reply = "auto_reply"


class ResponseMedium(StrEnum):
    email = "email"
    postal = "postal"
    other = "other"  # a phone call, a meeting: recorded by hand


class InboundMessage(Base):
    """One message as it arrived (raw bytes, capped), and what the pipeline made of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_status", "status", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # api, imap, cli
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # the same bytes twice: once
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)  # of the message as received
    truncated: Mapped[bool] = mapped_column(default=False)  # raw keeps only the first bytes
    envelope_to: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[InboundStatus] = mapped_column(
        Enum(InboundStatus, native_enum=False, length=20, validate_strings=True)
    )
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[InboundKind | None] = mapped_column(
        Enum(InboundKind, native_enum=False, length=20, validate_strings=True)
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="RESTRICT"), index=True
    )
    matched_by: Mapped[str | None] = mapped_column(String(20))  # token, references, staff
    # For a bounce: the failed recipient and its RFC 3463 status ("5.1.1"), as the DSN gives them.
    dsn_recipient: Mapped[str | None] = mapped_column(String(320))
    dsn_status: Mapped[str | None] = mapped_column(String(16))
    hard_bounce: Mapped[bool] = mapped_column(default=False)  # failed for good (5.x.x)
    detail: Mapped[str | None] = mapped_column(Text)  # what the pipeline concluded, for staff
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(320))  # staff who matched or ignored


class Response(Base):
    """An office's answer to a letter: by e-mail (from an inbound message) or by post (by hand)."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True
    )
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    letter_id: Mapped[int | None] = mapped_column(
        ForeignKey("letters.id", ondelete="RESTRICT"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="RESTRICT"), index=True
    )
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="RESTRICT"), unique=True
    )
    medium: Mapped[ResponseMedium] = mapped_column(
        Enum(ResponseMedium, native_enum=False, length=20, validate_strings=True)
    )
    kind: Mapped[ResponseKind] = mapped_column(
        Enum(ResponseKind, native_enum=False, length=20, validate_strings=True), index=True
    )
    # The pipeline's guess from the wording; staff decide `kind`.
    suggested_kind: Mapped[ResponseKind | None] = mapped_column(
        Enum(ResponseKind, native_enum=False, length=20, validate_strings=True)
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    from_name: Mapped[str | None] = mapped_column(String(300))
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(320))
    classified_by: Mapped[str | None] = mapped_column(String(320))
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
