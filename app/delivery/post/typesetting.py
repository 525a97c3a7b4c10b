"""Setting text for printed letters: cleaning, measuring, and breaking it into lines.

Widths come from reportlab's font metrics at 1 pt, cached per word, because reportlab measures
character by character in Python and a campaign's letters share most of their words.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from reportlab import rl_config  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics, ttfonts  # type: ignore[import-untyped]

# The embedded fonts (DejaVu Sans: Latin, Cyrillic and Greek), registered with reportlab once.
REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
_FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_FONT_DIR = Path(__file__).parent / "fonts"


class UnprintableCharacters(ValueError):
    """Text with characters the embedded font has no glyph for (they would print as boxes)."""


@functools.cache
def fonts() -> dict[str, frozenset[str]]:
    """Register the fonts with reportlab on first use; the characters each one has glyphs for."""
    # Without the optional C accelerator reportlab ASCII85-encodes every compressed stream in
    # Python, which took a third of the rendering time. Binary streams are just as valid PDF;
    # ASCII85 only helps 7-bit transports, and we serve and store bytes.
    rl_config.useA85 = 0
    covered: dict[str, frozenset[str]] = {}
    for name, file in _FONT_FILES.items():
        font = ttfonts.TTFont(name, str(_FONT_DIR / file))
        pdfmetrics.registerFont(font)
        covered[name] = frozenset(chr(code) for code in font.face.charToGlyph)
    return covered


def check_glyphs(
    reference: str, runs: Iterable[tuple[str, str]], glyphs: Mapping[str, frozenset[str]]
) -> None:
    """Refuse text (each run's text and font) with characters its font has no glyph for."""
    for text, font in runs:
        missing = set(text) - glyphs[font]
        if missing:
            names = ", ".join(
                f"U+{ord(char):04X} {unicodedata.name(char, '?')}" for char in sorted(missing)
            )
            raise UnprintableCharacters(
                f"Letter {reference}: the font has no glyph for {names} in {text!r}."
            )


# Soft hyphens and zero-width characters print as boxes or nothing; they are dropped.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
_CLINGS_LEFT = ("»", ":", ";", "!", "?")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def split_paragraphs(body: str) -> list[list[str]]:
    """Paragraphs (split at blank lines), each a list of its lines (kept where the text breaks)."""
    text = clean(body).strip()
    if not text:
        return []
    return [[line.strip() for line in para.split("\n")] for para in _PARAGRAPH_BREAK.split(text)]


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break `text` into lines no wider than `width`; only plain spaces break, so a no-break
    space keeps its neighbours together."""
    words: list[str] = []
    glue_next = False
    for word in text.split(" "):
        if not word:
            continue
        # French spaces its « guillemets » and its : ; ! ? with a space that must not break;
        # typed text often has a plain one, so treat it as a no-break space here.
        if words and (glue_next or word.startswith(_CLINGS_LEFT)):
            words[-1] = f"{words[-1]} {word}"
        else:
            words.append(word)
        glue_next = word == "«"
    pieces: list[str] = []
    for word in words:
        if text_width(word, font, size) > width:
            pieces.extend(break_word(word, font, size, width))
        else:
            pieces.append(word)
    return pack(pieces, " ", font, size, width) or [""]


def pack(tokens: Sequence[str], separator: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line filling: as many tokens per line as fit, joined by `separator`."""
    lines: list[str] = []
    gap = text_width(separator, font, size)
    current: list[str] = []
    used = 0.0
    for token in tokens:
        token_width = text_width(token, font, size)
        if current and used + gap + token_width <= width:
            current.append(token)
            used += gap + token_width
            continue
        if current:
            lines.append(separator.join(current))
        current, used = [token], token_width
    if current:
        lines.append(separator.join(current))
    return lines


def break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than the line (a long URL) in pieces that fit."""
    pieces: list[str] = []
    start, used = 0, 0.0
    for index, char in enumerate(word):
        char_width = text_width(char, font, size)
        if used + char_width > width and index > start:
            pieces.append(word[start:index])
            start, used = index, 0.0
        used += char_width
    pieces.append(word[start:])
    return pieces


def clean(text: str) -> str:
    normalized = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return normalized.replace("\t", " ").translate(_INVISIBLE)


def text_width(text: str, font: str, size: float) -> float:
    return em_width(text, font) * size


@functools.lru_cache(maxsize=1 << 16)
def em_width(text: str, font: str) -> float:
    """Width at 1 pt. Cached because reportlab measures character by character in Python and
    the letters of one campaign share most of their words."""
    return float(pdfmetrics.stringWidth(text, font, 1))
