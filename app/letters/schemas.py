"""API shapes of letters: who signs them, previews, and the letter on record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.campaigns.schemas import TargetRead
from app.recipients.channels import ChannelKind
from app.text import Line as TextLine
from app.text import Paragraphs

Line = Annotated[str, TextLine(100)]
Name = Annotated[str, TextLine(100, min_length=1)]
Message = Annotated[str, Paragraphs(2000)]


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
