"""The signing form, wherever it is shown: on the campaign page or embedded in a partner's site.

Both places show the same fields, consent statement and hidden checks (honeypot, signed form
token) and send to the same handling: rate limits, checks, `service.sign`. The form keeps what
was typed and puts each problem next to its field; success never says whether the address had
signed before. A form shown afresh (not sent back with what was typed) holds nothing personal:
it is shared through app/web/caching.py, its timestamp token filled in as each copy is served.
The consent statement is shown in the page's language, and the signature records
that text and its version (which names the language the supporter signed in, and so the
language of their e-mails).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.targets import Target
from app.config import Settings
from app.db import utcnow
from app.errors import NotFound
from app.letters import service as letters_service
from app.letters.schemas import SenderIn
from app.signatures import consent, service, tokens
from app.signatures.ratelimit import SigningLimits
from app.signatures.schemas import MESSAGE_MAX, SignatureIn
from app.templating.kit import LetterKit
from app.templating.library import FALLBACK_LANGUAGE
from app.web import caching
from app.web.clients import client_address
from app.web.i18n import Language
from app.web.pages import render

FIELDS = ("name", "email", "city", "country", "message")
# In a shared page, where each served copy gets a fresh token (a marker, not a secret).
TOKEN_SLOT = "form-token-slot"  # noqa: S105
Errors = dict[str, tuple[str, int | None]]


def _error_code(error: dict[str, Any]) -> tuple[str, int | None]:
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short"):
        return "required", None
    if kind == "string_too_long":
        return "too_long", int(error.get("ctx", {}).get("max_length", 0))
    if kind in ("line_break", "control_character", "bidi_control"):
        return "characters", None
    if error.get("loc", ("",))[0] == "email":
        return "email", None
    return "invalid", None


def field_errors(exc: ValidationError) -> Errors:
    """The first problem of each field, as a code the template turns into words."""
    errors: Errors = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "form"
        errors.setdefault(field, _error_code(dict(error)))
    return errors


async def public_campaign(session: AsyncSession, slug: str) -> Campaign:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    if campaign.status is CampaignStatus.draft:
        raise NotFound("There is no such campaign.")
    return campaign


def consent_text(settings: Settings, version: str) -> str:
    return consent.statement(
        version, organisation=settings.organisation_name, days=settings.confirmation_expiry_days
    )


def form_path(campaign: Campaign, *, embed: bool) -> str:
    return f"/c/{campaign.slug}/embed" if embed else f"/c/{campaign.slug}"


def _letter_languages(
    kit: LetterKit, campaign: Campaign, targets: Sequence[Target]
) -> dict[str, str]:
    """Each office's letter language: its own where the campaign's letter exists in it, else
    the library's fallback (what `letters.service` will write)."""
    languages = {}
    for target in targets:
        try:
            template = kit.library.get(campaign.template_name, target.recipient.language)
        except NotFound:
            continue
        languages[target.recipient.id] = template.language
    return languages


async def _case_context(
    session: AsyncSession, kit: LetterKit, campaign: Campaign, office: str | None
) -> dict[str, Any]:
    """What the full campaign page shows around the form: the cases, offices, a letter."""
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    reachable = [t for t in targets if t.reachable]
    chosen = next((t for t in reachable if t.recipient.id == office), None) or (
        reachable[0] if reachable else None
    )
    cases = await letters_service.campaign_cases(session, campaign)
    letter = None
    if chosen is not None:
        sample = SenderIn(name="[your name]", city="[your city]", country="[your country]")
        composed = await letters_service.preview(
            session,
            campaign=campaign,
            recipient_id=chosen.recipient.id,
            case_id=None,
            sender=sample,
            kit=kit,
            today=utcnow().date(),
            targets=targets,  # read once for the page and its letter, not twice
            cases=cases,
        )
        letter = composed.letter
    return {
        "letter_languages": _letter_languages(kit, campaign, reachable),
        "fallback_language": FALLBACK_LANGUAGE,
        "cases": cases,
        "targets": reachable,
        "office": chosen.recipient if chosen else None,
        "office_asked": office is not None,  # the preview was asked for: show it unfolded
        "letter": letter,
    }


