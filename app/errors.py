"""Domain errors: what services raise when a user can act on the problem.

Services raise `AppError` subclasses; they carry their HTTP status so routes stay thin. The web
layer (`app/web/errors.py`) turns them, and every other error, into a response.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error a user can act on. Subclasses set `status` and `kind`."""

    status: int = 400
    kind: str = "BadRequest"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(AppError):
    status = 404
    kind = "NotFound"


class Conflict(AppError):
    status = 409
    kind = "Conflict"


class InvalidInput(AppError):
    status = 422
    kind = "ValidationError"


class Unauthorized(AppError):
    status = 401
    kind = "Unauthorized"


class Forbidden(AppError):
    status = 403
    kind = "Forbidden"


class TooManyRequests(AppError):
    """A rate limit was hit; `retry_after` (seconds) becomes the Retry-After header."""

    status = 429
    kind = "TooManyRequests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after
