"""Campaign tables: the campaign, its cases and explicit targets, and its status history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.states import Machine


class CampaignStatus(StrEnum):
    draft = "draft"
    open = "open"
    paused = "paused"
    closed = "closed"


class CampaignMode(StrEnum):
    individual = "individual"  # one letter per supporter per office
    digest = "digest"  # one letter per office per period, listing the co-signers


# The allowed transitions, as data. Anything else is refused.
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.draft: frozenset({CampaignStatus.open, CampaignStatus.closed}),
    CampaignStatus.open: frozenset({CampaignStatus.paused, CampaignStatus.closed}),
    CampaignStatus.paused: frozenset({CampaignStatus.open, CampaignStatus.closed}),
    CampaignStatus.closed: frozenset(),
}
MACHINE: Machine[CampaignStatus] = Machine("a campaign", TRANSITIONS)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    template_name: Mapped[str] = mapped_column(String(80))
    mode: Mapped[CampaignMode] = mapped_column(
        Enum(CampaignMode, native_enum=False, length=20, validate_strings=True)
    )
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=20, validate_strings=True), index=True
    )
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    selectors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel_preference: Mapped[list[str]] = mapped_column(JSON)
    channel_overrides: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    pacing: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The term offices without one of their own have to answer (recipients.files.ResponseTerm
    # as JSON): see schemas.DEFAULT_RESPONSE_TERM and app/accountability.
    response_term: Mapped[dict[str, Any]] = mapped_column(JSON)
    test_mode: Mapped[bool] = mapped_column(default=False)
    test_address: Mapped[str | None] = mapped_column(String(320))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    cases: Mapped[list[CampaignCase]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CampaignCase.position"
    )
    targets: Mapped[list[CampaignTarget]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CampaignTarget.recipient_id"
    )

    @property
    def case_ids(self) -> list[str]:
        return [c.case_id for c in self.cases]

    @property
    def recipient_ids(self) -> list[str]:
        return [t.recipient_id for t in self.targets]


class CampaignCase(Base):
    __tablename__ = "campaign_cases"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class CampaignTarget(Base):
    """An office named explicitly as a target (selectors add more by tag and country)."""

    __tablename__ = "campaign_targets"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class CampaignEvent(Base):
    """Append-only history of a campaign's status."""

    __tablename__ = "campaign_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
