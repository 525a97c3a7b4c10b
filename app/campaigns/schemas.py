"""API shapes of campaigns, their targets and letter previews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from app.campaigns.models import Campaign, CampaignMode, CampaignStatus
from app.recipients.channels import ChannelKind
from app.recipients.files import OnAcknowledgement, ResponseTerm, TermBasis
from app.text import Line, Paragraphs, length_of

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Address = Annotated[EmailStr, StringConstraints(max_length=length_of(Campaign.test_address))]
Text = Annotated[str, Line(length_of(Campaign.title), min_length=1)]
LETTER_CHANNELS = [ChannelKind.email, ChannelKind.postal, ChannelKind.web_form]
# The term for offices whose directory file sets none (all of the source report's: it states
# no term). 30 calendar days is the longest statutory term among our facts (Russia's 59-FZ) and
# a plain month; for bodies abroad no law binds them to answer us, so it is our own target.
DEFAULT_RESPONSE_TERM = ResponseTerm(
    days=30,
    basis=TermBasis.calendar,
    source="organisation's own target",
    on_acknowledgement=OnAcknowledgement.nothing,
)
TERM_HELP = "The term offices without one in their directory file have to answer."


class Selector(BaseModel):
    """Offices matching every given key: {"tag": "eu"}, {"tag": "government", "country": "FR"}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$", max_length=40)] | None = (
        None
    )
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Selector:
        if self.tag is None and self.country is None:
            raise ValueError("a selector needs a tag, a country or both")
        return self


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[Slug] = Field(default_factory=list, description="Offices by id.")
    selectors: list[Selector] = Field(default_factory=list, description="Offices by tag/country.")
    exclude: list[Slug] = Field(default_factory=list, description="Offices to leave out.")


class Pacing(BaseModel):
    """How fast letters may reach one office (enforced by the delivery engine)."""

    model_config = ConfigDict(extra="forbid")

    per_office_per_hour: int = Field(default=20, ge=1, le=10_000)
    per_office_per_day: int = Field(default=100, ge=1, le=100_000)
    office_hours_start: int = Field(
        default=8, ge=0, le=23, description="Local hour, recipient's zone."
    )
    office_hours_end: int = Field(default=18, ge=1, le=24)
    office_days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        min_length=1,
        description="Working days in the office's timezone, Monday = 0.",
    )
    jitter_seconds: int = Field(default=300, ge=0, le=86_400)
    digest_period_hours: int = Field(default=24, ge=1, le=24 * 31)

    @model_validator(mode="after")
    def _hours(self) -> Pacing:
        if self.office_hours_start >= self.office_hours_end:
            raise ValueError("office_hours_start must be before office_hours_end")
        if self.per_office_per_hour > self.per_office_per_day:
            raise ValueError("per_office_per_hour cannot exceed per_office_per_day")
        return self


ChannelList = Annotated[list[ChannelKind], Field(min_length=1, max_length=3)]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    title: Text
    description: Annotated[str, Paragraphs(5000)] = ""
    cases: list[Slug] = Field(default_factory=list)
    targets: Targets = Field(default_factory=Targets)
    template: Slug
    mode: CampaignMode = CampaignMode.individual
    channel_preference: ChannelList = Field(default_factory=lambda: list(LETTER_CHANNELS))
    channel_overrides: dict[Slug, ChannelList] = Field(
        default_factory=dict, description="Per-office channel order, by office id."
    )
    pacing: Pacing = Field(default_factory=Pacing)
    response_term: ResponseTerm = Field(default=DEFAULT_RESPONSE_TERM, description=TERM_HELP)
    test_mode: bool = False
    test_address: Address | None = None


class CampaignUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = None
    description: Annotated[str, Paragraphs(5000)] | None = None
    cases: list[Slug] | None = None
    targets: Targets | None = None
    template: Slug | None = None
    mode: CampaignMode | None = None
    channel_preference: ChannelList | None = None
    channel_overrides: dict[Slug, ChannelList] | None = None
    pacing: Pacing | None = None
    response_term: ResponseTerm | None = Field(default=None, description=TERM_HELP)
    test_mode: bool | None = None
    test_address: Address | None = None
    status: CampaignStatus | None = None
    status_note: Annotated[str, Paragraphs(1000)] | None = None


class TargetRead(BaseModel):
    recipient_id: str
    office: str
    country: str
    language: str
    channel: ChannelKind | None = Field(description="The channel letters will use, if any.")
    channel_id: int | None
    reachable: bool
    reason: str | None = Field(description="Why the office cannot be reached, if it cannot.")


class CampaignRead(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    cases: list[str]
    targets: Targets
    template: str
    mode: CampaignMode
    channel_preference: list[ChannelKind]
    channel_overrides: dict[str, list[ChannelKind]]
    pacing: Pacing
    response_term: ResponseTerm
    status: CampaignStatus
    status_changed_at: datetime
    allowed_transitions: list[CampaignStatus]
    test_mode: bool
    test_address: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class TargetsRead(BaseModel):
    campaign: str
    reachable: list[TargetRead]
    unreachable: list[TargetRead]
