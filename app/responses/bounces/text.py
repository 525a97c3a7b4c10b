"""Bounces that are not RFC 3464 reports: X-Failed-Recipients, `flufl.bounce`, the notice's text.

Their status is read only from the notice (the text before the returned letter), per address from
the lines about it; whether a failure is permanent follows that status, else the section the
address is listed under."""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from app.responses.bounces.report import (
    FAILURE_STATUS,
    MAX_ADDRESSES,
    SMTP_CODE,
    TEXT_ADDRESS,
    Bounce,
    DsnRecipient,
    is_daemon,
    is_internet,
    status_in,
)
from app.responses.bounces.returned import RETURNED_START, returned_message_id
from app.responses.mime import header, header_all, part_text

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


def notice_of(message: Message) -> str:
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
    found = RETURNED_START.search(notice)
    return notice[: found.start()] if found else notice


def _looks_like_bounce(message: Message, notice: str) -> tuple[bool, bool]:
    """(worth asking the detectors, clearly a bounce even if no address can be read).

    A person's reply or forward (a Re:/Fwd: subject from anyone but a null-sender daemon) is
    never one, even when it quotes a bounce; an RFC 3834 auto-reply has a null sender too, so
    that alone does not make a bounce."""
    name, sender = parseaddr(header(message, "From") or "")
    null_sender = (header(message, "Return-Path") or "").strip() == "<>"
    daemon = is_daemon(sender) or bool(
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
        for address in TEXT_ADDRESS.findall(line):
            address = address.lower().rstrip(".")
            if address not in ours and not is_daemon(address):
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
    fallback = status_in("\n".join(lines[: starts[0]] if starts else lines), failures_only=True)
    if fallback is None and len(addresses) == 1:
        fallback = status_in(notice, failures_only=True)
    default_temporary = bool(_TEMPORARY_SUBJECT.search(subject))
    recipients = []
    for address in addresses:
        start = first[address]
        end = next((s for s in starts if s > start), len(lines))
        scope = "\n".join(lines[start:end])
        status = status_in(scope, failures_only=True) or fallback
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


def read_text_bounce(raw: bytes, message: EmailMessage, returned: tuple[str, ...]) -> Bounce | None:
    full_notice = notice_of(message)
    notice = _cut(full_notice)
    worth_asking, clear = _looks_like_bounce(message, notice)
    if not worth_asking:
        return None
    ours = {a.lower() for _n, a in getaddresses([header(message, "To") or ""])}
    temporary, permanent = _detected(raw)
    failed = {a.lower() for _n, a in getaddresses([header(message, "X-Failed-Recipients") or ""])}
    addresses = sorted(a for a in failed | temporary | permanent if "@" in a and a not in ours)
    addresses = addresses[:MAX_ADDRESSES]
    if not addresses and not clear:
        return None
    if not addresses:
        listed = _listed(notice, ours)[:MAX_ADDRESSES]
        addresses = listed or list(returned if len(returned) == 1 else ())
    # A channel name (user@ims-ms-daemon) when the notice also gives the real address.
    if any(is_internet(a) for a in addresses):
        addresses = [a for a in addresses if is_internet(a)]
    subject = header(message, "Subject") or ""
    return Bounce(
        recipients=tuple(_read_failures(notice, addresses, temporary, subject=subject)),
        reporting_mta=None,
        standard=False,
        original_message_id=returned_message_id(message, full_notice),
    )


def _diagnostic_line(text: str) -> str | None:
    """The line of a free-text bounce that gives the server's answer, if one does."""
    for line in text.split("\n"):
        if FAILURE_STATUS.search(line) or SMTP_CODE.search(line):
            return line.strip()[:500]
    return None
