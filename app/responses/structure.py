"""`measure(raw)`: what the stdlib parser would build from `raw`, counted in one linear pass.

It replays the parser's reading over the bytes without recursion (header blocks, boundaries,
nested message/rfc822 parts) and stops at the first limit passed (`limits`), raising
`Unparseable`. `ParseOnce` is the parsing policy `mime.as_email` then uses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from app.responses.limits import MAX_DEPTH, MAX_MIME_FIELD, SCAN_PARTS, Structure, Unparseable

_SLOW_CHECKS = 200_000  # lines tested one by one in a stack deeper than the limit, at most
_WINDOW = 1 << 16  # the first stretch searched for the line that ends a part


class ParseOnce(EmailPolicy):
    """`policy.default`, but each header value is parsed once per message: the stdlib parses a
    part's Content-Type every time it is read, seven times while a message is read."""

    _parsed: dict[tuple[str, str], Any]

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("header_factory", policy.default.header_factory)
        super().__init__(**kw)
        object.__setattr__(self, "_parsed", {})  # policies are read-only once made

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):  # already a header object
            return value
        key = (name, _LINESEP.sub("", value))
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = self._parsed[key] = super().header_fetch_parse(name, key[1])
        return parsed


_LINESEP = re.compile(r"\r|\n")  # what EmailPolicy.header_fetch_parse removes
# A line the parser takes for a header (feedparser.headerRE); the first other line ends a block.
NOT_HEADER = re.compile(rb"^(?!From |[\x21-\x39\x3b-\x7e]*:|[\t ])", re.MULTILINE)
_FIELD_START = re.compile(rb"^[^\t \n]", re.MULTILINE)
_DASHES = re.compile(rb"^--", re.MULTILINE)
_DASHES_OR_BLANK = re.compile(rb"^(?:--|$)", re.MULTILINE)
_MIME_FIELD = re.compile(
    rb"^(content-(?:type|disposition|transfer-encoding)):[^\n]*(?:\n[\t ][^\n]*)*",
    re.IGNORECASE | re.MULTILINE,
)


def normalised(raw: bytes) -> bytes:
    """`raw` with every line ending a "\\n": the parser ends lines at CRLF, CR and LF alike."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _delimiter(line: bytes, separators: Container[bytes]) -> bool:
    """Whether `line` (without its newline) is "--boundary" or "--boundary--" for one of
    `separators` ("--boundary"), as the parser's expression reads it (spaces may follow)."""
    body = line.rstrip(b" \t")
    return body in separators or (body.endswith(b"--") and body[:-2] in separators)


@dataclass(slots=True)
class _Frame:
    """A call of the parser's recursive `_parsegen` that is under way."""

    kind: str  # entity (headers next), multipart, report (message/delivery-status), end
    level: int
    separator: bytes = b""  # of a multipart: "--" + its boundary
    default: str = "text/plain"  # an entity's type when it has no Content-Type
    digest: bool = False  # a multipart/digest: its parts are messages by default
    after_block: bool = False  # a report: between two of its blocks


