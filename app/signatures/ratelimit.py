"""Rate limits on signing: per client address, per e-mail address and per campaign.

Built on the `limits` library (moving windows, the same notation as its docs: "20/hour"). Its
in-memory storage is per process, which suits the embedded setup (one server process); several
API processes each keep their own counts, so the effective limit is N times the setting, and a
shared storage (`limits` supports Redis and others) can be swapped in here without touching the
callers. Hitting a limit raises `TooManyRequests`, which the error handlers answer with 429 and
Retry-After: JSON for the API, a polite page for the form.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings
from app.errors import TooManyRequests


@dataclass(frozen=True, slots=True)
class SigningLimits:
    per_ip: RateLimitItem
    per_email: RateLimitItem
    per_campaign: RateLimitItem
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningLimits:
        """Parses the settings (a bad one fails at start-up, not on the first signature)."""
        return cls(
            parse(settings.signing_rate_per_ip),
            parse(settings.signing_rate_per_email),
            parse(settings.signing_rate_per_campaign),
            MovingWindowRateLimiter(MemoryStorage()),
        )

    def _hit(self, item: RateLimitItem, scope: str, key: str, detail: str) -> None:
        if self.limiter.hit(item, scope, key):
            return
        reset = self.limiter.get_window_stats(item, scope, key).reset_time
        raise TooManyRequests(detail, retry_after=max(1, math.ceil(reset - time.time())))

    def hit_ip(self, address: str) -> None:
        self._hit(
            self.per_ip, "ip", address, "Too many signatures from your network; try again later."
        )

    def hit_email(self, key: str) -> None:
        self._hit(self.per_email, "email", key, "This address was used too often; try again later.")

    def hit_campaign(self, slug: str) -> None:
        self._hit(
            self.per_campaign,
            "campaign",
            slug,
            "This campaign is receiving very many signatures; try again in a little while.",
        )


def client_address(request: Request) -> str:
    """The peer's address. Behind a proxy, run uvicorn with --proxy-headers from that proxy."""
    return request.client.host if request.client else "unknown"


def signing_limits(request: Request) -> SigningLimits:
    limits: SigningLimits = request.app.state.signing_limits
    return limits
