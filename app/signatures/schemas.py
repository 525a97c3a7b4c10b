"""What a supporter sends to sign, what they get back, and their data export.

Every field refuses control characters and bidirectional overrides (a name that reads
differently than it is stored is a spoofing tool); single-line fields also refuse CR/LF. The
personal paragraph keeps its line breaks, since it never reaches a mail header, and is capped.
Errors carry a stable `type` so the HTML form can show a translated message per field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.text import Line, Paragraphs, one_line

MESSAGE_MAX = 1000


Name = Annotated[str, Line(100, min_length=1)]
Place = Annotated[str, Line(100, min_length=1)]
Message = Annotated[str, Paragraphs(MESSAGE_MAX)]
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(one_line)]


class SignatureIn(BaseModel):
    """A signature as the form or another front end sends it."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="As it should appear on the letters.")
    email: Email = Field(description="Receives the confirmation link; never shown to anyone.")
    city: Place
    country: Place
    message: Message = Field(default="", description=f"Optional, up to {MESSAGE_MAX} characters.")
    consent: bool = Field(description="The supporter ticked the consent statement.")
    consent_version: Annotated[str, StringConstraints(max_length=40)] = Field(
        description="The version of the consent statement shown (see GET .../signing)."
    )
    website: Annotated[str, StringConstraints(max_length=200)] = Field(
        default="", description="Leave empty (a field people never see; bots fill it in)."
    )
    form_token: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="The signed token of the HTML form; other front ends omit it."
    )


class SignatureAccepted(BaseModel):
    status: str = "accepted"
    detail: str = Field(
        default="If the address is valid, a confirmation link is on its way: check your inbox."
    )


class SigningInfo(BaseModel):
    """What another front end needs to show a campaign's form."""

    slug: str
    title: str
    accepting: bool
    signatures: int = Field(description="Confirmed signatures.")
    consent_version: str
    consent_text: str = Field(description="Show it verbatim next to the checkbox.")
    message_max: int = MESSAGE_MAX


class LetterStatus(BaseModel):
    office: str
    case: str | None
    channel: str
    status: str = Field(description="The delivery's status: queued, sent, posted, cancelled…")
    subject: str


class SignatureExport(BaseModel):
    campaign: str
    status: str
    name: str
    city: str
    country: str
    message: str
    needs_review: bool
    consent_version: str
    consent_text: str
    consented_at: datetime
    confirmed_at: datetime | None
    withdrawn_at: datetime | None
    letters: list[dict[str, Any]]


class SupporterExport(BaseModel):
    """Everything stored about one supporter (the JSON download of the status page)."""

    email: str | None
    created_at: datetime
    signatures: list[SignatureExport]


class EmbedSnippet(BaseModel):
    """The tag partner sites paste to show a campaign's form (see GET .../embed)."""

    html: str = Field(description="An <iframe> tag, ready to paste.")
    url: str = Field(description="The address of the embeddable form the tag frames.")
