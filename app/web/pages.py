"""Rendering HTML pages: one autoescaping Jinja environment and the security headers.

Pages use no external assets and no inline script, so the content security policy can forbid
both; everything a page shows is escaped unless a template explicitly says otherwise. No page
may be framed, except the embeddable signing form, which names the sites allowed to frame it
(`frame_ancestors`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from app.web import i18n
from app.web.markdown import render_markdown

WEB_DIR = Path(__file__).resolve().parent
# Built here but reads nothing until a page is rendered. Page text is marked for translation
# ({% trans %}, _()); the catalogue of the page's language (app/web/i18n.py) translates it.
_env = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def _datetime(value: datetime | None) -> str:
    """A stored (UTC) time as pages show it, to the minute; nothing for none."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


@pass_context
def _url_for(context: Context, name: str, /, **path_params: Any) -> str:
    """A link to one of our routes or files by path, never naming the host the request gave:
    a shared cache keys pages without the Host header (app/web/caching.py)."""
    request: Request = context["request"]
    return request.url_for(name, **path_params).path


def _language_name(code: str) -> str:
    """A language's name in the page's own language ("English", "английский"), from CLDR."""
    try:
        names = Locale.parse(i18n.current()).languages
    except (ValueError, UnknownLocaleError):
        return code
    return str(names.get(code, code))


_env.filters["dt"] = _datetime
_env.filters["language_name"] = _language_name
_env.filters["markdown"] = render_markdown  # case and campaign text (app/web/markdown.py)
_env.globals["url_for"] = _url_for  # before Jinja2Templates, which only sets its own if unset
templates = Jinja2Templates(env=_env)


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        f"base-uri 'none'; frame-ancestors {frame_ancestors}"
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _switcher(request: Request, language: i18n.Language) -> list[dict[str, str]]:
    """The language switcher's entries: this page (same query) in each language."""
    entries = []
    for code, name in i18n.LANGUAGES.items():
        url = request.url.include_query_params(lang=code)
        current = "true" if code == language.code else ""
        href = f"{url.path}?{url.query}"
        entries.append({"code": code, "name": name, "href": href, "current": current})
    return entries


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    language: i18n.Language | None = None,
    frame_ancestors: str | None = None,
) -> HTMLResponse:
    """Render page `name` in `language` (English if not given) with the security headers;
    `frame_ancestors` (CSP sources) lets those sites frame this one response."""
    language = language or i18n.Language(i18n.SOURCE)
    page = {
        "lang": language.code,
        "lang_query": language.query,
        "languages": _switcher(request, language),
        **(context or {}),
    }
    with i18n.using(language.code):
        response = templates.TemplateResponse(request, name, page, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if frame_ancestors is not None:
        response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
        del response.headers["X-Frame-Options"]
    return response
