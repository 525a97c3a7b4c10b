"""One failure policy for every e-mail we send: letters and supporters' confirmation mails.

- Lease deadline: a round claims its mails under a lease of `lease_seconds`, and every send must
  end before the lease does, or another worker could take the mail and send it too. So sends stop
  a tenth of the lease short of it (the workers' clocks and the database's notion of "expired"
  differ a little); what is left is handed back, its attempt not counted.
- Retry schedule: a temporary failure waits `retry_delays_minutes` (growing, with jitter) and is
  given up after `retry_give_up_days`, its reason kept (`app/delivery/queue/retries.py`).
- Channel pause: a `ChannelFault` (a refused login, TLS settings that do not work) is our fault,
  not the mail's: the e-mail channel pauses for `channel_pause_minutes`, the claimed mails go back
  unspent, and no round claims e-mail until the pause ends or staff lift it.
- Bounce token: every mail's VERP envelope sender and Message-ID carry an unforgeable token that
  names it (`app/delivery/email/tokens.py`), so its bounce maps back to it.

Each round keeps its own records (a delivery's events, a signature's); this module is the order
of the sends and the decisions they share.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.delivery.email.message import Outgoing
from app.delivery.email.transport import ChannelFault, Receipt, SendError, Transport
from app.delivery.queue import pauses
from app.delivery.queue.retries import next_attempt
from app.recipients.channels import ChannelKind

log = logging.getLogger(__name__)
LEASE_SHARE = 0.9  # of the lease a round may spend sending


class Mail(Protocol):
    """A claimed mail: whatever a round claimed, with the message it sends."""

    @property
    def outgoing(self) -> Outgoing: ...


M = TypeVar("M", bound=Mail)


def deadline(settings: Settings) -> float:
    """The `time.monotonic()` by which a round's sends must end; take it before claiming."""
    return time.monotonic() + settings.lease_seconds * LEASE_SHARE


async def send_all(
    items: Sequence[M],
    *,
    transport: Transport,
    deadline: float,
    accepted: Callable[[M, Receipt], Awaitable[None]],
    failed: Callable[[M, SendError], Awaitable[None]],
    hand_back: Callable[[Sequence[M], ChannelFault | None], Awaitable[None]],
) -> None:
    """Send `items` in order, each within what is left before `deadline`; record each outcome
    with `accepted` (the transport's receipt) or `failed`. When time runs out, or on a channel
    fault, the rest (the faulted one included) goes to `hand_back` with the fault, if any."""
    for index, item in enumerate(items):
        left = deadline - time.monotonic()
        if left <= 0:
            # The server is slow today: hand the rest back, to go again soon.
            await hand_back(items[index:], None)
            return
        try:
            receipt = await transport.send(item.outgoing, within=left)
        except ChannelFault as fault:
            await hand_back(items[index:], fault)
            return
        except SendError as error:
            await failed(item, error)
        else:
            await accepted(item, receipt)


def retry_at(
    settings: Settings,
    *,
    attempt: int,
    failing_since: datetime,
    now: datetime,
    rng: random.Random,
) -> datetime | None:
    """When to try again after failed attempt number `attempt` (1-based) of a mail failing
    temporarily since `failing_since`; None: give up."""
    return next_attempt(
        attempt=attempt,
        failing_since=failing_since,
        now=now,
        delays_minutes=settings.retry_delays_minutes,
        give_up_days=settings.retry_give_up_days,
        rng=rng,
    )


def pause_ends(settings: Settings, *, now: datetime) -> datetime:
    """Until when a channel fault found at `now` pauses e-mail."""
    return now + timedelta(minutes=settings.channel_pause_minutes)


async def paused(session: AsyncSession, *, now: datetime) -> bool:
    """Whether the e-mail channel is paused: then no round claims e-mail."""
    return await pauses.active(session, channel=ChannelKind.email, now=now)


async def pause(
    session: AsyncSession, fault: ChannelFault, *, until: datetime, now: datetime, actor: str
) -> None:
    """Pause e-mail for every round until `until`, in the caller's transaction."""
    log.error("%s: pausing e-mail until %s: %s", actor, until, fault.detail)
    await pauses.pause(
        session, channel=ChannelKind.email, reason=fault.detail, until=until, now=now, actor=actor
    )
