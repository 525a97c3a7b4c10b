"""Public pages: open campaigns, a campaign with its form, confirmation and the status page.

Everything works without JavaScript, in the page's language (app/web/i18n.py). The form itself
is app/signatures/form.py, shared with the embeddable form. The list, the campaign page and the
thanks page show nothing personal and may be shared by caches (app/web/caching.py). Link pages
(confirm, status) are personal: never cached, never leaking their URL in a Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.config import SettingsDep
from app.db import SessionDep, utcnow
from app.delivery.email import outbox_folder
from app.signatures import flows, form, records, service
from app.signatures.models import TokenPurpose
from app.signatures.ratelimit import SigningLimits, signing_limits
from app.templating.kit import KitDep
from app.web import caching
from app.web.i18n import Language, LanguageDep
from app.web.pages import render

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
Limits = Annotated[SigningLimits, Depends(signing_limits)]


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: SessionDep, language: LanguageDep) -> Response:
    campaigns = await service.open_campaigns(session)
    counts = await service.confirmed_counts(session, [c.id for c in campaigns])
    context = {"campaigns": campaigns, "counts": counts}
    return caching.shared(request, render(request, "public/index.html", context, language=language))


@router.get("/c/{slug}", response_class=HTMLResponse)
async def campaign_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    language: LanguageDep,
    slug: str,
    office: str | None = None,
) -> Response:
    campaign = await form.public_campaign(session, slug)
    return await form.show(request, session, settings, kit, campaign, language, office=office)


@router.post("/c/{slug}", response_class=HTMLResponse)
async def sign(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kit: KitDep,
    limits: Limits,
    language: LanguageDep,
    slug: str,
) -> Response:
    return await form.submit(request, session, settings, kit, limits, slug, language)


@router.get("/c/{slug}/thanks", response_class=HTMLResponse)
async def thanks(
    request: Request, session: SessionDep, settings: SettingsDep, language: LanguageDep, slug: str
) -> Response:
    campaign = await form.public_campaign(session, slug)
    context = {"campaign": campaign, "days": settings.confirmation_expiry_days}
    return caching.shared(
        request, render(request, "public/thanks.html", context, language=language)
    )


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


def _link_used(request: Request, language: Language) -> Response:
    return _private(render(request, "public/link_used.html", status=409, language=language))


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_page(
    request: Request, session: SessionDep, language: LanguageDep, token: str
) -> Response:
    """Shows what will be confirmed; only the button confirms (mail scanners open links)."""
    try:
        signature = await service.by_token(
            session, token=token, purpose=TokenPurpose.confirm, now=utcnow()
        )
    except service.LinkUsed:
        return _link_used(request, language)
    if signature.status is not service.S.pending:
        return _link_used(request, language)
    campaign = await flows.campaign_of(session, signature)
    context = {"signature": signature, "campaign": campaign, "token": token}
    return _private(render(request, "public/confirm.html", context, language=language))


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(
    request: Request, session: SessionDep, kit: KitDep, language: LanguageDep, token: str
) -> Response:
    try:
        _, status_token = await flows.confirm(session, token=token, kit=kit, now=utcnow())
    except service.LinkUsed:
        return _link_used(request, language)
    return _private(RedirectResponse(_done(status_token, "confirmed", language), status_code=303))


# What a status page says after an action, named in its address (POST/redirect/GET): a reload
# shows the result again without sending anything again.
DONE = ("confirmed", "withdrawn")


def _done(token: str, done: str, language: Language) -> str:
    lang = f"&lang={language.code}" if language.chosen else ""
    return f"/s/{token}?done={done}{lang}"


async def _status_page(
    request: Request,
    session: SessionDep,
    language: Language,
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
        "sending_by": (
            await flows.sending_by(session, campaign=campaign, now=utcnow())
            if notice == "confirmed"
            else None
        ),
    }
    page = render(request, "public/status.html", context, status=status, language=language)
    return _private(page)


@router.get("/s/{token}", response_class=HTMLResponse)
async def status_page(
    request: Request,
    session: SessionDep,
    language: LanguageDep,
    token: str,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    notice = done if done in DONE else None
    return await _status_page(request, session, language, token, notice=notice)


@router.post("/s/{token}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request, session: SessionDep, language: LanguageDep, token: str
) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow(), for_update=True
    )
    if signature.status is not service.S.withdrawn:
        await flows.withdraw(session, signature=signature, now=utcnow())
    return _private(RedirectResponse(_done(token, "withdrawn", language), status_code=303))


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
    language: LanguageDep,
    token: str,
    really: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    signature = await service.by_token(
        session, token=token, purpose=TokenPurpose.status, now=utcnow(), for_update=True
    )
    if really != "yes":
        return await _status_page(
            request, session, language, token, notice="erase_unticked", status=422
        )
    outbox = outbox_folder(request.app.state.settings)
    await flows.erase(session, supporter=signature.supporter, now=utcnow(), outbox=outbox)
    return _private(RedirectResponse(f"/erased{language.query}", status_code=303))


@router.get("/erased", response_class=HTMLResponse)
async def erased(request: Request, language: LanguageDep) -> Response:
    """Where an erasure lands: nothing personal (the status page is gone), so it may be shared."""
    return caching.shared(request, render(request, "public/erased.html", language=language))
