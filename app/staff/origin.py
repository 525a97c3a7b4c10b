"""Where a staff request comes from: its scheme and client address behind trusted proxies, and
the same-origin check on every staff form.

Forwarded headers are believed only from a direct peer listed in `APPEALS_TRUSTED_PROXIES`
(anyone else can write them). We read them here rather than through uvicorn's
`--proxy-headers`, because `appeals serve` runs without it and the trust list belongs with the
other settings; the rule is the same: the rightmost X-Forwarded-Proto is the nearest proxy's,
and the client is the rightmost X-Forwarded-For entry that is not itself a trusted proxy.

The origin check is defence in depth beside the CSRF token on every staff form (pages.py): a
browser that says the form came from another site (`Origin` not ours, or `Sec-Fetch-Site:
cross-site`) is refused with 403 before any session or password is looked at. A request with
neither header (an old browser, curl), or with `Origin: null` and no Sec-Fetch-Site, passes
and relies on the token alone. Only the staff area
is checked: the public signing form is meant to be embedded on partners' sites and carries its
own form token, and supporters' token links involve no cookie a foreign site could ride on.
The refusal is in English and Russian at once: staff pages are English only (their language is
not negotiated), but this page may be the first one a Russian-speaking colleague sees.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from fastapi import Request

from app.config import Settings
from app.errors import Forbidden

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED = (
    "This form was sent from another site, so it was refused. Open the staff area directly "
    "and try again. — Эта форма отправлена с другого сайта, поэтому отклонена. Откройте "
    "раздел сотрудников напрямую и попробуйте ещё раз."
)


class CrossSiteForm(Forbidden):
    kind = "CrossSiteForm"


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


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def served_over_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (and so may be sent Secure cookies)."""
    settings = _settings(request)
    if settings.served_over_tls or request.url.scheme == "https":
        return True
    if not _trusted(_peer(request), settings):
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.rsplit(",", 1)[-1].strip().lower() == "https"


def client_address(request: Request) -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it forwarded."""
    settings = _settings(request)
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


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(request: Request) -> set[str]:
    own = {_origin_of(_settings(request).public_url)}
    host = request.headers.get("host")
    if host:
        scheme = "https" if served_over_https(request) else request.url.scheme
        own.add(f"{scheme}://{host}".lower())
    return own


def check_same_origin(request: Request) -> None:
    """Refuse (403) a state-changing staff request that a browser says another site sent."""
    if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        raise CrossSiteForm(REFUSED)
    origin = (request.headers.get("origin") or "").strip().lower()
    # Our pages send `Referrer-Policy: no-referrer`, under which browsers write "null" as the
    # Origin of a form POST even to its own site: it tells nothing, and Sec-Fetch-Site above
    # (which that policy leaves alone) is what judges such a request.
    if origin and origin != "null" and origin not in _own_origins(request):
        raise CrossSiteForm(REFUSED)
