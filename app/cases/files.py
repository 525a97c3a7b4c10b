"""The schema of `cases/*.yaml`: one file per case, reviewed like code.

A case covers one or more people prosecuted together (Bokayev and Ayan share one file). Names are
kept exactly as printed, homoglyphs included; the importer derives the single-script display name.
Dates may be partial ("2017", "2017-06") because the report often gives only a month.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

_PARTIAL_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def _partial_date(value: str) -> str:
    if not _PARTIAL_DATE.match(value):
        raise ValueError("must be a date written YYYY, YYYY-MM or YYYY-MM-DD")
    if len(value) == 10:
        date.fromisoformat(value)  # rejects 2017-02-30
    return value


def _from_yaml(value: object) -> object:
    # YAML reads 2016-11-28 as a date and 2017 as an int; both are fine here.
    if isinstance(value, date | int) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


PartialDate = Annotated[
    str,
    BeforeValidator(_from_yaml),
    StringConstraints(max_length=10),
    AfterValidator(_partial_date),
]


class Category(StrEnum):
    """The report's sections 2–7."""

    civil_society_activists = "civil_society_activists"
    trade_union_activists = "trade_union_activists"
    journalists = "journalists"
    social_media_users = "social_media_users"
    ablyazov_case = "ablyazov_case"
    pursued_abroad = "pursued_abroad"


class Status(StrEnum):
    """Where a person stood as of the report."""

    imprisoned = "imprisoned"
    in_detention = "in_detention"
    compulsory_psychiatric_treatment = "compulsory_psychiatric_treatment"
    restricted_freedom = "restricted_freedom"
    suspended_sentence = "suspended_sentence"
    under_prosecution = "under_prosecution"
    pursued_abroad = "pursued_abroad"
    at_risk_abroad = "at_risk_abroad"
    released = "released"


class AskKind(StrEnum):
    """What a letter asks the authorities, or an official, to do."""

    release = "release"
    quash_conviction = "quash_conviction"
    drop_charges = "drop_charges"
    end_forced_psychiatric_treatment = "end_forced_psychiatric_treatment"
    medical_care = "medical_care"
    transfer_near_family = "transfer_near_family"
    investigate_torture = "investigate_torture"
    access_to_counsel = "access_to_counsel"
    lift_restrictions = "lift_restrictions"
    fair_trial = "fair_trial"
    stop_extradition = "stop_extradition"
    protection_abroad = "protection_abroad"
    investigate_threats = "investigate_threats"
    monitor_case = "monitor_case"


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Charge(FileModel):
    article: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?(\(\d+\))*$")] | None = Field(
        description="Article number as the report gives it; null where the report gives none."
    )
    code: Text = "Criminal Code of the Republic of Kazakhstan"
    wording: Text = Field(description="The offence in the report's words, without quote marks.")
    note: Text | None = None


class Person(FileModel):
    name_as_printed: Text = Field(description="Exactly as the body of the report prints it.")
    name: Text | None = Field(
        default=None, description="Latin display spelling; derived from name_as_printed if absent."
    )
    variants: list[Text] = Field(default_factory=list, description="Other spellings in the report.")
    role: Text
    place: Text | None = None
    status: Status
    status_note: Text | None = None
    charges: list[Charge] = Field(default_factory=list)
    sentence: Text | None = None
    sentenced_on: PartialDate | None = None
    detention_place: Text | None = None


class KeyDate(FileModel):
    date: PartialDate
    event: Text


class Ask(FileModel):
    kind: AskKind
    text: Text


class Source(FileModel):
    document: Text
    section: Text


class CaseFile(FileModel):
    id: Slug
    title: Text
    category: Category
    region: Text | None = None
    people: Annotated[list[Person], Field(min_length=1)]
    summary: Text
    key_dates: list[KeyDate] = Field(default_factory=list)
    asks: Annotated[list[Ask], Field(min_length=1)]
    source: Source
    as_of: date
    notes: Text | None = None
