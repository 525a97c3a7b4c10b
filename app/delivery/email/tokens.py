"""The delivery token: names a delivery in Message-IDs and reply/bounce addresses, unforgeably
and without showing its number; the old `<id>.<mac>` form is still read. `seal` and `unseal`
make the same kind of token under another label, for the other mails we send (a supporter's
confirmation mail): a token made under one label never reads under another."""

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


DELIVERY = b"v2"  # the delivery token's label; another kind of token needs its own


def _pad(secret: str, tag: bytes, label: bytes) -> bytes:
    key = _token_key(secret, label + b" pad")
    return hmac.new(key, tag, hashlib.sha256).digest()[:_ID_BYTES]


def _tag(secret: str, ident: bytes, label: bytes) -> bytes:
    key = _token_key(secret, label + b" tag")
    return hmac.new(key, ident, hashlib.sha256).digest()[:_TAG_BYTES]


def seal(number: int, secret: str, *, label: bytes) -> str:
    """36 hex digits naming `number` (below 2**64) to us alone, under `label` (which must hold
    a letter, see `_token_key`): unforgeable, and no counter shows."""
    ident = number.to_bytes(_ID_BYTES, "big")
    tag = _tag(secret, ident, label)
    return (tag + bytes(a ^ b for a, b in zip(ident, _pad(secret, tag, label), strict=True))).hex()


def unseal(token: str, secret: str, previous: Sequence[str] = (), *, label: bytes) -> int | None:
    """The number a `seal` token of `label` names, made with `secret` or one of `previous`."""
    if not _TOKEN.fullmatch(token):
        return None
    raw = bytes.fromhex(token)
    tag, sealed = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    for key in (secret, *previous):
        ident = bytes(a ^ b for a, b in zip(sealed, _pad(key, tag, label), strict=True))
        if hmac.compare_digest(_tag(key, ident, label), tag):
            return int.from_bytes(ident, "big")
    return None


def delivery_token(delivery_id: int, secret: str) -> str:
    """36 hex digits naming the delivery to us alone: unforgeable, and no counter shows."""
    return seal(delivery_id, secret, label=DELIVERY)


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
    return unseal(token, secret, previous, label=DELIVERY)


def _parse_legacy(token: str, secret: str, previous: Sequence[str]) -> int | None:
    ident, _, _sig = token.partition(".")
    if not ident.isdigit() or len(ident) > 19:
        return None
    for key in (secret, *previous):
        if hmac.compare_digest(legacy_delivery_token(int(ident), key), token):
            return int(ident)
    return None
