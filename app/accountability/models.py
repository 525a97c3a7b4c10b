"""Answer clocks: one per delivered letter, from the day it reached the office to its answer.

A clock starts when the letter's delivery first reached a delivered state (an e-mail `sent`,
a postal letter `posted`, a web-form task `done`: `STARTS`), on that day in the office's
timezone, and keeps the term it was started with, so a later change to the office's or the
campaign's term never moves a due date already given. The worker's round (`round.py`) starts
clocks and settles them from the responses linked to the letter; the state (awaiting,
acknowledged, answered, overdue) is read against a given day (`service.state_of`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.delivery.models import DeliveryStatus

# The delivery states in which a letter has reached its office (or the post), per channel's
# machine: `delivered` follows `sent` or `posted` where a receipt or tracking says so.
STARTS = frozenset(
    {DeliveryStatus.sent, DeliveryStatus.delivered, DeliveryStatus.posted, DeliveryStatus.done}
)
# A started letter that came back: no answer can be expected, so it is not overdue.
UNDELIVERED = frozenset({DeliveryStatus.bounced, DeliveryStatus.returned})


class AnswerClock(Base):
    __tablename__ = "answer_clocks"
    __table_args__ = (
        # A campaign's clocks by office and due date (its page and summary), an office's across
        # campaigns, and the overdue list: open clocks by due date.
        Index("ix_answer_clocks_campaign", "campaign_id", "recipient_id", "due_on"),
        Index("ix_answer_clocks_office", "recipient_id", "due_on"),
        Index("ix_answer_clocks_open", "answered_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="RESTRICT"), unique=True
    )
    letter_id: Mapped[int] = mapped_column(
        ForeignKey("letters.id", ondelete="RESTRICT"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the delivery's first such event
    started_on: Mapped[date] = mapped_column(Date)  # that moment's day where the office is
    due_on: Mapped[date] = mapped_column(Date)
    # The term this clock counts by (recipients.files.ResponseTerm as JSON, its country filled
    # in) and where it came from: "office" (its directory file) or "campaign" (the default).
    term: Mapped[dict[str, Any]] = mapped_column(JSON)
    term_from: Mapped[str] = mapped_column(String(20))
    acknowledged_on: Mapped[date | None] = mapped_column(Date)
    acknowledgement_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="RESTRICT")
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id", ondelete="RESTRICT"))
    answer_kind: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
