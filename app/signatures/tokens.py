"""Secrets of public signing: the supporter key, link tokens and the signed form token.

- A supporter is their e-mail address, normalised (strip, NFKC, casefold) and stored for lookups
  as an HMAC keyed with a key derived from `token_secret` (app/keys.py): the table alone does
  not reveal who signed.
- Links in e-mails carry `secrets.token_urlsafe(32)` (256 bits); only its SHA-256 is stored.
- The form carries `<issued>.<hmac>`, binding the time the form was served to the campaign, so
  a reply sooner than a human could type is recognised without any state on the server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta

from app.keys import Purpose, derive


def normalise_email(address: str) -> str:
    return unicodedata.normalize("NFKC", address.strip()).casefold()


def supporter_key(address: str, secret: str) -> str:
    """The supporter's identity: HMAC-SHA256 of the normalised address (64 hex digits)."""
    normalised = normalise_email(address).encode()
    key = derive(secret, Purpose.supporter_identity)
    return hmac.new(key, b"supporter\x1f" + normalised, hashlib.sha256).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh link token and the hash to store: (token, sha256 hex)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _form_mac(slug: str, issued: int, secret: str) -> str:
    message = f"form\x1f{slug}\x1f{issued}".encode()
    return hmac.new(derive(secret, Purpose.form_token), message, hashlib.sha256).hexdigest()[:32]


def form_token(slug: str, secret: str, *, issued_at: datetime) -> str:
    issued = int(issued_at.timestamp())
    return f"{issued}.{_form_mac(slug, issued, secret)}"


def check_form_token(
    token: str | None,
    slug: str,
    secret: str,
    *,
    now: datetime,
    min_fill: timedelta,
    max_age: timedelta,
    previous: Sequence[str] = (),
) -> str | None:
    """None when the token is good; otherwise why not: "missing", "forged", "quick", "old".

    A token signed with one of the `previous` secrets is still good (a form served just
    before a rotation)."""
    if not token:
        return "missing"
    issued_text, _, mac = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return "forged"
    issued = int(issued_text)
    if not any(
        hmac.compare_digest(mac, _form_mac(slug, issued, key)) for key in (secret, *previous)
    ):
        return "forged"
    age = now.timestamp() - int(issued_text)
    if age < min_fill.total_seconds():
        return "quick"
    if age > max_age.total_seconds():
        return "old"
    return None
