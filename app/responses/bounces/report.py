"""What a bounce says: its recipients' blocks, and the status and address readers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass


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
FAILURE_STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A bare SMTP reply code where a server's answer is quoted ("said: 550 No such user").
SMTP_CODE = re.compile(r"(?:^|[\s:(<>\[])([45])\d\d(?=[\s-])")
_INTERNET = re.compile(r"^[^@\s/;<>()\[\]]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.IGNORECASE)
# Starting only where a word starts, and possessive, so a long run without an @ costs one pass
# (hostile mail: a 200 KB line of letters took minutes with a plain pattern).
TEXT_ADDRESS = re.compile(
    r"(?<![a-z0-9._%+'=-])[a-z0-9][a-z0-9._%+'=-]*+@[a-z0-9-]++(?:\.[a-z0-9-]++)+", re.IGNORECASE
)
MAX_ADDRESSES = 50  # our letters have one recipient; a bounce naming hundreds is not about them
_DAEMON_LOCAL = re.compile(
    r"^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|microsoftexchange\w*)$",
    re.IGNORECASE,
)


def status_in(text: str, *, failures_only: bool = False) -> str | None:
    found = (FAILURE_STATUS if failures_only else _STATUS).search(text)
    if found:
        return ".".join(found.groups())
    code = SMTP_CODE.search(text)
    return f"{code.group(1)}.0.0" if code else None


def is_internet(address: str | None) -> bool:
    """A routable mailbox: not an X.400 name, a legacy DN or a `*-daemon` channel name."""
    if not address or not _INTERNET.match(address):
        return False
    return not address.rsplit(".", 1)[-1].endswith("-daemon")


def imcea_address(address: str) -> str | None:
    """Exchange's encapsulation `IMCEASMTP-jdoe+40example+2Eorg@host` → `jdoe@example.org`."""
    found = re.match(r"^imcea(?:smtp)?-(.+)@[^@]+$", address, re.IGNORECASE)
    if not found or "+40" not in found.group(1):
        return None
    decoded = re.sub(
        r"\+([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), found.group(1), flags=re.I
    )
    return decoded.lower() if is_internet(decoded) else None


def is_daemon(address: str) -> bool:
    return bool(_DAEMON_LOCAL.match(address.split("@")[0]))
