"""The consent statements, versioned: a signature records the exact text its supporter saw.

A statement is never edited in place: a change is a new version, and the form shows (and the
API expects) the current one. Old versions stay so that old consent records keep their meaning.
"""

from __future__ import annotations

from app.errors import InvalidInput

STATEMENTS: dict[str, str] = {
    "2026-1": (
        "I agree that {organisation} keeps my name, e-mail address, city, country and personal "
        "paragraph to send letters in my name about this campaign to the offices listed on "
        "this page, and to show me what happened to them. I understand that my signature "
        "shows a political opinion. My e-mail address is never shown to anyone. I can withdraw "
        "my signature or erase my data at any time with the link in my confirmation e-mail; "
        "unconfirmed signatures are deleted after {days} days."
    ),
}
CURRENT = "2026-1"


def statement(version: str, *, organisation: str, days: int) -> str:
    """The exact text of `version` as shown to supporters of this organisation."""
    try:
        template = STATEMENTS[version]
    except KeyError:
        raise InvalidInput(f"unknown consent statement version {version!r}") from None
    return template.format(organisation=organisation, days=days)
