"""Is an inbound message a bounce, and for which addresses, permanently or for now.

Bounces are read first as RFC 3464 delivery status notifications (the `message/delivery-status`
part: per recipient its `Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`), which is what
Postfix, Exim, Exchange and Gmail send. Where the Final-Recipient is not an Internet address (an
X.400 name, an Exchange legacy DN, Sun Messaging's `user@ims-ms-daemon` channel name) the
Original-Recipient, an encapsulated (IMCEA) address or the returned letter's single recipient is
used instead. A generic status (5.0.0) defers to the enhanced code in the Diagnostic-Code: Exim
reports 5.0.0 when it gives up after a remote 452 4.2.2, which is no verdict on the address.

Bounces in older, non-standard formats (qmail, Yahoo, old Exchange, Domino, ...) fall back to the
X-Failed-Recipients header and `flufl.bounce`, Mailman's maintained set of bounce detectors, then
to the addresses of the notice itself. Their status is read only from the notice: the text before
the returned letter, per address from the lines about it; never from the returned headers and
body (an `X-Mailman-Version: 2.0.1` there is no status). Whether a failure is permanent follows
that status, else the section the address is listed under ("transient non-fatal errors", "has
not yet been delivered", ...). A message that is clearly a bounce (a mailer daemon's, or a null
sender's with a bounce subject) is a Bounce even when no address can be read from it, so that it
is never taken for an office's reply. `detect(raw, message, text)` is the entry point.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from app.responses.mime import header, header_all, message_ids, part_text


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    """One recipient's block of a delivery status notification (RFC 3464 §2.3)."""

    recipient: str  # the Final-Recipient address (or the one a heuristic detector found)
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str | None  # RFC 3463: "5.1.1"
    diagnostic: str | None  # e.g. "smtp; 550 5.1.1 <x@example.org>: User unknown"
    remote_mta: str | None = None
    original_recipient: str | None = None

    @property
    def hard(self) -> bool:
        """A permanent failure: the letter will never arrive at this address."""
        return self.action == "failed" and (self.status is None or self.status.startswith("5"))

    @property
    def smtp_code(self) -> int | None:
        """The SMTP reply code in the diagnostic (550), if it has one."""
        if self.diagnostic:
            found = re.search(r"(?:^|[;\s])([245]\d\d)(?:[\s-]|$)", self.diagnostic)
            if found:
                return int(found.group(1))
        return None


@dataclass(frozen=True, slots=True)
class Bounce:
    recipients: tuple[DsnRecipient, ...]  # empty for a bounce that names no readable address
    reporting_mta: str | None
    standard: bool  # an RFC 3464 report, or a format a heuristic detector recognised
    original_message_id: str | None  # of our letter, from the returned message or its headers

    @property
    def failures(self) -> tuple[DsnRecipient, ...]:
        return tuple(r for r in self.recipients if r.action in ("failed", "delayed"))


# --- statuses and addresses -------------------------------------------------------------------

