"""The directory of offices: who a letter goes to, and through which channels."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.recipients.channels import ChannelKind


class Recipient(Base):
    """An office (not a person): holders change, the office persists."""

    __tablename__ = "recipients"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    office: Mapped[str] = mapped_column(String(300))
    office_as_printed: Mapped[str | None] = mapped_column(String(300))
    organisation: Mapped[str] = mapped_column(String(300))
    holder: Mapped[str | None] = mapped_column(String(200))
    holder_as_printed: Mapped[str | None] = mapped_column(String(200))
    holder_verified_on: Mapped[date | None] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2), index=True)
    language: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    salutation: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The office's response term (files.ResponseTerm as JSON), where its data file gives one;
    # none: the campaign's default term applies (app/accountability).
    response_term: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    source_file: Mapped[str | None] = mapped_column(String(300))
    source_hash: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tags: Mapped[list[RecipientTag]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="RecipientTag.tag",
        back_populates="recipient",
    )
    channels: Mapped[list[RecipientChannel]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="RecipientChannel.position",
        back_populates="recipient",
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


class RecipientTag(Base):
    __tablename__ = "recipient_tags"

    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    recipient: Mapped[Recipient] = relationship(lazy="raise", back_populates="tags")


class RecipientChannel(Base):
    """One way to reach an office, with where we learned it and when it was last checked.

    `disabled_reason` is staff's override (e.g. "bounced"); other reasons a channel cannot be used
    (an obfuscated address, a web form needing a person) follow from the data: see `health.py`.
    """

    __tablename__ = "recipient_channels"
    __table_args__ = (Index("ix_recipient_channels_recipient_kind", "recipient_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[ChannelKind] = mapped_column(
        Enum(ChannelKind, native_enum=False, length=20, validate_strings=True)
    )
    value: Mapped[str | None] = mapped_column(String(500))
    lines: Mapped[list[str] | None] = mapped_column(JSON)
    country: Mapped[str | None] = mapped_column(String(2))
    obfuscated: Mapped[bool] = mapped_column(default=False)
    as_printed: Mapped[str | None] = mapped_column(String(500))
    label: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(300))
    verified_on: Mapped[date | None] = mapped_column(Date)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # Set by inbound mail after repeated hard bounces to this address (app/responses): the
    # channel stays usable, but the health report warns until staff verify a new address.
    suspect_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspect_reason: Mapped[str | None] = mapped_column(String(300))

    recipient: Mapped[Recipient] = relationship(lazy="raise", back_populates="channels")
