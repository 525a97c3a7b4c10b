"""Building a letter's e-mail, and the transports that carry it.

From is the campaign's own address with the supporter's name in the display name ("Ada via
Free Bokayev"): never the supporter's address, which DMARC would reject. Reply-To, Message-ID
and the VERP envelope sender carry an unforgeable token of the delivery that hides its number,
so replies and bounces map back to it. The message is an `EmailMessage` (SMTP policy), but its
headers and parts are encoded here once, for the wire: the policy would parse every header when
set and re-fold it at each send (≈1 ms a message, most of a worker's CPU). So this module does
the policy's job of refusing any line break or control character in a header value (supporter
names, subjects), which is what keeps them from adding headers; tests/delivery/test_email.py
holds it to that.
The outbox transport (the default) writes .eml files and never contacts a server.
"""

from __future__ import annotations

from app.delivery.email.message import Outgoing, attach, build, shown_name
from app.delivery.email.tokens import (
    TOKEN_LENGTH,
    delivery_token,
    legacy_delivery_token,
    parse_token,
)
from app.delivery.email.transport import (
    ChannelFault,
    OutboxTransport,
    SendError,
    SmtpTransport,
    Transport,
    erase_from_outbox,
    make_transport,
    outbox_folder,
)

__all__ = [
    "TOKEN_LENGTH",
    "ChannelFault",
    "OutboxTransport",
    "Outgoing",
    "SendError",
    "SmtpTransport",
    "Transport",
    "attach",
    "build",
    "delivery_token",
    "erase_from_outbox",
    "legacy_delivery_token",
    "make_transport",
    "outbox_folder",
    "parse_token",
    "shown_name",
]