async def show(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    kit: LetterKit,
    campaign: Campaign,
    language: Language,
    *,
    embed: bool = False,
    office: str | None = None,
    form: dict[str, str] | None = None,
    errors: Errors | None = None,
    notice: str | None = None,
    token: str | None = None,
    status: int = 200,
) -> Response:
    """The campaign page with its form, or (`embed`) the form alone, framable by partners."""
    version = consent.current(language.code)
    counts = await service.confirmed_counts(session, [campaign.id])
    context = {
        "campaign": campaign,
        "count": counts[campaign.id],
        "accepting": service.accepting(campaign),
        "action": form_path(campaign, embed=embed) + language.query,
        "form": form or dict.fromkeys(FIELDS, ""),
        "consent_checked": bool(form and form.get("consent")),
        "errors": errors or {},
        "notice": notice,
        "form_token": token or TOKEN_SLOT,
        "consent_version": version,
        "consent_text": consent_text(settings, version),
        "message_max": MESSAGE_MAX,
    }
    if embed:
        page = render(
            request,
            "public/embed.html",
            context,
            status=status,
            language=language,
            frame_ancestors=settings.embed_frame_ancestors,
        )
    else:
        context |= await _case_context(session, kit, campaign, office)
        page = render(request, "public/campaign.html", context, status=status, language=language)
    fill = partial(_fill_token, slug=campaign.slug, secret=settings.token_secret)
    if form is None and token is None:  # nothing typed: the same for every visitor
        return caching.shared(request, page, fill=fill)
    return _filled(page, fill)


def _fill_token(body: bytes, *, slug: str, secret: str) -> bytes:
    """The page with a form token issued now (the fill time counts from here)."""
    token = tokens.form_token(slug, secret, issued_at=utcnow())
    return body.replace(TOKEN_SLOT.encode(), token.encode())


def _filled(page: Response, fill: caching.Fill) -> Response:
    page.body = fill(bytes(page.body))
    page.headers["content-length"] = str(len(page.body))
    return page


async def submit(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    kit: LetterKit,
    limits: SigningLimits,
    slug: str,
    language: Language,
    *,
    embed: bool = False,
) -> Response:
    """A sent form: the thanks page, or the form again with what is wrong."""
    limits.hit_ip(client_address(request))
    caching.unchanged(request)  # a signature is pending until confirmed: no page shows it
    campaign = await public_campaign(session, slug)
    thanks = f"{form_path(campaign, embed=embed)}/thanks{language.query}"
    submitted = await request.form()
    form = {k: str(submitted.get(k, ""))[:5000] for k in (*FIELDS, "consent", "form_token")}
    kept = form["form_token"] or None  # the fill time counts from the first page load

    async def again(status: int, **extra: Any) -> Response:
        extra.setdefault("token", kept)
        return await show(
            request,
            session,
            settings,
            kit,
            campaign,
            language,
            embed=embed,
            form=form,
            status=status,
            **extra,
        )

    if str(submitted.get("website", "")):
        # The hidden field is filled in: a bot. It sees what a person would see.
        return RedirectResponse(thanks, status_code=303)
    if not service.accepting(campaign):
        return await again(409)
    now = utcnow()
    problem = _token_problem(form["form_token"], campaign.slug, settings, now=now)
    if problem == "quick":
        return await again(422, notice="quick")
    if problem is not None:  # expired or tampered with: a fresh form, what was typed kept
        return await again(422, notice="expired", token=None)
    # The statement shown, in its language: recorded as the signer saw it.
    data, errors = _validated(form, consent_version=str(submitted.get("consent_version", ""))[:40])
    if data is None:
        return await again(422, errors=errors)
    limits.hit_campaign(campaign.slug)
    limits.hit_email(tokens.supporter_key(data.email, settings.token_secret))
    await service.sign(
        session, campaign=campaign, data=data, settings=settings, source="form", now=now
    )
    return RedirectResponse(thanks, status_code=303)


def _token_problem(token: str, slug: str, settings: Settings, *, now: datetime) -> str | None:
    """What is wrong with the form's timestamp token ("quick", "expired", ...), or None."""
    return tokens.check_form_token(
        token,
        slug,
        settings.token_secret,
        now=now,
        min_fill=timedelta(seconds=settings.signing_min_fill_seconds),
        max_age=timedelta(hours=settings.signing_form_max_age_hours),
        previous=settings.token_secret_previous,
    )


def _validated(form: dict[str, str], *, consent_version: str) -> tuple[SignatureIn | None, Errors]:
    """The signature the form asks for, or None with each field's problem."""
    try:
        data = SignatureIn.model_validate(
            {
                **{k: form[k] for k in FIELDS},
                "consent": bool(form["consent"]),
                "consent_version": consent_version,
            }
        )
    except ValidationError as exc:
        data, errors = None, field_errors(exc)
    else:
        errors = {}
    if not form["consent"]:
        errors["consent"] = ("consent", None)
    return (data if not errors else None), errors
