"""API shapes of the directory: offices, their channels and staff edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl

from app.recipients.files import (
    ChannelKind,
    CountryCode,
    LanguageCode,
    Tag,
    Text,
    Timezone,
)
from app.schemas import StrictInput


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: ChannelKind
    value: str | None = Field(description="E-mail address, phone number or web-form URL.")
    lines: list[str] | None = Field(description="Postal address lines, without the country.")
    country: str | None
    obfuscated: bool
    as_printed: str | None
    label: str | None
    source: str
    verified_on: date | None
    disabled_reason: str | None
    usable: bool = Field(description="Whether a letter can go through this channel now.")
    problem: str | None = Field(description="Why the channel cannot be used, if it cannot.")


class RecipientRead(BaseModel):
    id: str
    office: str
    office_as_printed: str | None
    organisation: str
    holder: str | None
    holder_as_printed: str | None
    holder_verified_on: date | None
    country: str
    language: str
    timezone: str
    salutation: str
    tags: list[str]
    channels: list[ChannelRead]
    notes: str | None
    source: dict[str, Any]
    source_file: str | None
    imported_at: datetime | None
    edited_at: datetime | None
    updated_at: datetime


class RecipientUpdate(StrictInput):
    """Staff corrections. A new `holder` without `holder_verified_on` counts as verified today."""

    office: Text | None = None
    organisation: Text | None = None
    holder: Text | None = None
    holder_verified_on: date | None = None
    country: CountryCode | None = None
    language: LanguageCode | None = None
    timezone: Timezone | None = None
    salutation: Text | None = None
    tags: list[Tag] | None = None
    notes: str | None = None


class _ChannelIn(StrictInput):
    label: Text | None = None
    source: Text = Field(description="How this was verified, e.g. 'phoned the office 2026-11-20'.")
    verified_on: date | None = Field(default=None, description="Defaults to today.")


class EmailChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.email]
    address: EmailStr


class PostalChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.postal]
    lines: Annotated[list[Text], Field(min_length=1, max_length=8)]
    country: CountryCode


class PhoneChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.phone]
    number: Annotated[str, Field(pattern=r"^[+0-9][0-9 ()./-]{4,40}$")]


class WebFormChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.web_form]
    url: HttpUrl


ChannelCreate = Annotated[
    EmailChannelIn | PostalChannelIn | PhoneChannelIn | WebFormChannelIn,
    Field(discriminator="kind"),
]


class ChannelUpdate(StrictInput):
    """Fields that apply to the channel's kind only; `disabled_reason: null` re-enables it."""

    address: EmailStr | None = None
    lines: Annotated[list[Text], Field(min_length=1, max_length=8)] | None = None
    country: CountryCode | None = None
    number: Annotated[str, Field(pattern=r"^[+0-9][0-9 ()./-]{4,40}$")] | None = None
    url: HttpUrl | None = None
    label: Text | None = None
    source: Text | None = None
    verified_on: date | None = None
    disabled_reason: Text | None = None


class ChannelHealthRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: ChannelKind
    label: str | None
    value: str | None
    problem: str | None


class OfficeHealthRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    recipient_id: str
    office: str
    holder: str | None
    holder_verified_on: date | None
    holder_stale: bool
    status: str = Field(description="ok, warning, or unreachable (no usable channel).")
    usable: list[ChannelHealthRead]
    unusable: list[ChannelHealthRead]
    warnings: list[str]


class DirectoryHealthRead(BaseModel):
    checked_at: datetime
    holder_max_age_days: int
    reachable: bool = Field(description="Every office has at least one usable channel.")
    counts: dict[str, int]
    offices: list[OfficeHealthRead]
