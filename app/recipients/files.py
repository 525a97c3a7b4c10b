"""The schema of `recipients/*.yaml`: one file per office, with every channel the source gives.

An office outlives its holder, so the file names the office first and the holder "as named" in the
source with the date that was last checked. Every channel carries its source and a verification
date. An e-mail address that the source obfuscated is kept as a fact (`obfuscated: true`, the text
as printed) with no address: it must never be guessed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    model_validator,
)

from app.recipients.channels import ChannelKind

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$", max_length=2)]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]


@cache
def _known_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on every call: read it once.
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in _known_timezones():
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelBase(FileModel):
    as_printed: Text | None = Field(default=None, description="The source's text for the channel.")
    label: Text | None = None
    source: Text
    verified_on: date


class EmailChannel(ChannelBase):
    kind: Literal[ChannelKind.email]
    address: EmailStr | None = None
    obfuscated: bool = False

    @model_validator(mode="after")
    def _address_or_obfuscated(self) -> EmailChannel:
        if self.obfuscated and self.address is not None:
            raise ValueError("an obfuscated e-mail channel cannot also have an address")
        if not self.obfuscated and self.address is None:
            raise ValueError("an e-mail channel needs an address or `obfuscated: true`")
        return self


class PostalChannel(ChannelBase):
    kind: Literal[ChannelKind.postal]
    lines: Annotated[list[Text], Field(min_length=1, max_length=8)]
    country: CountryCode


class PhoneChannel(ChannelBase):
    kind: Literal[ChannelKind.phone]
    number: Annotated[str, StringConstraints(pattern=r"^[+0-9][0-9 ()./-]{4,40}$")]


class WebFormChannel(ChannelBase):
    kind: Literal[ChannelKind.web_form]
    url: HttpUrl


Channel = Annotated[
    EmailChannel | PostalChannel | PhoneChannel | WebFormChannel, Field(discriminator="kind")
]


class TermBasis(StrEnum):
    calendar = "calendar"  # every day counts
    working = "working"  # weekends and the country's public holidays do not


class OnAcknowledgement(StrEnum):
    nothing = "nothing"  # an acknowledgement is noted; the answer is due as before
    restart = "restart"  # the term starts again from the (first) acknowledgement


@cache
def _holiday_countries() -> frozenset[str]:
    # Imported on first use: the package builds its lunisolar calendars at import (a fifth of
    # a second), which every process would pay at start for the few that count working days.
    import holidays

    return frozenset(holidays.list_supported_countries())


def has_holiday_calendar(country: str) -> bool:
    """Whether the `holidays` package knows `country`'s public holidays."""
    return country in _holiday_countries()


class ResponseTerm(FileModel):
    """How long an office has to answer a letter, and which rule says so.

    Working days are counted on the holiday calendar of `country` (the office's own country
    when not given). `source` names the law (e.g. Russia's 59-FZ) or says
    "organisation's own target" where no law sets a term. Used by app/accountability."""

    days: int = Field(ge=1, le=366)
    basis: TermBasis = TermBasis.calendar
    country: CountryCode | None = Field(
        default=None, description="Whose public holidays count; the office's country if unset."
    )
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    on_acknowledgement: OnAcknowledgement = OnAcknowledgement.nothing

    @model_validator(mode="after")
    def _known_calendar(self) -> ResponseTerm:
        working = self.basis is TermBasis.working
        if self.country and working and not has_holiday_calendar(self.country):
            raise ValueError(f"no holiday calendar for {self.country}: count calendar days")
        return self


class Source(FileModel):
    document: Text
    section: Text
    entry: Text | None = Field(default=None, description="The source's line for this office.")


class RecipientFile(FileModel):
    id: Slug
    office: Text
    office_as_printed: Text | None = None
    organisation: Text
    holder: Text | None = Field(description="The holder as the source names them.")
    holder_verified_on: date | None = None
    country: CountryCode
    language: LanguageCode
    timezone: Timezone
    salutation: Text
    tags: list[Tag] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    source: Source
    notes: Text | None = None
    # Only where a law (or the office's own published rule) sets one: the source report states
    # none, so the shipped files carry none and the campaign's default term applies.
    response_term: ResponseTerm | None = None

    @model_validator(mode="after")
    def _term_calendar(self) -> RecipientFile:
        term = self.response_term
        own = term is not None and term.basis is TermBasis.working and term.country is None
        if own and not has_holiday_calendar(self.country):
            raise ValueError(f"no holiday calendar for {self.country}: count calendar days")
        return self
