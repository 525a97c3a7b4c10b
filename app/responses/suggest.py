"""A first guess at what kind of answer a reply is, from its wording. Staff decide.

The guess only fills `suggested_kind`; a reply stays `unclassified` until someone reads it. The
phrases are the ones offices use in English, French, German and Russian.
"""

from __future__ import annotations

import re

from app.responses.models import ResponseKind

_RULES: tuple[tuple[ResponseKind, re.Pattern[str]], ...] = (
    (
        ResponseKind.refusal,
        re.compile(
            r"not in a position to|unable to (?:comment|intervene|act|help|take)|"
            r"cannot (?:comment|intervene|take any action)|does not fall within|"
            r"outside (?:our|the|its) (?:remit|competence|mandate)|no competence|"
            r"ne (?:sommes|pouvons) pas en mesure|ne relève pas|nicht zuständig|"
            r"не входит в компетенцию",
            re.IGNORECASE,
        ),
    ),
    (
        ResponseKind.forwarded,
        re.compile(
            r"\bforward(?:ed|ing)\b|passed (?:it|your \w+) (?:on )?to|referred (?:it|your \w+) to|"
            r"transmis|transféré|weitergeleitet|перенаправлен|переслан",
            re.IGNORECASE,
        ),
    ),
    (
        ResponseKind.acknowledgement,
        re.compile(
            r"acknowledge(?:s|d)? (?:the )?receipt|(?:we|I) (?:have )?received your|"
            r"receipt of your|thank you for your (?:letter|e-?mail|message|correspondence)|"
            r"accus(?:ons|é) (?:de )?réception|bien reçu|Eingang .{0,40}bestätig|"
            r"подтверждаем получение",
            re.IGNORECASE,
        ),
    ),
)
_SUBSTANTIVE_WORDS = 120


def suggest_kind(text: str) -> ResponseKind | None:
    """The kind the wording suggests, or None when nothing stands out."""
    for kind, pattern in _RULES:
        if kind is ResponseKind.acknowledgement and len(text.split()) >= _SUBSTANTIVE_WORDS:
            return ResponseKind.substantive  # a long answer that starts by thanking
        if pattern.search(text):
            return kind
    return ResponseKind.substantive if len(text.split()) >= _SUBSTANTIVE_WORDS else None
