"""The same-origin check on every staff form.

The scheme and client address behind trusted proxies are `app.web.clients`'; they are
re-exported here for the staff pages.

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

from urllib.parse import urlsplit

from fastapi import Request

from app.config import settings_of
from app.errors import Forbidden
from app.web.clients import client_address, served_over_https

__all__ = ["CrossSiteForm", "check_same_origin", "client_address", "served_over_https"]

REFUSED = (
    "This form was sent from another site, so it was refused. Open the staff area directly "
    "and try again. — Эта форма отправлена с другого сайта, поэтому отклонена. Откройте "
    "раздел сотрудников напрямую и попробуйте ещё раз."
)


class CrossSiteForm(Forbidden):
    kind = "CrossSiteForm"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(request: Request) -> set[str]:
    own = {_origin_of(settings_of(request).public_url)}
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
