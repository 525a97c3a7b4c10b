"""Text people send us, checked at the boundary: one line or paragraphs, sized to its column.

A line break in a one-line field is how a header is injected: a campaign title with CR/LF
reaches the From and Subject of every mail that names it, and a name with bidirectional
overrides reads differently than it is stored. So every one-line field refuses control
characters (tab included), U+2028/U+2029 and bidirectional controls; paragraphs keep their line
breaks (normalised to "\\n") and tabs, and refuse the rest. Each field is also capped at the size
of the column it is stored in (`length_of(Model.column)`), so PostgreSQL never refuses what the
API accepted. Errors carry a stable `type` so an HTML form can translate them per field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import InstrumentedAttribute

# Embeddings, overrides and isolates (and the marks that act like them).
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def check_characters(value: str, *, allow_newlines: bool) -> str:
    """`value` unchanged, or a PydanticCustomError naming the first kind of bad character."""
    for char in value:
        if char in BIDI_CONTROLS:
            raise PydanticCustomError("bidi_control", "must not contain bidirectional controls")
        if char in "\r\n" and not allow_newlines:
            raise PydanticCustomError("line_break", "must be one line")
        if char in "\n\t" and allow_newlines:
            continue
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            raise PydanticCustomError("control_character", "must not contain control characters")
    return value


def one_line(value: str) -> str:
    return check_characters(value, allow_newlines=False)


def paragraphs(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return check_characters(value, allow_newlines=True).strip()


def length_of(column: InstrumentedAttribute[Any]) -> int:
    """The declared length of a `String(n)` column."""
    length = getattr(column.property.columns[0].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{column} has no length; give the field a cap of its own")
    return length


@dataclass(frozen=True, slots=True)
class Line(GroupedMetadata):
    """`Annotated[str, Line(300)]`: one line, stripped, at most `max_length` characters."""

    max_length: int
    min_length: int = 0

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(
            strip_whitespace=True, min_length=self.min_length, max_length=self.max_length
        )
        yield AfterValidator(one_line)


@dataclass(frozen=True, slots=True)
class Paragraphs(GroupedMetadata):
    """`Annotated[str, Paragraphs(5000)]`: line breaks kept, at most `max_length` characters."""

    max_length: int
    min_length: int = 0

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(paragraphs)
