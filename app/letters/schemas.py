"""API shapes of letters: who signs them, previews, and the letter on record."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.campaigns.schemas import TargetRead
from app.recipients.files import ChannelKind

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value) or "\n" in value or "\r" in value:
        raise ValueError("must be one line without control characters")
    return value


def _paragraphs(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.sub("", value.replace("\t", " ")) != value.replace("\t", " "):
        raise ValueError("must not contain control characters")
    return value.strip()


Line = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_single_line)
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_single_line),
]
Message = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_paragraphs)]


class SenderIn(BaseModel):
    """Who signs a letter, and their own paragraph (included verbatim, never as template code)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    city: Line = ""
    country: Line = ""
    message: Message = ""


class PreviewRead(BaseModel):
    subject: str
    body: str
    language: str
    template_name: str
    template_version: str
    recipient_id: str
    case_id: str | None
    target: TargetRead


class LetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    recipient_id: str
    case_id: str | None
    channel: ChannelKind
    sender_name: str
    sender_city: str
    sender_country: str
    personal_message: str
    subject: str
    body: str
    language: str
    template_name: str
    template_version: str
    created_at: datetime


class LettersCreated(BaseModel):
    created: list[LetterRead]
    existing: list[LetterRead] = Field(description="Letters this sender already had: not redone.")
    unreachable: list[TargetRead]
