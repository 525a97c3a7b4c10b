"""Public pages: open campaigns, a campaign with its form, confirmation and the status page.

Everything works without JavaScript. The form keeps what was typed and puts each problem next
to its field; success never says whether the address had signed before. Link pages (confirm,
status) are personal: never cached, never leaking their URL in a Referer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignStatus
from app.config import Settings, SettingsDep
from app.db import SessionDep, utcnow
from app.errors import NotFound
from app.letters import service as letters_service
from app.letters.deps import KitDep
from app.letters.schemas import SenderIn
from app.letters.service import LetterKit
from app.signatures import consent, flows, records, service, tokens
from app.signatures.models import TokenPurpose
from app.signatures.ratelimit import SigningLimits, client_address, signing_limits
from app.signatures.schemas import SignatureIn
from app.web.pages import render

router = APIRouter(include_in_schema=False)
FIELDS = ("name", "email", "city", "country", "message")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
Limits = Annotated[SigningLimits, Depends(signing_limits)]


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


def field_errors(exc: ValidationError) -> dict[str, tuple[str, int | None]]:
    """The first problem of each field, as a code the template turns into words."""
    errors: dict[str, tuple[str, int | None]] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "form"
        errors.setdefault(field, _error_code(dict(error)))
    return errors


async def public_campaign(session: SessionDep, slug: str) -> Campaign:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    if campaign.status is CampaignStatus.draft:
        raise NotFound("There is no such campaign.")
    return campaign


def _consent_text(settings: Settings) -> str:
    return consent.statement(
        consent.CURRENT,
        organisation=settings.organisation_name,
        days=settings.confirmation_expiry_days,
    )


async def _campaign_page(
    request: Request,
    session: SessionDep,
    settings: Settings,
    kit: LetterKit,
    campaign: Campaign,
    *,
    office: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, tuple[str, int | None]] | None = None,
    notice: str | None = None,
    token: str | None = None,
    status: int = 200,
) -> Response:
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    reachable = [t for t in targets if t.reachable]
    chosen = next((t for t in reachable if t.recipient.id == office), None) or (
        reachable[0] if reachable else None
    )
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
        )
        letter = composed.letter
    counts = await service.confirmed_counts(session, [campaign.id])
    context = {
        "campaign": campaign,
        "cases": await letters_service.campaign_cases(session, campaign),
        "targets": reachable,
        "office": chosen.recipient if chosen else None,
        "letter": letter,
        "count": counts[campaign.id],
        "accepting": service.accepting(campaign),
        "form": form or dict.fromkeys(FIELDS, ""),
        "consent_checked": bool(form and form.get("consent")),
        "errors": errors or {},
        "notice": notice,
        "form_token": token
        or tokens.form_token(campaign.slug, settings.token_secret, issued_at=utcnow()),
        "consent_version": consent.CURRENT,
        "consent_text": _consent_text(settings),
        "message_max": 1000,
    }
    return render(request, "public/campaign.html", context, status=status)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: SessionDep) -> Response:
    campaigns = await service.open_campaigns(session)
    counts = await service.confirmed_counts(session, [c.id for c in campaigns])
    return render(request, "public/index.html", {"campaigns": campaigns, "counts": counts})


@router.get("/c/{slug}", response_class=HTMLResponse)
async def campaign_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    slug: str,
    office: str | None = None,
) -> Response:
    campaign = await public_campaign(session, slug)
    return await _campaign_page(request, session, settings, kit, campaign, office=office)


@router.post("/c/{slug}", response_class=HTMLResponse)
async def sign(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    limits: Limits,
    slug: str,
) -> Response:
    limits.hit_ip(client_address(request))
    campaign = await public_campaign(session, slug)
    submitted = await request.form()
    form = {k: str(submitted.get(k, ""))[:5000] for k in (*FIELDS, "consent", "form_token")}
    kept = form["form_token"] or None  # the fill time counts from the first page load
    if str(submitted.get("website", "")):
        # The hidden field is filled in: a bot. It sees what a person would see.
        return RedirectResponse(f"/c/{campaign.slug}/thanks", status_code=303)
    if not service.accepting(campaign):
        return await _campaign_page(
            request, session, settings, kit, campaign, form=form, token=kept, status=409
        )
    now = utcnow()
    problem = tokens.check_form_token(
        form["form_token"],
        campaign.slug,
        settings.token_secret,
        now=now,
        min_fill=timedelta(seconds=settings.signing_min_fill_seconds),
        max_age=timedelta(hours=settings.signing_form_max_age_hours),
    )
    if problem == "quick":
        return await _campaign_page(
            request,
            session,
            settings,
            kit,
            campaign,
            form=form,
            token=kept,
            notice="quick",
            status=422,
        )
    if problem is not None:  # expired or tampered with: a fresh form, what was typed kept
        return await _campaign_page(
            request, session, settings, kit, campaign, form=form, notice="expired", status=422
        )
    try:
        data = SignatureIn.model_validate(
            {
                **{k: form[k] for k in FIELDS},
                "consent": bool(form["consent"]),
                "consent_version": str(submitted.get("consent_version", "")),
            }
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    else:
        errors = {}
    if not form["consent"]:
        errors["consent"] = ("consent", None)
    if errors:
        return await _campaign_page(
            request,
            session,
            settings,
            kit,
            campaign,
            form=form,
            token=kept,
            errors=errors,
            status=422,
        )
    limits.hit_campaign(campaign.slug)
    limits.hit_email(tokens.supporter_key(data.email, settings.token_secret))
    await service.sign(
        session, campaign=campaign, data=data, settings=settings, source="form", now=now
    )
    return RedirectResponse(f"/c/{campaign.slug}/thanks", status_code=303)


@router.get("/c/{slug}/thanks", response_class=HTMLResponse)
async def thanks(
    request: Request, session: SessionDep, settings: SettingsDep, slug: str
) -> Response:
    campaign = await public_campaign(session, slug)
    days = settings.confirmation_expiry_days
    return render(request, "public/thanks.html", {"campaign": campaign, "days": days})


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, session: SessionDep, token: str) -> Response:
    """Shows what will be confirmed; only the button confirms (mail scanners open links)."""
    try:
        signature = await service.by_token(
            session, token=token, purpose=TokenPurpose.confirm, now=utcnow()
        )
    except service.LinkUsed:
        return _private(render(request, "public/link_used.html", status=409))
    if signature.status is not service.S.pending:
        return _private(render(request, "public/link_used.html", status=409))
    campaign = await flows.campaign_of(session, signature)
    context = {"signature": signature, "campaign": campaign, "token": token}
    return _private(render(request, "public/confirm.html", context))


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, session: SessionDep, kit: KitDep, token: str) -> Response:
    try:
        _, status_token = await flows.confirm(session, token=token, kit=kit, now=utcnow())
    except service.LinkUsed:
        return _private(render(request, "public/link_used.html", status=409))
    return _private(RedirectResponse(f"/s/{status_token}", status_code=303))


async def _status_page(
    request: Request,
    session: SessionDep,
    token: str,
    *,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow()
    )
    campaign = await flows.campaign_of(session, signature)
    context = {
        "signature": signature,
        "campaign": campaign,
        "token": token,
        "letters": await records.letter_statuses(session, signature_id=signature.id),
        "cosigner": await records.cosigner_status(
            session, campaign=campaign, supporter=signature.supporter
        ),
        "notice": notice,
    }
    return _private(render(request, "public/status.html", context, status=status))


@router.get("/s/{token}", response_class=HTMLResponse)
async def status_page(request: Request, session: SessionDep, token: str) -> Response:
    return await _status_page(request, session, token)


@router.post("/s/{token}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, session: SessionDep, token: str) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow(), for_update=True
    )
    if signature.status is service.S.withdrawn:
        return await _status_page(request, session, token, notice="withdrawn")
    await flows.withdraw(session, signature=signature, now=utcnow())
    return await _status_page(request, session, token, notice="withdrawn")


@router.get("/s/{token}/data.json")
async def download(session: SessionDep, token: str) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow()
    )
    data = await records.export(session, supporter=signature.supporter)
    return JSONResponse(
        data.model_dump(mode="json"),
        headers={**PRIVATE, "Content-Disposition": 'attachment; filename="my-signatures.json"'},
    )


@router.post("/s/{token}/erase", response_class=HTMLResponse)
async def erase(
    request: Request,
    session: SessionDep,
    token: str,
    really: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow(), for_update=True
    )
    if really != "yes":
        return await _status_page(request, session, token, notice="erase_unticked", status=422)
    await flows.erase(session, supporter=signature.supporter, now=utcnow())
    return _private(render(request, "public/erased.html"))
