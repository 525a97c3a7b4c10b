"""API shapes of the directory: offices, their channels and staff edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
)
from sqlalchemy.orm import InstrumentedAttribute

from app.recipients.channels import ChannelKind
from app.recipients.files import (
    CountryCode,
    LanguageCode,
    Tag,
    Timezone,
)
from app.recipients.models import Recipient, RecipientChannel
from app.schemas import StrictInput
from app.text import Line, Paragraphs, length_of


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


def _line(column: InstrumentedAttribute[Any], *, required: bool = False) -> Line:
    return Line(length_of(column), min_length=1 if required else 0)


_URL_MAX = length_of(RecipientChannel.value)


def _fits(url: HttpUrl) -> HttpUrl:
    # Normalising can lengthen what was sent (a trailing slash, an IDN in punycode).
    if len(str(url)) > _URL_MAX:
        raise ValueError(f"the URL is longer than {_URL_MAX} characters")
    return url


WebFormUrl = Annotated[HttpUrl, UrlConstraints(max_length=_URL_MAX), AfterValidator(_fits)]
AddressLine = Annotated[str, Line(200, min_length=1)]
Reason = Annotated[str, Line(length_of(RecipientChannel.disabled_reason), min_length=1)]


class RecipientUpdate(StrictInput):
    """Staff corrections. A new `holder` without `holder_verified_on` counts as verified today."""

    office: Annotated[str, _line(Recipient.office, required=True)] | None = None
    organisation: Annotated[str, _line(Recipient.organisation, required=True)] | None = None
    holder: Annotated[str, _line(Recipient.holder, required=True)] | None = None
    holder_verified_on: date | None = None
    country: CountryCode | None = None
    language: LanguageCode | None = None
    timezone: Timezone | None = None
    salutation: Annotated[str, _line(Recipient.salutation, required=True)] | None = None
    tags: list[Tag] | None = None
    notes: Annotated[str, Paragraphs(10_000)] | None = None


class _ChannelIn(StrictInput):
    label: Annotated[str, _line(RecipientChannel.label)] | None = None
    source: Annotated[str, _line(RecipientChannel.source, required=True)] = Field(
        description="How this was verified, e.g. 'phoned the office 2026-11-20'."
    )
    verified_on: date | None = Field(default=None, description="Defaults to today.")


class EmailChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.email]
    address: Annotated[EmailStr, StringConstraints(max_length=320)]


class PostalChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.postal]
    lines: Annotated[list[AddressLine], Field(min_length=1, max_length=8)]
    country: CountryCode


class PhoneChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.phone]
    number: Annotated[str, Field(pattern=r"^[+0-9][0-9 ()./-]{4,40}$", max_length=41)]


class WebFormChannelIn(_ChannelIn):
    kind: Literal[ChannelKind.web_form]
    url: WebFormUrl


ChannelCreate = Annotated[
    EmailChannelIn | PostalChannelIn | PhoneChannelIn | WebFormChannelIn,
    Field(discriminator="kind"),
]


class ChannelUpdate(StrictInput):
    """Fields that apply to the channel's kind only; `disabled_reason: null` re-enables it."""

    address: Annotated[EmailStr, StringConstraints(max_length=320)] | None = None
    lines: Annotated[list[AddressLine], Field(min_length=1, max_length=8)] | None = None
    country: CountryCode | None = None
    number: Annotated[str, Field(pattern=r"^[+0-9][0-9 ()./-]{4,40}$", max_length=41)] | None = None
    url: WebFormUrl | None = None
    label: Annotated[str, _line(RecipientChannel.label)] | None = None
    source: Annotated[str, _line(RecipientChannel.source, required=True)] | None = None
    verified_on: date | None = None
    disabled_reason: (
        Annotated[str, _line(RecipientChannel.disabled_reason, required=True)] | None
    ) = None


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
