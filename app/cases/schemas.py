"""API shapes of cases: summaries for lists, the full record, and staff edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.cases.files import Ask, Category, KeyDate, PartialDate, Status, Text
from app.schemas import StrictInput


class ChargeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    article: str | None
    code: str
    wording: str
    note: str | None


class PersonBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    status: Status


class PersonRead(PersonBrief):
    name_as_printed: str
    variants: list[str] = Field(description="Other spellings, including the printed form.")
    role: str
    place: str | None
    status_note: str | None
    charges: list[ChargeRead]
    sentence: str | None
    sentenced_on: str | None
    detention_place: str | None


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    category: Category
    region: str | None
    people: list[PersonBrief]


class CaseRead(CaseSummary):
    people: list[PersonRead]  # type: ignore[assignment]
    summary: str
    key_dates: list[dict[str, str]]
    asks: list[dict[str, str]]
    source: dict[str, Any]
    as_of: date
    notes: str | None
    source_file: str | None
    imported_at: datetime | None
    edited_at: datetime | None
    updated_at: datetime


class CaseUpdate(StrictInput):
    title: Text | None = None
    region: str | None = None
    summary: Text | None = None
    key_dates: list[KeyDate] | None = None
    asks: list[Ask] | None = Field(default=None, min_length=1)
    as_of: date | None = None
    notes: str | None = None


class PersonUpdate(StrictInput):
    """A change in a person's situation, e.g. a release: set `status` and `status_note`."""

    status: Status | None = None
    status_note: str | None = None
    role: Text | None = None
    place: str | None = None
    sentence: str | None = None
    sentenced_on: PartialDate | None = None
    detention_place: str | None = None
    variants: list[Text] | None = None
