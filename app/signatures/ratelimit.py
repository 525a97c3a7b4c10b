"""Rate limits on signing: per client address, per e-mail address and per campaign.

Limits are written in the notation of the `limits` library ("20/hour"), which parses them, and
counted over a moving window: a hit is refused while the last `amount` accepted hits all fall
within the window. The counts live in this process's memory, which suits the embedded setup
(one server process); several API processes each keep their own counts, so the effective limit
is N times the setting, and a shared store (Redis, say) can replace `MovingWindow` here without
touching the callers. Hitting a limit raises `TooManyRequests`, which the error handlers answer
with 429 and Retry-After: JSON for the API, a polite page for the form.

`MovingWindow` is ours rather than `limits`' in-memory storage because that storage starts a
timer thread on every hit and inserts at the front of a list: under load the threads fought the
event loop for the GIL and the signing route spent most of its time waiting. Here a hit is a few
deque operations on the event loop, and keys whose hits have all expired are swept once a
minute. Only the event loop calls it (async routes and dependencies), so it needs no locks.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse

from app.config import Settings
from app.errors import TooManyRequests

SWEEP_SECONDS = 60.0


class MovingWindow:
    """Accepted hits per key within the last `window` seconds, at most `amount` of them."""

    def __init__(self, item: RateLimitItem) -> None:
        self.amount = item.amount
        self.window = float(item.get_expiry())
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    def hit(self, key: str, *, now: float | None = None) -> float | None:
        """Count a hit for `key`; None if accepted, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        cutoff = now - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if len(hits) >= self.amount:
            return hits[-self.amount] + self.window - now if self.amount else self.window
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        """Forget keys whose every hit has left the window (they would start afresh anyway)."""
        cutoff = now - self.window
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[key]
        self._next_sweep = now + SWEEP_SECONDS


@dataclass(frozen=True, slots=True)
class SigningLimits:
    per_ip: MovingWindow
    per_email: MovingWindow
    per_campaign: MovingWindow

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningLimits:
        """Parses the settings (a bad one fails at start-up, not on the first signature)."""
        return cls(
            MovingWindow(parse(settings.signing_rate_per_ip)),
            MovingWindow(parse(settings.signing_rate_per_email)),
            MovingWindow(parse(settings.signing_rate_per_campaign)),
        )

    @staticmethod
    def _hit(window: MovingWindow, key: str, detail: str) -> None:
        wait = window.hit(key)
        if wait is not None:
            raise TooManyRequests(detail, retry_after=max(1, math.ceil(wait)))

    def hit_ip(self, address: str) -> None:
        self._hit(self.per_ip, address, "Too many signatures from your network; try again later.")

    def hit_email(self, key: str) -> None:
        self._hit(self.per_email, key, "This address was used too often; try again later.")

    def hit_campaign(self, slug: str) -> None:
        self._hit(
            self.per_campaign,
            slug,
            "This campaign is receiving very many signatures; try again in a little while.",
        )


async def signing_limits(request: Request) -> SigningLimits:
    """The process's limits. Async on purpose: FastAPI runs a plain `def` dependency in a
    worker thread, and that hop cost more than the work."""
    limits: SigningLimits = request.app.state.signing_limits
    return limits
