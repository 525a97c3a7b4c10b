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

from email.message import EmailMessage

from app.responses.bounces.dsn import read_report
from app.responses.bounces.report import Bounce, DsnRecipient
from app.responses.bounces.returned import returned_recipients
from app.responses.bounces.text import notice_of, read_text_bounce

__all__ = ["Bounce", "DsnRecipient", "detect"]


def detect(raw: bytes, message: EmailMessage, text: str) -> Bounce | None:
    """The bounce `message` (whose raw bytes are `raw`, readable body `text`) reports, or None.

    `text` is the body as the rest of parsing reads it; a bounce's status and addresses are
    read from its notice alone (see the module docstring), which this module finds itself."""
    returned = returned_recipients(message, notice_of(message))
    return read_report(message, returned) or read_text_bounce(raw, message, returned)
