"""API shapes of cases: summaries for lists, the full record, and staff edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.cases.files import AskKind, Category, PartialDate, Status
from app.cases.models import Case, CasePerson
from app.schemas import StrictInput
from app.text import Line, Paragraphs, length_of


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


PersonName = Annotated[str, Line(length_of(CasePerson.name), min_length=1)]


class KeyDateIn(StrictInput):
    date: PartialDate
    event: Annotated[str, Line(1000, min_length=1)]


class AskIn(StrictInput):
    kind: AskKind
    text: Annotated[str, Paragraphs(2000, min_length=1)]


class CaseUpdate(StrictInput):
    title: Annotated[str, Line(length_of(Case.title), min_length=1)] | None = None
    region: Annotated[str, Line(length_of(Case.region))] | None = None
    summary: Annotated[str, Paragraphs(20_000, min_length=1)] | None = None
    key_dates: Annotated[list[KeyDateIn], Field(max_length=200)] | None = None
    asks: Annotated[list[AskIn], Field(min_length=1, max_length=50)] | None = None
    as_of: date | None = None
    notes: Annotated[str, Paragraphs(20_000)] | None = None


class PersonUpdate(StrictInput):
    """A change in a person's situation, e.g. a release: set `status` and `status_note`."""

    status: Status | None = None
    status_note: Annotated[str, Paragraphs(5000)] | None = None
    role: Annotated[str, Line(length_of(CasePerson.role), min_length=1)] | None = None
    place: Annotated[str, Line(length_of(CasePerson.place))] | None = None
    sentence: Annotated[str, Paragraphs(5000)] | None = None
    sentenced_on: PartialDate | None = None
    detention_place: Annotated[str, Line(length_of(CasePerson.detention_place))] | None = None
    variants: (
        Annotated[
            list[Annotated[str, Line(length_of(CasePerson.name), min_length=1)]],
            Field(max_length=50),
        ]
        | None
    ) = None
