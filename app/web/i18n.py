"""Languages of the public pages: which one a request gets, and the message catalogues.

A page is in the language asked for with `?lang=` (the switcher's links), else the first one
`Accept-Language` prefers that we have, else English, the language the templates are written
in. A language chosen with `?lang=` travels on in the page's own links and forms, so no cookie
is needed. Catalogues are `app/translations/<lang>/LC_MESSAGES/messages.po`, compiled in memory
the first time a language is used: there is no `.mo` file to build or to fall out of step.

Templates call `gettext`/`ngettext` (jinja2.ext.i18n) through the functions below, which read the
language of the render in progress from a context variable that `using()` sets around it; that
way macros imported without context are translated too.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Annotated

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Depends, Request

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SOURCE = "en"  # the language the templates are written in
# Each language under its own name, as the switcher shows it.
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский"}

_current: ContextVar[str] = ContextVar("language", default=SOURCE)


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    chosen: bool = False  # asked for with ?lang=: the page's links and forms carry it on

    @property
    def query(self) -> str:
        """`?lang=xx` to append to a link, or nothing when the browser's preference decided."""
        return f"?lang={self.code}" if self.chosen else ""


def _accepted(header: str) -> list[str]:
    """The primary language tags of an Accept-Language header, most wanted first (q=0 never)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(request: Request) -> Language:
    """The language of this request's page: ?lang=, then Accept-Language, then English."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return Language(asked, chosen=True)
    for tag in _accepted(request.headers.get("accept-language", "")):
        if tag in LANGUAGES:
            return Language(tag)
        if tag == "*":
            break
    return Language(SOURCE)


LanguageDep = Annotated[Language, Depends(negotiate)]


@cache
def translations(code: str) -> gettext_module.NullTranslations:
    """The catalogue of `code`, compiled from its .po file on first use (a missing catalogue is
    an error, not English in disguise)."""
    if code == SOURCE:
        return gettext_module.NullTranslations()
    if code not in LANGUAGES:
        raise LookupError(f"no catalogue for language {code!r}")
    with (TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries left out, as `pybabel compile` does
    compiled.seek(0)
    return Translations(compiled, domain="messages")


@contextmanager
def using(code: str) -> Iterator[None]:
    """Render (or build mail) in language `code` within this block."""
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)
