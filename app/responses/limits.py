"""How much structure an inbound message may have before the standard library reads it.

The stdlib recurses once per nesting level, re-parses a part's Content-Type on every read, and
has header, address and HTML parsers that grow faster than their input. Each limit below says
what it costs past it. `Unparseable` says, in English and Russian, which limit a message passed
(or that the parser failed all the same); `Structure` is what `structure.measure` counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput

# --- limits ---------------------------------------------------------------------------------

# The parser recurses once per multipart or message/* level, and walk(), get_body() and the
# bounce detectors recurse again over what it built: 1,000 levels of message/rfc822 or 1,500 of
# multipart end in RecursionError. Real mail is rarely more than 6 deep (a bounce returning a
# forwarded message with alternatives and inline images); 50 leaves room for odd mailers.
MAX_DEPTH = 50
# Each part is an object with header reads of its own: 500 parts cost 0.04 s, 50,000 4 s and
# 500,000 a minute and a half. A letter with every page scanned apart has a few dozen.
MAX_PARTS = 500
# Fields in one header block (the message's or a part's): the stdlib finds a field by reading
# the whole block, at every read. Microsoft 365's blocks, the busiest, have about a hundred.
MAX_HEADERS = 1000
# Content-Type, -Disposition and -Transfer-Encoding are what the stdlib parses by itself, with
# a parser that is quadratic in places: 4 KB of ";" or '""' take 75 ms a read, 8 KB 0.3 s. A
# long Cyrillic file name, percent-encoded, needs about 2 KB. Each value is parsed once per
# message (`_ParseOnce`), so 64 KB of them cost a second at worst; 500 ordinary parts use 40 KB.
MAX_MIME_FIELD = 4 * 1024
MAX_MIME_BYTES = 64 * 1024
# The parser tests each line against the boundary of every multipart it is inside: 9 MB of
# short lines 50 levels deep took 48 s. 10 million tests take about a second; a 10 MB base64
# attachment 50 levels deep needs 7 million.
MAX_LINE_TESTS = 10_000_000
# Counting goes on past a limit, so that the reason says how far ("nested 3,000 levels deep"),
# for this many parts at most; beyond, the figures are lower bounds ("at least").
SCAN_PARTS = 5_000
# A longer header value is read as it is, not given to the stdlib's header parser, which spends
# 0.1-0.5 ms on each address or parameter, and recurses on nested comments.
PARSED_HEADER_CHARS = 2048
# ...and only its first 64 KB (a million addresses take the address parsers seconds). Postfix
# cuts a header field at 100 KB; the longest real ones, References and Cc, are a few KB.
HEADER_CHARS = 64 * 1024


class Unparseable(InvalidInput):
    """The message cannot be read: past a limit of `measure`, or the parser failed on it."""

    kind = "Unparseable"

    def __init__(self, reason: str, reason_ru: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_ru = reason_ru

    @classmethod
    def failed(cls, exc: BaseException) -> Unparseable:
        """For an exception the parser (or reading its result) raised."""
        name = type(exc).__name__
        return cls(f"the mail parser failed ({name})", f"ошибка почтового парсера ({name})")


def _n(count: int, *, ru: bool = False) -> str:
    return f"{count:,}".replace(",", "\u00a0") if ru else f"{count:,}"


@dataclass(slots=True)
class Structure:
    """What `measure` counted: the message as the stdlib's parser will build it."""

    depth: int = 0  # of the deepest part (the message itself is at 0)
    parts: int = 0  # the message, its parts, the blocks of delivery reports
    headers: int = 0  # fields in the largest header block
    mime_field: int = 0  # bytes of the longest Content-* field...
    mime_name: str = ""  # ...and its name
    mime_bytes: int = 0  # of all Content-* fields together
    line_tests: int = 0  # lines times the boundaries each is tested against
    complete: bool = True  # False: counting stopped after SCAN_PARTS parts

    def problems(self) -> list[tuple[str, str]]:
        """Each limit exceeded, in English and Russian."""
        at, at_ru = ("", "") if self.complete else ("at least ", "не менее ")
        found = []
        if self.depth > MAX_DEPTH:
            found.append(
                (
                    f"nested {at}{_n(self.depth)} levels deep (limit {MAX_DEPTH})",
                    f"глубина вложенности: {at_ru}{_n(self.depth, ru=True)} (предел: {MAX_DEPTH})",
                )
            )
        if self.parts > MAX_PARTS:
            found.append(
                (
                    f"{at}{_n(self.parts)} parts (limit {MAX_PARTS})",
                    f"частей: {at_ru}{_n(self.parts, ru=True)} (предел: {MAX_PARTS})",
                )
            )
        if self.headers > MAX_HEADERS:
            found.append(
                (
                    f"{at}{_n(self.headers)} header fields in one block (limit {_n(MAX_HEADERS)})",
                    f"полей в одном блоке заголовков: {at_ru}{_n(self.headers, ru=True)} "
                    f"(предел: {_n(MAX_HEADERS, ru=True)})",
                )
            )
        if self.mime_field > MAX_MIME_FIELD:
            found.append(
                (
                    f"a {self.mime_name} field of {_n(self.mime_field)} bytes "
                    f"(limit {_n(MAX_MIME_FIELD)})",
                    f"поле {self.mime_name} длиной {_n(self.mime_field, ru=True)} байт "
                    f"(предел: {_n(MAX_MIME_FIELD, ru=True)})",
                )
            )
        if self.mime_bytes > MAX_MIME_BYTES:
            found.append(
                (
                    f"{at}{_n(self.mime_bytes)} bytes of Content-* fields "
                    f"(limit {_n(MAX_MIME_BYTES)})",
                    f"поля Content-*: {at_ru}{_n(self.mime_bytes, ru=True)} байт "
                    f"(предел: {_n(MAX_MIME_BYTES, ru=True)})",
                )
            )
        if self.line_tests > MAX_LINE_TESTS:
            found.append(
                (
                    f"{at}{_n(self.line_tests)} boundary tests to read it "
                    f"(limit {_n(MAX_LINE_TESTS)})",
                    f"проверок границ при чтении: {at_ru}{_n(self.line_tests, ru=True)} "
                    f"(предел: {_n(MAX_LINE_TESTS, ru=True)})",
                )
            )
        return found
