"""Cases: people prosecuted for their civic work, their charges and what a letter should ask."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.files import Category, Status
from app.db import Base, UTCDateTime, utcnow


class Case(Base):
    """One case file: one or more people prosecuted together."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[Category] = mapped_column(
        Enum(Category, native_enum=False, length=40, validate_strings=True), index=True
    )
    region: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    key_dates: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    asks: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    as_of: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default="")

    source_file: Mapped[str | None] = mapped_column(String(300))
    source_hash: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    people: Mapped[list[CasePerson]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="CasePerson.position",
        back_populates="case",
    )


class CasePerson(Base):
    __tablename__ = "case_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    name_as_printed: Mapped[str] = mapped_column(String(200))
    variants: Mapped[list[str]] = mapped_column(JSON, default=list)
    role: Mapped[str] = mapped_column(String(500))
    place: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[Status] = mapped_column(
        Enum(Status, native_enum=False, length=40, validate_strings=True), index=True
    )
    status_note: Mapped[str | None] = mapped_column(Text)
    sentence: Mapped[str | None] = mapped_column(Text)
    sentenced_on: Mapped[str | None] = mapped_column(String(10))
    detention_place: Mapped[str | None] = mapped_column(String(500))

    case: Mapped[Case] = relationship(lazy="raise", back_populates="people")
    charges: Mapped[list[Charge]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="Charge.position",
        back_populates="person",
    )


class Charge(Base):
    __tablename__ = "case_charges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("case_people.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    article: Mapped[str | None] = mapped_column(String(20), index=True)
    code: Mapped[str] = mapped_column(String(200))
    wording: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)

    person: Mapped[CasePerson] = relationship(lazy="raise", back_populates="charges")
