"""Spellings of names: single-script normalisation and search keys.

The source report writes several names with Cyrillic capitals inside Latin words ("Маkhambet",
"Оlesya"). Such mixed-script words look right to a reader but defeat search, and in an outgoing
letter they are a classic spam and phishing signal. `to_single_script` rewrites each mixed word
into the script most of its letters use, with the confusables data of `confusable_homoglyphs`;
`search_key` folds any spelling (Latin or Cyrillic, accents, case) to plain lower-case ASCII so
that "Sychev", "Сычев" and "SYCHEV" meet.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from anyascii import anyascii
from confusable_homoglyphs import categories, confusables

_WORD = re.compile(r"\w+", re.UNICODE)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Replacement:
    """One letter rewritten from a foreign script into the word's own."""

    original: str
    replacement: str
    word: str

    def describe(self) -> str:
        return (
            f"{self.original!r} ({unicodedata.name(self.original, '?')}) → "
            f"{self.replacement!r} in {self.word!r}"
        )


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    alias: str = categories.alias(char)
    return alias


def _homoglyph_in(char: str, script: str) -> str | None:
    """The letter of `script` that `char` is confusable with, if exactly one is known."""
    found = confusables.is_confusable(char, preferred_aliases=[], greedy=True) or []
    for entry in found:
        for glyph in entry["homoglyphs"]:
            if glyph["n"].startswith(script + " ") and len(glyph["c"]) == 1:
                return str(glyph["c"])
    return None


def _fix_word(word: str) -> tuple[str, list[Replacement]]:
    scripts = Counter(s for s in map(_script, word) if s not in (None, "COMMON"))
    if len(scripts) < 2:
        return word, []
    dominant = scripts.most_common(1)[0][0]
    out: list[str] = []
    replaced: list[Replacement] = []
    for char in word:
        script = _script(char)
        if script in (None, "COMMON", dominant):
            out.append(char)
            continue
        glyph = _homoglyph_in(char, dominant)
        if glyph is None:
            out.append(char)
            continue
        out.append(glyph)
        replaced.append(Replacement(char, glyph, word))
    return "".join(out), replaced


def to_single_script(text: str) -> tuple[str, list[Replacement]]:
    """Rewrite every mixed-script word of `text` into its dominant script.

    Returns the new text and the replacements made (empty when the text was already clean).
    Words wholly in one script, whatever it is, are left alone.
    """
    replacements: list[Replacement] = []

    def fix(match: re.Match[str]) -> str:
        fixed, done = _fix_word(match.group(0))
        replacements.extend(done)
        return fixed

    return _WORD.sub(fix, text), replacements


def is_mixed_script(text: str) -> bool:
    """Whether any single word of `text` mixes scripts (e.g. a Cyrillic М in a Latin name)."""
    return any(_fix_word(m.group(0))[1] for m in _WORD.finditer(text))


def search_key(text: str) -> str:
    """Fold `text` to lower-case ASCII words separated by single spaces.

    Cyrillic is transliterated, accents and apostrophes dropped, so every spelling of a name in
    the report meets its query: `search_key("Маkhambet")` == `search_key("makhambet")`.
    """
    folded = anyascii(unicodedata.normalize("NFKC", text)).lower().replace("'", "")
    return _NOT_ALNUM.sub(" ", folded).strip()