class _Scan:
    """The parser's reading of the bytes (email.feedparser), replayed without building anything.

    `ends` mirrors the parser's stack of false ends of input: the separator ("--boundary") of
    each enclosing multipart once its first part began, None for the blank line that ends a
    block of a delivery report. Frames stand for the parser's recursion, so that a message
    nested thousands deep is counted, not recursed into. Content-Type is read with the stdlib's
    own code, through the policy the message will be parsed with (which keeps what it parsed),
    until a limit is passed; then with a cheaper reading, good enough to go on counting."""

    def __init__(self, raw: bytes, parse_policy: ParseOnce) -> None:
        # A newline before the first line too: every line then starts after one, which is what
        # the searches for boundary lines look for (a literal "\n--boundary" is found fast).
        self.data = b"\n" + normalised(raw)
        self.policy = parse_policy
        self.pos = 1
        self.ends: list[bytes | None] = []
        self.open: Counter[bytes] = Counter()
        self.blanks = 0
        self.found = Structure()
        self.exact = True
        self._patterns: dict[bytes | None, re.Pattern[bytes]] = {}
        self._next: dict[bytes | None, tuple[int, int]] = {}  # see _next_match
        self._slow_checks = 0

    def run(self) -> Structure:
        frames = [_Frame("entity", 0)]
        while frames:
            if self.found.parts >= SCAN_PARTS or self._slow_checks > _SLOW_CHECKS:
                self.found.complete = False
                break
            frame = frames[-1]
            if frame.kind == "end":  # a part is over: its false end goes
                frames.pop()
                self._pop()
                continue
            more: list[_Frame] | None
            if frame.kind == "entity":
                frames.pop()
                more = self._entity(frame)
            elif frame.kind == "multipart":
                more = self._multipart(frame)
            else:
                more = self._report(frame)
            if more is None:
                frames.pop()
            else:
                frames.extend(more)
            if self.exact and self.found.problems():
                self.exact = False
        return self.found

    # --- the parser's steps (feedparser.FeedParser._parsegen) ---

    def _entity(self, frame: _Frame) -> list[_Frame]:
        found = self.found
        found.parts += 1
        found.depth = max(found.depth, frame.level)
        content_type, boundary = self._headers(frame.default)
        maintype = content_type.split("/")[0]
        if content_type == "message/delivery-status":
            return [_Frame("report", frame.level)]
        if maintype == "message":
            return [_Frame("entity", frame.level + 1)]
        if maintype == "multipart" and boundary is not None:
            digest = content_type == "multipart/digest"
            return [_Frame("multipart", frame.level, b"--" + boundary, digest=digest)]
        self._skip()
        return []

    def _multipart(self, frame: _Frame) -> list[_Frame] | None:
        """Up to the next part (the frames that read it), or None when the multipart is over."""
        own = (frame.separator,)
        self._skip(own)  # the preamble, if any
        line = self._line()
        if line is None:  # the end: no start boundary, or no close boundary
            return None
        self.pos = line[1]
        if line[0].rstrip(b" \t") != frame.separator:  # "--boundary--"
            self._skip()  # the epilogue
            return None
        while (more := self._line()) is not None and _delimiter(more[0], own):
            self.pos = more[1]  # repeated boundary lines make no parts
        self._push(frame.separator)
        default = "message/rfc822" if frame.digest else "text/plain"
        return [_Frame("end", frame.level), _Frame("entity", frame.level + 1, default=default)]

    def _report(self, frame: _Frame) -> list[_Frame] | None:
        """A delivery report's next block (a part ending at a blank line), or None at its end."""
        if frame.after_block:
            blank = self._line()  # the blank line that ended the block
            if blank is not None:
                self.pos = blank[1]
            if self._line() is None:
                return None
        frame.after_block = True
        self._push(None)
        return [_Frame("end", frame.level), _Frame("entity", frame.level + 1)]

    # --- reading lines ---

    def _is_end(self, line: bytes, has_newline: bool) -> bool:
        if self.blanks and has_newline and not line:
            return True
        return bool(self.open) and line.startswith(b"--") and _delimiter(line, self.open)

    def _line(self) -> tuple[bytes, int] | None:
        """The next line and where the one after starts; None at the end, or a false one."""
        data = self.data
        if self.pos >= len(data):
            return None
        newline = data.find(b"\n", self.pos)
        line = data[self.pos : newline if newline >= 0 else len(data)]
        if self._is_end(line, newline >= 0):
            return None
        return line, (newline + 1 if newline >= 0 else len(data))

    def _count_lines(self, start: int, stop: int) -> None:
        if self.ends and stop > start:
            self.found.line_tests += self.data.count(b"\n", start, stop) * len(self.ends)

    def _next_end(self, start: int, own: tuple[bytes, ...] = (), *, limit: int = -1) -> int:
        """Where the first line from `start` on (before `limit`) that ends the part being read
        begins: a boundary line of an enclosing multipart (or of `own`), a report block's blank
        line; else the end of the message (or `limit`). Searched in windows that double, so a
        boundary that never comes costs what the scan passes over, not the rest of the message."""
        limit = len(self.data) if limit < 0 else limit
        if len(self.open) > MAX_DEPTH + 1:  # too deep already: counting, slowly, on a budget
            return self._next_end_slowly(start, own, limit)
        ends: set[bytes | None] = {*self.open, *own}
        if self.blanks:
            ends.add(None)
        step, horizon = _WINDOW, start
        while True:
            horizon = self._line_end(min(limit, horizon + step))
            found = [at for end in ends if (at := self._next_match(end, start, horizon)) >= 0]
            if found:
                return min(*found, limit)
            if horizon >= limit:
                return limit
            step *= 2

    def _line_end(self, position: int) -> int:
        """The newline that ends the line `position` is in (the end of the data at the last)."""
        newline = self.data.find(b"\n", position)
        return len(self.data) if newline < 0 else newline

    def _next_match(self, end: bytes | None, start: int, horizon: int) -> int:
        """Where the first line from `start` on that `end` matches begins, if before `horizon`
        (a newline, or the end of the data), else -1. Each end's search only goes forward: its
        cache says how far it went and what it found."""
        searched, found = self._next.get(end, (-1, -1))
        if found >= start:
            return found if found < horizon else -1
        # Again from the newline before the window's last one: a blank line there was unseen.
        begin = searched - 1 if found < 0 and searched > start else start - 1
        if begin >= horizon:
            return -1
        pattern = self._patterns.get(end)
        if pattern is None:
            line = rb"(?=\n)" if end is None else re.escape(end) + rb"(?:--)?[ \t]*(?=\n|\Z)"
            pattern = self._patterns[end] = re.compile(rb"\n" + line)
        match = pattern.search(self.data, begin, horizon)  # from the newline a line starts after
        found = match.start() + 1 if match is not None else -1
        self._next[end] = (horizon, found)
        return found

    def _next_end_slowly(self, start: int, own: tuple[bytes, ...], limit: int) -> int:
        data = self.data
        pattern = _DASHES_OR_BLANK if self.blanks else _DASHES
        at = start
        while (
            candidate := pattern.search(data, at, limit)
        ) is not None and candidate.start() < limit:
            self._slow_checks += 1
            newline = data.find(b"\n", candidate.start())
            line = data[candidate.start() : newline if newline >= 0 else len(data)]
            if self._is_end(line, newline >= 0) or (
                line.startswith(b"--") and _delimiter(line, own)
            ):
                return candidate.start()
            if newline < 0 or self._slow_checks > _SLOW_CHECKS:
                break
            at = newline + 1
        return limit

    def _skip(self, own: tuple[bytes, ...] = ()) -> None:
        """Pass the lines up to the next end (true or false) or boundary line of `own`."""
        start = self.pos
        stop = self._next_end(start, own) if self.ends or own else len(self.data)
        self._count_lines(start, stop)
        self.pos = stop

    def _headers(self, default: str) -> tuple[str, bytes | None]:
        """Read a header block; the entity's content type and boundary, as the stdlib reads them."""
        data, start = self.data, self.pos
        after = NOT_HEADER.search(data, start)
        stop = after.start() if after is not None else len(data)
        false_end = False
        if self.open:  # "--b:x" looks like a header line, and may end an enclosing part
            end = self._next_end(start, limit=stop)
            if end < stop:
                stop, false_end = end, True
        block = data[start:stop]
        self._count_lines(start, stop)
        # The blank line after the headers is read, unless it ends a block of a report.
        blank = data[stop : stop + 1] == b"\n" and not false_end and not self.blanks
        self.pos = stop + 1 if blank else stop
        self.found.headers = max(self.found.headers, sum(1 for _ in _FIELD_START.finditer(block)))
        content_type: bytes | None = None
        for field in _MIME_FIELD.finditer(block):
            size = len(field.group(0))
            self.found.mime_bytes += size
            if size > self.found.mime_field:
                self.found.mime_field = size
                self.found.mime_name = field.group(1).decode("ascii").title()
            if content_type is None and field.group(1).lower() == b"content-type":
                value = field.group(0)[len(b"content-type:") :]
                content_type = value.lstrip(b" \t").replace(b"\n", b"")
        if content_type is None:  # the first Content-Type counts, as in Message.get()
            return default, None
        return self._media(content_type)

    def _media(self, value: bytes) -> tuple[str, bytes | None]:
        text = value.decode("ascii", "surrogateescape")  # as the parser decodes the bytes
        boundary: str | None
        if self.exact and len(value) <= MAX_MIME_FIELD:
            probe = EmailMessage(policy=self.policy)
            probe.set_raw("Content-Type", text)
            content_type, boundary = probe.get_content_type(), probe.get_boundary()
        else:
            content_type = text.partition(";")[0].strip().lower()
            if content_type.count("/") != 1:
                content_type = "text/plain"
            found = re.search(r'(?i);\s*boundary\s*=\s*("[^"]*"|[^;\s]*)', text)
            boundary = found.group(1).strip('"').rstrip() if found else None
        if boundary is None or not boundary.isascii():  # never equal to a line of the body
            return content_type, None
        return content_type, boundary.encode("ascii")

    def _push(self, separator: bytes | None) -> None:
        self.ends.append(separator)
        if separator is None:
            self.blanks += 1
        else:
            self.open[separator] += 1

    def _pop(self) -> None:
        separator = self.ends.pop()
        if separator is None:
            self.blanks -= 1
        else:
            self.open[separator] -= 1
            if not self.open[separator]:
                del self.open[separator]


def measure(raw: bytes, parse_policy: ParseOnce | None = None) -> Structure:
    """Count what the parser would make of `raw`; Unparseable if past a limit, or when reading a
    Content-Type fails as it would in the parser (comments nested a thousand deep)."""
    try:
        found = _Scan(raw, parse_policy or ParseOnce()).run()
    except Exception as exc:
        raise Unparseable.failed(exc) from exc
    problems = found.problems()
    if problems:
        raise Unparseable("; ".join(en for en, _ in problems), "; ".join(ru for _, ru in problems))
    return found
