"""JSON routes of public signing, for front ends other than our own pages (202 Accepted)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.config import Settings, SettingsDep
from app.db import SessionDep, utcnow
from app.errors import InvalidInput, NotFound
from app.schemas import ERROR_RESPONSES, ErrorBody
from app.signatures import consent, service, tokens
from app.signatures.ratelimit import SigningLimits, signing_limits
from app.signatures.schemas import SignatureAccepted, SignatureIn, SigningInfo
from app.web import caching
from app.web.clients import client_address

router = APIRouter(
    prefix="/api/v1",
    tags=["signing"],
    responses={
        **ERROR_RESPONSES,
        429: {"model": ErrorBody, "description": "Rate limited; see Retry-After"},
    },
)


class OpenCampaigns:
    """Campaigns this process has found open, by slug: signing skips their lookup.

    Kept without expiry because nothing the route relies on can go stale: a campaign's id and
    slug never change and it never returns to draft (the route's one check before
    `service.sign`). Whether it is still open, `service.sign` decides in its INSERT, against
    the database; a campaign refused there is forgotten here. One per app and process."""

    def __init__(self) -> None:
        self._refs: dict[str, campaigns_service.CampaignRef] = {}

    async def get(self, session: AsyncSession, slug: str) -> campaigns_service.CampaignRef:
        ref = self._refs.get(slug)
        if ref is None:
            ref = await campaigns_service.get_campaign_ref(session, slug=slug)
            if ref.status is CampaignStatus.open:
                self._refs[slug] = ref
        return ref

    def forget(self, slug: str) -> None:
        self._refs.pop(slug, None)


async def open_campaigns(request: Request) -> OpenCampaigns:
    campaigns: OpenCampaigns | None = getattr(request.app.state, "open_campaigns", None)
    if campaigns is None:
        campaigns = request.app.state.open_campaigns = OpenCampaigns()
    return campaigns


async def app_settings(request: Request) -> Settings:
    """`SettingsDep` without its worker-thread hop (a plain `def` dependency runs in one)."""
    settings: Settings = request.app.state.settings
    return settings


async def ip_limited(
    request: Request, limits: Annotated[SigningLimits, Depends(signing_limits)]
) -> SigningLimits:
    """Counts every attempt from the client's address, valid or not, before reading the body."""
    limits.hit_ip(client_address(request))
    return limits


@router.get("/campaigns/{slug}/signing", summary="What a signing form must show (public)")
async def signing_info(session: SessionDep, settings: SettingsDep, slug: str) -> SigningInfo:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    if campaign.status is CampaignStatus.draft:
        raise NotFound(f"no campaign {slug!r}")
    counts = await service.confirmed_counts(session, [campaign.id])
    return SigningInfo(
        slug=campaign.slug,
        title=campaign.title,
        accepting=service.accepting(campaign),
        signatures=counts[campaign.id],
        consent_version=consent.CURRENT,
        consent_text=consent.statement(
            consent.CURRENT,
            organisation=settings.organisation_name,
            days=settings.confirmation_expiry_days,
        ),
    )


@router.post(
    "/campaigns/{slug}/signatures",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sign a campaign (public): a confirmation e-mail follows; nothing is sent before",
)
async def sign(
    request: Request,
    session: SessionDep,
    settings: Annotated[Settings, Depends(app_settings)],
    limits: Annotated[SigningLimits, Depends(ip_limited)],
    campaigns: Annotated[OpenCampaigns, Depends(open_campaigns)],
    slug: str,
    data: SignatureIn,
) -> SignatureAccepted:
    """The answer is the same whether or not the address had signed before."""
    caching.unchanged(request)  # pending until confirmed: no shared page shows it
    campaign = await campaigns.get(session, slug)
    if campaign.status is CampaignStatus.draft:
        raise NotFound(f"no campaign {slug!r}")
    if data.website:
        return SignatureAccepted()  # a bot filled the hidden field: store nothing, say nothing
    now = utcnow()
    if data.form_token is not None:
        problem = tokens.check_form_token(
            data.form_token,
            slug,
            settings.token_secret,
            now=now,
            min_fill=_seconds(settings.signing_min_fill_seconds),
            max_age=_seconds(settings.signing_form_max_age_hours * 3600),
            previous=settings.token_secret_previous,
        )
        if problem is not None:
            raise InvalidInput(f"form_token: {problem}")
    limits.hit_campaign(slug)
    limits.hit_email(tokens.supporter_key(data.email, settings.token_secret))
    try:
        await service.sign(
            session, campaign=campaign, data=data, settings=settings, source="api", now=now
        )
    except service.NotAccepting:
        campaigns.forget(slug)
        raise
    return SignatureAccepted()


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
