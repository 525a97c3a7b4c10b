"""Rate limits on staff sign-in: a lock per (account, client address), a slowdown per account,
and a cap on all attempts per client address.

The review's finding: counting failures per account let a stranger lock a colleague out with
five wrong passwords. So the lock (`staff_login_rate_per_account`, 5 per 15 minutes) now counts
the failures for one account *from one address*: the stranger locks only their own pair, and
the colleague, from anywhere else, signs in at once. Every attempt from one address, whatever
the account, is capped too (`staff_login_rate_per_ip`), so one address cannot guess at many
accounts.

That alone would let a guesser with many addresses try five passwords per address, so each
account also has a slowdown, not a lock: once `SLOW_AFTER` failures for it (from any address)
fall within the window, every sign-in to it waits before the password is checked, one second
and then twice as long per further failure, at most `MAX_DELAY`. We chose a delay over a
second, higher lock because a lock per account is exactly what anyone can trigger from outside;
a delay never refuses the owner, who waits at most `MAX_DELAY` seconds with the right password,
while a guesser pays it on every try. It binds a patient sequential guesser; against one with
many addresses in parallel it only adds latency, and the per-address caps do the rest. The
wait comes before the sign-in touches the database, so a waiting request holds no connection. A
success does not count, so signing in normally never slows anyone down.

The windows are ours (as in app/signatures/ratelimit.py, which this layer sits below): a few
deque operations on the event loop, a clock and a sleep passed in so tests need not wait. The
counts live in this process's memory: with N server processes each keeps its own.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from limits import parse

from app.config import Settings
from app.errors import TooManyRequests

# Failures per account in the window before sign-ins to it are slowed: twice the default lock
# per pair, so one stranger, locked at five, slows no one.
SLOW_AFTER = 10
BASE_DELAY = 1.0  # seconds, doubled per failure beyond SLOW_AFTER
MAX_DELAY = 10.0  # the most the owner ever waits with the right password
SWEEP_SECONDS = 60.0

_DETAIL = "Too many sign-in attempts. Please wait a little and try again."

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Window:
    """Events per key within the last `seconds` (a moving window), for one process."""

    def __init__(self, *, amount: int, seconds: float, clock: Clock) -> None:
        self.amount = amount
        self.seconds = seconds
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._next_sweep = clock() + SWEEP_SECONDS

    def _live(self, key: str, now: float) -> deque[float] | None:
        if now >= self._next_sweep:
            # Forget keys whose every event has left the window: they would start afresh.
            cutoff = now - self.seconds
            for stale in [k for k, e in self._events.items() if not e or e[-1] <= cutoff]:
                del self._events[stale]
            self._next_sweep = now + SWEEP_SECONDS
        events = self._events.get(key)
        if events is not None:
            while events and events[0] <= now - self.seconds:
                events.popleft()
        return events

    def count(self, key: str) -> int:
        events = self._live(key, self._clock())
        return len(events) if events else 0

    def wait(self, key: str) -> float | None:
        """None if another event for `key` is within the limit, else the seconds until it is."""
        now = self._clock()
        events = self._live(key, now)
        if events is None or len(events) < self.amount:
            return None
        return events[-self.amount] + self.seconds - now

    def add(self, key: str) -> None:
        now = self._clock()
        events = self._live(key, now)
        if events is None:
            events = self._events[key] = deque()
        events.append(now)


def slowdown(failures: int) -> float:
    """Seconds a sign-in to an account waits after `failures` recent failures for it."""
    if failures < SLOW_AFTER:
        return 0.0
    doublings = min(failures - SLOW_AFTER, 32)  # far past the cap; 2.0**n overflows later
    return min(MAX_DELAY, BASE_DELAY * 2.0**doublings)


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_pair: Window  # failures per (account, address): the lock
    per_account: Window  # failures per account from anywhere: the slowdown
    per_ip: Window  # every attempt per address
    sleep: Sleep = field(default=asyncio.sleep)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> LoginLimits:
        """Parses the settings (a bad one fails at start-up, not on the first sign-in)."""
        pair = parse(settings.staff_login_rate_per_account)
        ip = parse(settings.staff_login_rate_per_ip)
        seconds = float(pair.get_expiry())
        return cls(
            per_pair=Window(amount=pair.amount, seconds=seconds, clock=clock),
            # Only counted, never refused on: its amount is not a limit.
            per_account=Window(amount=SLOW_AFTER, seconds=seconds, clock=clock),
            per_ip=Window(amount=ip.amount, seconds=float(ip.get_expiry()), clock=clock),
            sleep=sleep,
        )

    @staticmethod
    def _refuse_if_full(window: Window, key: str) -> None:
        wait = window.wait(key)
        if wait is not None:
            raise TooManyRequests(_DETAIL, retry_after=max(1, math.ceil(wait)))

    async def attempt(self, *, address: str, account: str) -> None:
        """Count an attempt on `account` from `address`: refuse it (429) if this address is
        over its cap or this pair is locked, else wait out the account's slowdown."""
        self._refuse_if_full(self.per_ip, address)
        self.per_ip.add(address)
        self._refuse_if_full(self.per_pair, _pair(account, address))
        delay = slowdown(self.per_account.count(account))
        if delay:
            await self.sleep(delay)

    def failed(self, *, address: str, account: str) -> None:
        self.per_pair.add(_pair(account, address))
        self.per_account.add(account)


def _pair(account: str, address: str) -> str:
    return f"{account}\n{address}"  # unambiguous: an address holds no newline


async def login_limits(request: Request) -> LoginLimits:
    """The process's limits (async: a plain `def` dependency would hop to a worker thread)."""
    limits: LoginLimits = request.app.state.staff_login_limits
    return limits
