"""API shapes of answer clocks: one clock, and the counts per office and per campaign."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from app.delivery.models import DeliveryStatus
from app.recipients.channels import ChannelKind
from app.recipients.files import ResponseTerm

TermFrom = Literal["office", "campaign"]


class ClockState(StrEnum):
    awaiting = "awaiting"  # within its term, nothing heard
    acknowledged = "acknowledged"  # within its term, receipt acknowledged
    overdue = "overdue"  # past its due date without an answer
    answered = "answered"  # a response stopped the clock
    undelivered = "undelivered"  # it bounced or came back after all: no answer to expect


class StateCounts(BaseModel):
    awaiting: int = 0
    acknowledged: int = 0
    overdue: int = 0
    answered: int = 0
    undelivered: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return sum(getattr(self, state.value) for state in ClockState)


class ClockRead(BaseModel):
    id: int
    letter_id: int
    delivery_id: int
    campaign: str
    office_id: str
    office: str
    channel: ChannelKind
    delivery_status: DeliveryStatus
    started_on: date = Field(description="The day the letter was delivered (or posted), there.")
    due_on: date = Field(description="The last day an answer is on time.")
    state: ClockState
    days_overdue: int = Field(description="Days past the due date; 0 unless overdue.")
    days_left: int = Field(description="Days until the due date; 0 unless still waiting.")
    term: ResponseTerm = Field(description="The term this clock counts by, with its source.")
    term_from: TermFrom = Field(description="The office's directory file, or the campaign.")
    acknowledged_on: date | None
    answered_at: datetime | None
    response_id: int | None = Field(description="The response that stopped the clock.")
    answer_kind: str | None


class OfficeCounts(BaseModel):
    """One office within one campaign: the term its next letters get, and its clocks."""

    office_id: str
    office: str
    country: str
    term: ResponseTerm
    term_from: TermFrom
    counts: StateCounts


class CampaignDueDates(BaseModel):
    campaign: str
    as_of: date
    default_term: ResponseTerm = Field(description="For offices without a term of their own.")
    totals: StateCounts
    offices: list[OfficeCounts] = Field(description="Most overdue first.")


class CampaignCounts(BaseModel):
    """One campaign's letters to one office."""

    campaign: str
    title: str
    term: ResponseTerm
    term_from: TermFrom
    counts: StateCounts


class OfficeDueDates(BaseModel):
    office_id: str
    office: str
    as_of: date
    own_term: ResponseTerm | None = Field(description="The term its directory file sets, if any.")
    totals: StateCounts
    campaigns: list[CampaignCounts]
