"""The delivery token: names a delivery in Message-IDs and reply/bounce addresses, unforgeably
and without showing its number; the old `<id>.<mac>` form is still read."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Sequence

from app.keys import Purpose, derive

# The token names its delivery without showing its number: a Message-ID or reply address with
# the row id in clear told every recipient how many letters the campaign had sent. It is a
# deterministic authenticated encryption of the id (SIV style), so a retry keeps its
# Message-ID and matching needs no lookup table:
#   tag = HMAC(k_tag, id)[:10]   pad = HMAC(k_pad, tag)[:8]   token = hex(tag ‖ id XOR pad)
# Reading it back recovers the id from the pad and accepts it only if the tag recomputes.
TOKEN_LENGTH = 36  # hex digits: an 80-bit tag and the 64-bit id, encrypted
_TAG_BYTES, _ID_BYTES = 10, 8
_TOKEN = re.compile(f"[0-9a-f]{{{TOKEN_LENGTH}}}", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _token_key(secret: str, label: bytes) -> bytes:
    # Sub-keys of the delivery-token key; their labels contain letters, so they never collide
    # with the legacy MACs of all-digit ids made with the same key.
    return hmac.new(derive(secret, Purpose.delivery_token), label, hashlib.sha256).digest()


def _pad(secret: str, tag: bytes) -> bytes:
    return hmac.new(_token_key(secret, b"v2 pad"), tag, hashlib.sha256).digest()[:_ID_BYTES]


def _tag(secret: str, ident: bytes) -> bytes:
    return hmac.new(_token_key(secret, b"v2 tag"), ident, hashlib.sha256).digest()[:_TAG_BYTES]


def delivery_token(delivery_id: int, secret: str) -> str:
    """36 hex digits naming the delivery to us alone: unforgeable, and no counter shows."""
    ident = delivery_id.to_bytes(_ID_BYTES, "big")
    tag = _tag(secret, ident)
    return (tag + bytes(a ^ b for a, b in zip(ident, _pad(secret, tag), strict=True))).hex()


def legacy_delivery_token(delivery_id: int, secret: str) -> str:
    """`<id>.<signature>`: the form sent before the ids were hidden, still read, never issued."""
    key = derive(secret, Purpose.delivery_token)
    mac = hmac.new(key, str(delivery_id).encode(), hashlib.sha256).hexdigest()
    return f"{delivery_id}.{mac[:20]}"


def parse_token(token: str, secret: str, previous: Sequence[str] = ()) -> int | None:
    """The delivery id `token` names if it was made with `secret` or one of `previous`; either
    form, so replies to letters sent before the change still match."""
    if "." in token:
        return _parse_legacy(token, secret, previous)
    if not _TOKEN.fullmatch(token):
        return None
    raw = bytes.fromhex(token)
    tag, sealed = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    for key in (secret, *previous):
        ident = bytes(a ^ b for a, b in zip(sealed, _pad(key, tag), strict=True))
        if hmac.compare_digest(_tag(key, ident), tag):
            return int.from_bytes(ident, "big")
    return None


def _parse_legacy(token: str, secret: str, previous: Sequence[str]) -> int | None:
    ident, _, _sig = token.partition(".")
    if not ident.isdigit() or len(ident) > 19:
        return None
    for key in (secret, *previous):
        if hmac.compare_digest(legacy_delivery_token(int(ident), key), token):
            return int(ident)
    return None
