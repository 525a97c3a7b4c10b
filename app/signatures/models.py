"""Supporters, their signatures (with the consent record), the signatures' tokens and history.

A supporter is an e-mail address, identified by a keyed hash of its normalised form (`email_key`)
so that lookups never need the address itself; the address is kept only to send mail, until the
supporter erases their data. A signature is one supporter's support for one campaign; its status
follows a small state machine written down here as data, and every move is logged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.states import Machine


class SignatureStatus(StrEnum):
    pending = "pending"  # waiting for the supporter to confirm by e-mail
    confirmed = "confirmed"  # letters written (or co-signed in the next digest)
    withdrawn = "withdrawn"  # the supporter took it back; undelivered letters cancelled


S = SignatureStatus
# Unconfirmed signatures are deleted when they expire (purged), not moved to a status.
TRANSITIONS: dict[SignatureStatus, frozenset[SignatureStatus]] = {
    S.pending: frozenset({S.confirmed, S.withdrawn}),
    S.confirmed: frozenset({S.withdrawn}),
    S.withdrawn: frozenset(),
}
MACHINE: Machine[SignatureStatus] = Machine("a signature", TRANSITIONS)


class TokenPurpose(StrEnum):
    confirm = "confirm"  # single use; expires with the pending signature
    status = "status"  # the private status page


class Supporter(Base):
    __tablename__ = "supporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # HMAC-SHA256 of the normalised address; NULL once erased, so nothing links back to it.
    email_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # Confirmation mails sent to this address in the current 24-hour window (the daily cap).
    mail_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mails_in_window: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("campaign_id", "supporter_id", name="uq_signatures_campaign_supporter"),
        Index("ix_signatures_mail_due", "status", "mail_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True
    )
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("supporters.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[SignatureStatus] = mapped_column(
        Enum(SignatureStatus, native_enum=False, length=20, validate_strings=True)
    )
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))  # "form" or "api"
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_note: Mapped[str | None] = mapped_column(Text)

    # The consent record: the exact text shown, its version, when given and when confirmed.
    consent_version: Mapped[str] = mapped_column(String(40))
    consent_text: Mapped[str] = mapped_column(Text)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # unconfirmed: purged after
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Confirmation mail state: written with the signature, sent by the mail round under a lease.
    mails_sent: Mapped[int] = mapped_column(Integer, default=0)
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_lease_owner: Mapped[str | None] = mapped_column(String(100))
    mail_lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_mail_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_mail_error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Supporter] = relationship(lazy="raise")


class SignatureToken(Base):
    """A link sent to the supporter. Only the SHA-256 of the token is stored."""

    __tablename__ = "signature_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20, validate_strings=True)
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignatureEvent(Base):
    """Append-only history of a signature's status and of its confirmation mails."""

    __tablename__ = "signature_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
