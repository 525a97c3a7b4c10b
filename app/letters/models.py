"""The letter on record: the exact subject and body that were (or will be) sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.recipients.channels import ChannelKind


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
