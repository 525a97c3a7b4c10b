"""The embeddable form: a campaign's signing form alone, for an <iframe> on partner sites.

`/c/{slug}/embed` is the one page other sites may frame (`APPEALS_EMBED_FRAME_ANCESTORS`,
CSP frame-ancestors); every other page refuses framing. It sends to the same handling as the
campaign page (`form.submit`: honeypot, signed form token, rate limits) and answers inside the
frame. Confirming happens only through the e-mail link, on our own unframable pages, so a
site that frames the form cannot confirm anything for a visitor. Staff get the tag to paste
from `GET /api/v1/campaigns/{slug}/embed`.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.config import SettingsDep
from app.db import SessionDep
from app.errors import InvalidInput, TooManyRequests
from app.schemas import ERROR_RESPONSES
from app.signatures import form
from app.signatures.ratelimit import SigningLimits, signing_limits
from app.signatures.schemas import EmbedSnippet
from app.templating.kit import KitDep
from app.web import caching, i18n
from app.web.i18n import Language, LanguageDep
from app.web.pages import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["signing"], responses=ERROR_RESPONSES)
Limits = Annotated[SigningLimits, Depends(signing_limits)]
FRAME_HEIGHT = 1800  # px: the whole Russian form in a phone-wide column, no inner scrollbar


@router.get("/c/{slug}/embed", response_class=HTMLResponse)
async def embed_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    language: LanguageDep,
    slug: str,
) -> Response:
    campaign = await form.public_campaign(session, slug)
    return await form.show(request, session, settings, kit, campaign, language, embed=True)


@router.post("/c/{slug}/embed", response_class=HTMLResponse)
async def embed_sign(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    limits: Limits,
    language: LanguageDep,
    slug: str,
) -> Response:
    try:
        return await form.submit(
            request, session, settings, kit, limits, slug, language, embed=True
        )
    except TooManyRequests as exc:  # the error page could not be shown in the frame
        response = render(
            request,
            "public/embed_wait.html",
            {"slug": slug},
            status=exc.status,
            language=language,
            frame_ancestors=settings.embed_frame_ancestors,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response


@router.get("/c/{slug}/embed/thanks", response_class=HTMLResponse)
async def embed_thanks(
    request: Request, session: SessionDep, settings: SettingsDep, language: LanguageDep, slug: str
) -> Response:
    campaign = await form.public_campaign(session, slug)
    page = render(
        request,
        "public/embed_thanks.html",
        {"campaign": campaign, "days": settings.confirmation_expiry_days},
        language=language,
        frame_ancestors=settings.embed_frame_ancestors,
    )
    return caching.shared(request, page)


def snippet(url: str, *, title: str, language: Language) -> str:
    """The <iframe> tag framing `url`, labelled (in `language`) for screen readers."""
    with i18n.using(language.code):
        label = i18n.gettext("Sign: %(title)s") % {"title": title}
    return (
        f'<iframe src="{escape(url)}" title="{escape(label)}" width="100%" '
        f'height="{FRAME_HEIGHT}" loading="lazy" referrerpolicy="no-referrer"></iframe>'
    )


@api_router.get("/campaigns/{slug}/embed", summary="The <iframe> tag partner sites paste (public)")
async def embed_snippet(
    session: SessionDep, settings: SettingsDep, slug: str, lang: str | None = None
) -> EmbedSnippet:
    """`lang` (en, ru) fixes the form's language; without it, each visitor's browser decides."""
    campaign = await form.public_campaign(session, slug)
    if lang is not None and lang not in i18n.LANGUAGES:
        raise InvalidInput(f"lang: one of {', '.join(i18n.LANGUAGES)}, or none")
    language = Language(lang, chosen=True) if lang else Language(i18n.SOURCE)
    url = f"{settings.public_url.rstrip('/')}/c/{campaign.slug}/embed{language.query}"
    return EmbedSnippet(html=snippet(url, title=campaign.title, language=language), url=url)
