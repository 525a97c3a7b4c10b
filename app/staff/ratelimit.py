"""Rate limits on staff sign-in: failed attempts per account, all attempts per client address.

The same `limits` moving windows as public signing (app/signatures/ratelimit.py), kept here
because the staff layer sits below the signing domain. Per account only failures count, so a
guesser cannot lock a colleague out by succeeding; per address every attempt counts. Memory
storage is per process (see app/signatures/ratelimit.py for what that means with N processes).
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

_DETAIL = "Too many sign-in attempts. Please wait a little and try again."


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_account: RateLimitItem
    per_ip: RateLimitItem
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(
            parse(settings.staff_login_rate_per_account),
            parse(settings.staff_login_rate_per_ip),
            MovingWindowRateLimiter(MemoryStorage()),
        )

    def _refuse(self, item: RateLimitItem, scope: str, key: str) -> TooManyRequests:
        reset = self.limiter.get_window_stats(item, scope, key).reset_time
        return TooManyRequests(_DETAIL, retry_after=max(1, math.ceil(reset - time.time())))

    def attempt(self, *, address: str, account: str) -> None:
        """Count an attempt from `address`; refuse it if either limit is already reached."""
        if not self.limiter.hit(self.per_ip, "staff-login-ip", address):
            raise self._refuse(self.per_ip, "staff-login-ip", address)
        if not self.limiter.test(self.per_account, "staff-login-account", account):
            raise self._refuse(self.per_account, "staff-login-account", account)

    def failed(self, *, account: str) -> None:
        self.limiter.hit(self.per_account, "staff-login-account", account)


def client_address(request: Request) -> str:
    """The peer's address. Behind a proxy, run uvicorn with --proxy-headers from that proxy."""
    return request.client.host if request.client else "unknown"


def login_limits(request: Request) -> LoginLimits:
    limits: LoginLimits = request.app.state.staff_login_limits
    return limits
