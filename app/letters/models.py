"""The letter on record: the exact subject and body that were (or will be) sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.recipients.files import ChannelKind


class Letter(Base):
    """One rendered letter. Its text never changes when a template does: it names the template
    and the version (file hash) that produced it."""

    __tablename__ = "letters"

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
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[ChannelKind] = mapped_column(
        Enum(ChannelKind, native_enum=False, length=20, validate_strings=True)
    )
    sender_name: Mapped[str] = mapped_column(String(100))
    sender_city: Mapped[str] = mapped_column(String(100), default="")
    sender_country: Mapped[str] = mapped_column(String(100), default="")
    personal_message: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    template_name: Mapped[str] = mapped_column(String(80))
    template_version: Mapped[str] = mapped_column(String(12))
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="RESTRICT"), index=True
    )
    # The supporter's signature this letter was written for (public signing), if any.
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Digest(Base):
    """One period of a digest campaign: a letter per office listing that period's co-signers."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True
    )
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cosigners: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cosigner(Base):
    """A supporter of a digest campaign, waiting for (or listed in) a digest.

    One row per supporter per campaign, whatever is clicked twice: `supporter_key` is unique
    within the campaign."""

    __tablename__ = "cosigners"
    __table_args__ = (UniqueConstraint("campaign_id", "supporter_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True
    )
    supporter_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="RESTRICT"), index=True
    )
