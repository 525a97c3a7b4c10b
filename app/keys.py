"""One key per purpose, derived from the master secret (`APPEALS_TOKEN_SECRET`).

Reply and bounce addresses, the form's timestamp token and the supporter identity are each
an HMAC, each keyed with its own key: HKDF-SHA256 (RFC 5869) of the master secret with the
purpose as `info`. A token made for one purpose therefore never verifies as another, and
learning one derived key tells nothing of the secret or of the other keys. Confirmation and
status links are random (`secrets.token_urlsafe`) and stored hashed; they need no key.

Rotation: new tokens use `token_secret`; verifiers also try each of
`token_secret_previous`, so links and reply addresses already sent keep working.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from functools import lru_cache

# The default this project once published: a secret everybody knows is no secret.
PUBLISHED_DEFAULTS = frozenset({"change-me-in-production"})
MIN_SECRET_LENGTH = 32
HOW_TO_MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


class Purpose(StrEnum):  # the values are HKDF `info` labels, not secrets
    delivery_token = "appeals delivery token v1"  # noqa: S105 - reply+ and bounce+ addresses
    form_token = "appeals form token v1"  # noqa: S105 - the signed timestamp in the public form
    supporter_identity = "appeals supporter identity v1"  # HMAC of the e-mail address


@lru_cache(maxsize=64)
def derive(secret: str, purpose: Purpose) -> bytes:
    """HKDF-SHA256 with an all-zero salt (RFC 5869 §2.2) and one 32-byte block of output."""
    prk = hmac.new(b"\x00" * 32, secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, purpose.value.encode() + b"\x01", hashlib.sha256).digest()


def secret_problem(secret: str) -> str | None:
    """Why `secret` may not sign anything, or None when it may."""
    if not secret:
        return "APPEALS_TOKEN_SECRET is not set"
    if secret in PUBLISHED_DEFAULTS:
        return "APPEALS_TOKEN_SECRET is the published default"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"APPEALS_TOKEN_SECRET is shorter than {MIN_SECRET_LENGTH} characters"
    return None
