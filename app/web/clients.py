"""Who is asking: the client's address and whether it came over HTTPS, behind trusted proxies.

Forwarded headers are believed only from a direct peer listed in `APPEALS_TRUSTED_PROXIES`
(anyone else can write them). We read them here rather than through uvicorn's
`--proxy-headers`, because `appeals serve` runs without it and the trust list belongs with the
other settings; the rule is the same: the rightmost X-Forwarded-Proto is the nearest proxy's,
and the client is the rightmost X-Forwarded-For entry that is not itself a trusted proxy.
Staff sign-in limits and sessions, and the public signing limits, count that address: behind a
proxy without it, every supporter would share the proxy's one address and its limit.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from app.config import Settings, settings_of

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str | None, settings: Settings) -> bool:
    if not address or not settings.trusted_proxies:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.trusted_proxies)))


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


def served_over_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (and so may be sent Secure cookies)."""
    settings = settings_of(request)
    if settings.served_over_tls or request.url.scheme == "https":
        return True
    if not _trusted(_peer(request), settings):
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.rsplit(",", 1)[-1].strip().lower() == "https"


def client_address(request: Request) -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it forwarded."""
    settings = settings_of(request)
    peer = _peer(request)
    if not _trusted(peer, settings):
        return peer or "unknown"
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed entry: trust nothing left of it
        if not _trusted(hop, settings):
            return hop
    return peer or "unknown"
