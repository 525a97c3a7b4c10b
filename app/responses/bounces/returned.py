"""The letter a bounce returns: where it starts, its Message-ID and its recipients."""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from app.responses.mime import header, message_ids, part_text

# --- the returned letter ----------------------------------------------------------------------

# Where a text bounce starts quoting the letter it returns (Exim, qmail, Postfix, Sendmail,
# Yahoo, Domino, GroupWise, Exchange...): the notice is what comes before.
RETURNED_START = re.compile(
    r"^[ \t]*(?:"
    r"(?![^\n]*transcript)[-=_*]{2,}+[^\n]*(?:copy|original|returned|undelivered|follows|"
    r"header|forwarded)[^\n]*"
    r"|(?:possibly truncated )?original message (?:follows|headers)[^\n]*"
    r"|(?:return-path|received):[^\n]*"
    r")$",
    re.IGNORECASE | re.MULTILINE,
)


def _returned_headers(message: Message, notice_and_rest: str) -> Message | None:
    """The headers of the returned letter: its message/rfc822 part, its text/rfc822-headers
    part, or the header block that follows the notice in a one-part text bounce."""
    parser = HeaderParser(policy=policy.default)
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return inner
        elif content_type == "text/rfc822-headers":
            return parser.parsestr(part_text(part))
    found = RETURNED_START.search(notice_and_rest)
    if found is None:
        return None
    rest = notice_and_rest[found.start() :]
    if not re.match(r"(?i)[ \t]*(?:return-path|received):", rest):
        rest = rest.split("\n", 1)[-1]
    headers = parser.parsestr(rest.lstrip("\n").split("\n\n", 1)[0] + "\n")
    return headers if headers.keys() else None


def returned_message_id(message: Message, text: str = "") -> str | None:
    """The Message-ID of the returned original (our letter), if the bounce returns it."""
    headers = _returned_headers(message, text)
    found = message_ids(header(headers, "Message-ID")) if headers is not None else ()
    return found[0] if found else None


def returned_recipients(message: Message, text: str) -> tuple[str, ...]:
    headers = _returned_headers(message, text)
    if headers is None:
        return ()
    values = [v for name in ("To", "Cc") for v in [header(headers, name)] if v]
    found = [a.lower() for _n, a in getaddresses(values) if "@" in a]
    return tuple(dict.fromkeys(found))