# An RFC 3463 code, not part of a longer dotted number (an IP address, a version 16.0.5.1).
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_FAILURE_STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A bare SMTP reply code where a server's answer is quoted ("said: 550 No such user").
_SMTP_CODE = re.compile(r"(?:^|[\s:(<>\[])([45])\d\d(?=[\s-])")
_INTERNET = re.compile(r"^[^@\s/;<>()\[\]]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.IGNORECASE)
# Starting only where a word starts, and possessive, so a long run without an @ costs one pass
# (hostile mail: a 200 KB line of letters took minutes with a plain pattern).
_TEXT_ADDRESS = re.compile(
    r"(?<![a-z0-9._%+'=-])[a-z0-9][a-z0-9._%+'=-]*+@[a-z0-9-]++(?:\.[a-z0-9-]++)+", re.IGNORECASE
)
_MAX_ADDRESSES = 50  # our letters have one recipient; a bounce naming hundreds is not about them
_DAEMON_LOCAL = re.compile(
    r"^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|microsoftexchange\w*)$",
    re.IGNORECASE,
)


def _status_in(text: str, *, failures_only: bool = False) -> str | None:
    found = (_FAILURE_STATUS if failures_only else _STATUS).search(text)
    if found:
        return ".".join(found.groups())
    code = _SMTP_CODE.search(text)
    return f"{code.group(1)}.0.0" if code else None


def _internet(address: str | None) -> bool:
    """A routable mailbox: not an X.400 name, a legacy DN or a `*-daemon` channel name."""
    if not address or not _INTERNET.match(address):
        return False
    return not address.rsplit(".", 1)[-1].endswith("-daemon")


def _imcea(address: str) -> str | None:
    """Exchange's encapsulation `IMCEASMTP-jdoe+40example+2Eorg@host` → `jdoe@example.org`."""
    found = re.match(r"^imcea(?:smtp)?-(.+)@[^@]+$", address, re.IGNORECASE)
    if not found or "+40" not in found.group(1):
        return None
    decoded = re.sub(
        r"\+([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), found.group(1), flags=re.I
    )
    return decoded.lower() if _internet(decoded) else None


def _is_daemon(address: str) -> bool:
    return bool(_DAEMON_LOCAL.match(address.split("@")[0]))


# --- RFC 3464 reports -------------------------------------------------------------------------


def _field(block: Message, name: str) -> str | None:
    value = header(block, name)
    return re.sub(r"\s+", " ", value).strip() or None if value else None


def _typed_address(value: str | None) -> str | None:
    """`rfc822; x@example.org` → `x@example.org` (RFC 3464 address-type; address)."""
    if not value:
        return None
    _type, _, address = value.partition(";")
    address = (address or _type).strip().strip("<>").strip()
    return address.lower() or None


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part: per message, then per recipient.

    The email package parses the part into blocks; an MTA that base64-encoded the part (some do,
    against RFC 3464) leaves a string, which is split at blank lines here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [p for p in payload if isinstance(p, Message)]
        if any(b.keys() for b in blocks):
            return blocks
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n"))
    parser = HeaderParser(policy=policy.default)
    return [parser.parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def _block_address(block: Message) -> str | None:
    """The Internet address a recipient block is about, whatever the Final-Recipient says."""
    final = _typed_address(_field(block, "Final-Recipient"))
    original = _typed_address(_field(block, "Original-Recipient"))
    actual = _typed_address(_field(block, "X-Actual-Recipient"))
    for candidate in (final, original, actual):
        if candidate and _internet(candidate) and not candidate.startswith("imcea"):
            return candidate
    encapsulated = next((_imcea(a) for a in (final, original) if a and _imcea(a)), None)
    return encapsulated or final or original


def _block_status(block: Message) -> str | None:
    status = _status_in(_field(block, "Status") or "")
    diagnostic = _status_in(_field(block, "Diagnostic-Code") or "")
    # 5.0.0 / 4.0.0 say only "failed"; the remote server's own code says why.
    generic = status is None or status.endswith(".0.0")
    if generic and diagnostic and (status is None or not diagnostic.endswith(".0.0")):
        return diagnostic
    return status


def _rfc3464(message: Message, returned: tuple[str, ...]) -> Bounce | None:
    part = next(
        (p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if part is None:
        return None
    blocks = _status_blocks(part)
    if not blocks:
        return None
    per_message, *per_recipient = blocks
    if _field(per_message, "Final-Recipient"):  # no per-message block given
        per_message, per_recipient = Message(), blocks
    recipients = []
    for block in per_recipient:
        address = _block_address(block)
        if not address:
            continue
        action = (_field(block, "Action") or "failed").split()[0].lower()
        recipients.append(
            DsnRecipient(
                recipient=address,
                action="failed" if action.startswith(("fail", "error")) else action,
                status=_block_status(block),
                diagnostic=_field(block, "Diagnostic-Code"),
                remote_mta=_typed_address(_field(block, "Remote-MTA")),
                original_recipient=_typed_address(_field(block, "Original-Recipient")),
            )
        )
    if not recipients:
        return None
    return Bounce(
        recipients=_named_by_the_letter(tuple(recipients), returned),
        reporting_mta=_typed_address(_field(per_message, "Reporting-MTA")),
        standard=True,
        original_message_id=_returned_message_id(message),
    )


def _named_by_the_letter(
    recipients: tuple[DsnRecipient, ...], returned: tuple[str, ...]
) -> tuple[DsnRecipient, ...]:
    """A failure named only by an X.400 name or the like is the returned letter's one recipient."""
    if len(returned) != 1 or not _internet(returned[0]):
        return recipients
    if any(r.recipient == returned[0] for r in recipients):
        return recipients
    odd = [r for r in recipients if not _internet(r.recipient)]
    if len(odd) != 1:
        return recipients
    return tuple(
        DsnRecipient(
            recipient=returned[0],
            action=r.action,
            status=r.status,
            diagnostic=r.diagnostic,
            remote_mta=r.remote_mta,
            original_recipient=r.original_recipient or r.recipient,
        )
        if r is odd[0]
        else r
        for r in recipients
    )


# --- the returned letter ----------------------------------------------------------------------

# Where a text bounce starts quoting the letter it returns (Exim, qmail, Postfix, Sendmail,
# Yahoo, Domino, GroupWise, Exchange...): the notice is what comes before.
_RETURNED_START = re.compile(
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
    found = _RETURNED_START.search(notice_and_rest)
    if found is None:
        return None
    rest = notice_and_rest[found.start() :]
    if not re.match(r"(?i)[ \t]*(?:return-path|received):", rest):
        rest = rest.split("\n", 1)[-1]
    headers = parser.parsestr(rest.lstrip("\n").split("\n\n", 1)[0] + "\n")
    return headers if headers.keys() else None


def _returned_message_id(message: Message, text: str = "") -> str | None:
    """The Message-ID of the returned original (our letter), if the bounce returns it."""
    headers = _returned_headers(message, text)
    found = message_ids(header(headers, "Message-ID")) if headers is not None else ()
    return found[0] if found else None


def _returned_recipients(message: Message, text: str) -> tuple[str, ...]:
    headers = _returned_headers(message, text)
    if headers is None:
        return ()
    values = [v for name in ("To", "Cc") for v in [header(headers, name)] if v]
    found = [a.lower() for _n, a in getaddresses(values) if "@" in a]
    return tuple(dict.fromkeys(found))


# --- text bounces -----------------------------------------------------------------------------

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status )?notification|delivery fail|failure notice|"
    r"returned mail|mail delivery (?:failed|system|subsystem)|could not be delivered|"
    r"non[- ]?delivery|delivery (?:has )?(?:failed|delayed)|delayed mail|mail failure|"
    r"delivery status\b|could not send|"
    r"warning: (?:message .* delayed|could not send)|permanent delivery failure|"
    r"non[- ]?remis|unzustellbar|nicht zustellbar",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(
    r"^\s*(?:re|fwd?|fw|aw|wg|tr|sv|vs|antw|rif|r)\s*(?:\[\d+\])?\s*:", re.I
)
_BOUNCE_PHRASE = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|was not delivered|"
    r"not (?:yet )?been delivered|unable to deliver|did not reach|could not be reached|"
    r"delivery to the following recipient|permanent fatal errors|permanent error|"
    r"qmail-send program|returned to you|message could not be delivered|delivery has failed",
    re.IGNORECASE,
)
# The line a listed address sits under says whether its failure is for now or for good.
_TEMPORARY_HEADING = re.compile(
    r"transient|non-fatal|not (?:yet )?been delivered|delayed|will be retried|being retried|"
    r"will continue|warning|deferred|postponed|keep trying|temporar",
    re.IGNORECASE,
)
_PERMANENT_HEADING = re.compile(
    r"permanent|fatal|failed|could not be|couldn't be|undeliverable|not delivered|"
    r"unable to deliver|given up|giving up|did not reach|wasn't able|cannot be delivered|"
    r"rejected|no longer",
    re.IGNORECASE,
)
# An MTA giving up after temporary failures, without saying what they were: RFC 3463's 4.4.7
# (delivery time expired), so a full mailbox for a week does not mark the address bad.
_EXPIRED = re.compile(
    r"retry timeout exceeded|in the queue too long|delivery time expired|"
    r"gave up after|giving up after|too many retries|message expired",
    re.IGNORECASE,
)
_TEMPORARY_SUBJECT = re.compile(r"delay|warning|deferred|still being retried", re.IGNORECASE)


def _notice(message: Message) -> str:
    """The notice of a bounce: its first text part outside the returned letter, up to where it
    starts quoting the letter. Statuses and addresses are read from here only."""
    text = ""
    for part in _parts_outside_returned(message):
        # A multipart whose boundary does not parse is left as one string: read it as text.
        if part.get_content_type() in ("text/plain", "text/html") or part.is_multipart() is False:
            text = part_text(part) if part.get_content_maintype() == "text" else _raw_text(part)
            if text.strip():
                break
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _raw_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _parts_outside_returned(message: Message) -> Iterable[Message]:
    if message.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts_outside_returned(part)
    else:
        yield message


def _cut(notice: str) -> str:
    found = _RETURNED_START.search(notice)
    return notice[: found.start()] if found else notice


def _looks_like_bounce(message: Message, notice: str) -> tuple[bool, bool]:
    """(worth asking the detectors, clearly a bounce even if no address can be read).

    A person's reply or forward (a Re:/Fwd: subject from anyone but a null-sender daemon) is
    never one, even when it quotes a bounce; an RFC 3834 auto-reply has a null sender too, so
    that alone does not make a bounce."""
    name, sender = parseaddr(header(message, "From") or "")
    null_sender = (header(message, "Return-Path") or "").strip() == "<>"
    daemon = _is_daemon(sender) or bool(
        re.search(r"mail delivery|delivery subsystem|mail system|mailer-daemon", name, re.I)
    )
    # MAILER-DAEMON (RFC 5321 §4.5.5) or a null From (<>) writes nothing but delivery reports.
    # (The raw value: the parsed one of a garbled `<<<@>>>` is `<>` too.)
    mailer_daemon = header_all(message, "From") == ["<>"] or bool(
        re.match(r"(?i)mail(?:er)?-?daemon(?:@|$)", sender)
    )
    subject = header(message, "Subject") or ""
    reported = bool(
        header(message, "X-Failed-Recipients")
        or header(message, "X-MS-Exchange-Message-Is-Ndr") is not None
        or (
            message.get_content_type() == "multipart/report"
            and message.get_param("report-type", "") == "delivery-status"
        )
    )
    bounce_subject = bool(_BOUNCE_SUBJECT.search(subject))
    if _REPLY_SUBJECT.match(subject) and not reported and not (null_sender and daemon):
        return False, False
    clear = (
        reported
        or mailer_daemon
        or ((null_sender or daemon) and (bounce_subject or bool(_BOUNCE_PHRASE.search(notice))))
    )
    return clear or null_sender or daemon or bounce_subject, clear


def _detected(raw: bytes) -> tuple[set[str], set[str]]:
    """flufl.bounce's (temporary, permanent) failures, as lower-case text."""
    # flufl.bounce reads a compat32 message, as Mailman parses it.
    legacy = email.message_from_bytes(raw)
    try:
        temporary, permanent = all_failures(legacy)
    except Exception:  # a heuristic detector choking on odd input must not lose the message
        return set(), set()

    def text(found: Iterable[bytes]) -> set[str]:
        return {a.decode("utf-8", "replace").strip().strip("<>").lower() for a in found}

    return text(temporary), text(permanent)


def _listed(notice: str, ours: set[str]) -> list[str]:
    """The addresses a notice lists that are not ours, not a daemon's, not a Message-ID."""
    found = []
    for line in notice.split("\n"):
        if re.match(r"(?i)\s*(?:message-id|from|reply-to|sender|return-path)\s*:", line):
            continue
        for address in _TEXT_ADDRESS.findall(line):
            address = address.lower().rstrip(".")
            if address not in ours and not _is_daemon(address):
                found.append(address)
    return list(dict.fromkeys(found))


def _read_failures(
    notice: str, addresses: list[str], temporary_hint: set[str], *, subject: str
) -> list[DsnRecipient]:
    """Per address: its status from the lines about it, and failed or delayed."""
    lines = notice.split("\n")
    first = {}
    for address in addresses:
        mention = re.compile(rf"(?<![\w.+-]){re.escape(address)}(?![\w-])", re.IGNORECASE)
        first[address] = next((i for i, ln in enumerate(lines) if mention.search(ln)), len(lines))
    starts = sorted(set(first.values()))
    # A status given before any address is listed is about them all; one given in another
    # address's lines is not about this one.
    fallback = _status_in("\n".join(lines[: starts[0]] if starts else lines), failures_only=True)
    if fallback is None and len(addresses) == 1:
        fallback = _status_in(notice, failures_only=True)
    default_temporary = bool(_TEMPORARY_SUBJECT.search(subject))
    recipients = []
    for address in addresses:
        start = first[address]
        end = next((s for s in starts if s > start), len(lines))
        scope = "\n".join(lines[start:end])
        status = _status_in(scope, failures_only=True) or fallback
        if status is None and _EXPIRED.search(scope):
            status = "4.4.7"
        temporary = address in temporary_hint or default_temporary
        for line in reversed(lines[:start]):
            if _TEMPORARY_HEADING.search(line):
                temporary = True
                break
            if _PERMANENT_HEADING.search(line):
                temporary = address in temporary_hint
                break
        permanent_status = status is not None and status.startswith("5")
        recipients.append(
            DsnRecipient(
                recipient=address,
                action="delayed" if temporary and not permanent_status else "failed",
                status=status,
                diagnostic=_diagnostic_line(scope) or _diagnostic_line(notice),
            )
        )
    return recipients


def _heuristic(raw: bytes, message: EmailMessage, returned: tuple[str, ...]) -> Bounce | None:
    full_notice = _notice(message)
    notice = _cut(full_notice)
    worth_asking, clear = _looks_like_bounce(message, notice)
    if not worth_asking:
        return None
    ours = {a.lower() for _n, a in getaddresses([header(message, "To") or ""])}
    temporary, permanent = _detected(raw)
    failed = {a.lower() for _n, a in getaddresses([header(message, "X-Failed-Recipients") or ""])}
    addresses = sorted(a for a in failed | temporary | permanent if "@" in a and a not in ours)
    addresses = addresses[:_MAX_ADDRESSES]
    if not addresses and not clear:
        return None
    if not addresses:
        listed = _listed(notice, ours)[:_MAX_ADDRESSES]
        addresses = listed or list(returned if len(returned) == 1 else ())
    # A channel name (user@ims-ms-daemon) when the notice also gives the real address.
    if any(_internet(a) for a in addresses):
        addresses = [a for a in addresses if _internet(a)]
    subject = header(message, "Subject") or ""
    return Bounce(
        recipients=tuple(_read_failures(notice, addresses, temporary, subject=subject)),
        reporting_mta=None,
        standard=False,
        original_message_id=_returned_message_id(message, full_notice),
    )


def _diagnostic_line(text: str) -> str | None:
    """The line of a free-text bounce that gives the server's answer, if one does."""
    for line in text.split("\n"):
        if _FAILURE_STATUS.search(line) or _SMTP_CODE.search(line):
            return line.strip()[:500]
    return None


def detect(raw: bytes, message: EmailMessage, text: str) -> Bounce | None:
    """The bounce `message` (whose raw bytes are `raw`, readable body `text`) reports, or None.

    `text` is the body as the rest of parsing reads it; a bounce's status and addresses are
    read from its notice alone (see the module docstring), which this module finds itself."""
    returned = _returned_recipients(message, _notice(message))
    return _rfc3464(message, returned) or _heuristic(raw, message, returned)
