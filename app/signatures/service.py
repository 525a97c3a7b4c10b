"""Signing rules: a pending signature, its confirmation, withdrawal, expiry and its links.

Nothing here sends mail or writes letters: signing schedules a confirmation mail on the
signature row (the mail round sends it) and confirming only moves the state; `flows.py` joins
confirmation and withdrawal to the letters and the delivery queue. Services never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.campaigns.models import Campaign, CampaignStatus
from app.config import Settings
from app.errors import Conflict, InvalidInput, NotFound
from app.signatures import consent, storing, tokens
from app.signatures.models import (
    MACHINE,
    Signature,
    SignatureEvent,
    SignatureStatus,
    SignatureToken,
    Supporter,
    TokenPurpose,
)
from app.signatures.schemas import SignatureIn
from app.spelling import is_mixed_script

MAX_CONFIRMATION_MAILS = 2
S = SignatureStatus


class NotAccepting(Conflict):
    kind = "NotAccepting"


class LinkUsed(Conflict):
    kind = "LinkUsed"


class SigningCampaign(Protocol):
    """What signing reads of a campaign: a `Campaign`, or `campaigns_service.CampaignRef`."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> CampaignStatus: ...


def accepting(campaign: SigningCampaign) -> bool:
    return campaign.status is CampaignStatus.open


async def open_campaigns(session: AsyncSession) -> Sequence[Campaign]:
    rows = await session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.open)
        .order_by(Campaign.created_at.desc(), Campaign.id)
    )
    return rows.all()


async def confirmed_counts(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed, not withdrawn signatures per campaign (erased ones still count)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Signature.campaign_id, func.count(Signature.id))
        .where(
            Signature.campaign_id.in_(campaign_ids),
            Signature.confirmed_at.is_not(None),
            Signature.withdrawn_at.is_(None),
        )
        .group_by(Signature.campaign_id)
    )
    counts = {campaign_id: int(count) for campaign_id, count in rows.all()}
    return {i: counts.get(i, 0) for i in campaign_ids}


def record(
    session: AsyncSession,
    signature: Signature,
    *,
    to: str,
    now: datetime,
    detail: str | None = None,
    from_status: str | None = None,
) -> None:
    session.add(
        SignatureEvent(
            signature_id=signature.id,
            at=now,
            from_status=from_status,
            to_status=to,
            detail=detail,
        )
    )


def transition(
    session: AsyncSession, signature: Signature, to: SignatureStatus, *, now: datetime, detail: str
) -> None:
    MACHINE.check(
        signature.status, to, what=f"a {signature.status.value} signature cannot become {to.value}"
    )
    previous = signature.status
    signature.status = to
    signature.status_changed_at = now
    record(session, signature, from_status=previous.value, to=to.value, now=now, detail=detail)


def _review_note(data: SignatureIn) -> str | None:
    # An ASCII-only word has one script at most, so only other text needs the (slow) check.
    mixed = [
        field
        for field in ("name", "city", "country")
        if not (value := str(getattr(data, field))).isascii() and is_mixed_script(value)
    ]
    return f"mixes scripts within a word: {', '.join(mixed)}" if mixed else None


@lru_cache(maxsize=64)
def _consent_text(version: str, organisation: str, days: int) -> str:
    """The statement's text; the same few arguments on every signature, so kept."""
    return consent.statement(version, organisation=organisation, days=days)


async def sign(
    session: AsyncSession,
    *,
    campaign: SigningCampaign,
    data: SignatureIn,
    settings: Settings,
    source: str,
    now: datetime,
) -> Signature:
    """Store a pending signature and schedule its confirmation mail.

    Signing again with the same address (case, spacing and Unicode form aside) changes nothing
    but may bring the second (last) confirmation mail forward; the caller answers the same
    either way, so the answer never tells whether an address had signed before.

    A new signature is one statement on PostgreSQL, three on SQLite (`_store_new`): the
    supporter's insert-unless-present, the signature's (the unique campaign/supporter pair
    decides whether it is new, and the campaign must be open) and its event."""
    _check_signable(campaign, data)
    note = _review_note(data)
    values: dict[str, Any] = {
        "campaign_id": campaign.id,
        "status": S.pending,
        "status_changed_at": now,
        "name": data.name,
        "city": data.city,
        "country": data.country,
        "message": data.message,
        "source": source,
        "needs_review": note is not None,
        "review_note": note,
        "consent_version": data.consent_version,
        "consent_text": _consent_text(
            data.consent_version, settings.organisation_name, settings.confirmation_expiry_days
        ),
        "consented_at": now,
        "expires_at": now + timedelta(days=settings.confirmation_expiry_days),
        "mails_sent": 0,
        "mail_due_at": now,
        "created_at": now,
    }
    key = tokens.supporter_key(data.email, settings.token_secret)
    signature = await storing.store_new(
        session, values, key=key, email=str(data.email), detail=f"signed ({source})"
    )
    if signature is not None:
        return signature
    return await _signed_before(session, campaign, key=key, now=now)


def _check_signable(campaign: SigningCampaign, data: SignatureIn) -> None:
    """Refuse a signature for a closed campaign, or without the current consent."""
    if not accepting(campaign):
        raise NotAccepting("this campaign is not collecting signatures")
    if not data.consent:
        raise InvalidInput("consent: the consent statement must be accepted")
    if not consent.is_current(data.consent_version):
        versions = ", ".join(repr(v) for v in consent.CURRENT_BY_LANGUAGE.values())
        raise InvalidInput(f"consent_version: the current consent statements are {versions}")


async def _signed_before(
    session: AsyncSession, campaign: SigningCampaign, *, key: str, now: datetime
) -> Signature:
    """The address's signature when nothing new was stored (perhaps its reminder brought
    forward), or why none can be."""
    # Nothing stored: the campaign stopped accepting just now, or the address had signed it.
    status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign.id))
    if status is not CampaignStatus.open:
        raise NotAccepting("this campaign is not collecting signatures")
    existing = await session.scalar(
        select(Signature)
        .join(Supporter, Supporter.id == Signature.supporter_id)
        .where(Signature.campaign_id == campaign.id, Supporter.email_key == key)
    )
    if existing is None:  # purged or erased between the statements
        raise Conflict("please try again")
    if (
        existing.status is S.pending
        and existing.mails_sent < MAX_CONFIRMATION_MAILS
        and (existing.mail_due_at is None or existing.mail_due_at > now)
        and existing.mails_sent > 0
    ):
        existing.mail_due_at = now  # the reminder, now rather than later
        record(session, existing, to=S.pending.value, now=now, detail="signed again")
    return existing


def issue_token(
    session: AsyncSession,
    signature: Signature,
    purpose: TokenPurpose,
    *,
    now: datetime,
) -> str:
    """A new link token for `signature` (only its hash is stored); returns the token."""
    token, token_hash = tokens.new_token()
    expires = signature.expires_at if purpose is TokenPurpose.confirm else None
    session.add(
        SignatureToken(
            signature_id=signature.id,
            purpose=purpose,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires,
        )
    )
    return token


_INVALID_LINK = "This link is not valid, or no longer: it may have expired or been erased."


async def by_token(
    session: AsyncSession,
    *,
    token: str,
    purpose: TokenPurpose,
    now: datetime,
    for_update: bool = False,
) -> Signature:
    """The signature a link names; NotFound if unknown or expired, LinkUsed if already used."""
    row = await session.scalar(
        select(SignatureToken).where(
            SignatureToken.token_hash == tokens.hash_token(token),
            SignatureToken.purpose == purpose,
        )
    )
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        raise NotFound(_INVALID_LINK)
    query = (
        select(Signature)
        .options(selectinload(Signature.supporter))
        .where(Signature.id == row.signature_id)
    )
    if for_update:
        query = query.with_for_update()
    signature: Signature | None = await session.scalar(query)
    if signature is None:
        raise NotFound(_INVALID_LINK)
    if row.used_at is not None:
        raise LinkUsed("This confirmation link has already been used.")
    return signature


async def confirm(session: AsyncSession, *, token: str, now: datetime) -> Signature:
    """Confirm the pending signature a link names. The link works once; the row is locked so
    two clicks at once confirm once."""
    signature = await by_token(
        session, token=token, purpose=TokenPurpose.confirm, now=now, for_update=True
    )
    if signature.status is not S.pending:
        raise LinkUsed("This signature has already been confirmed or withdrawn.")
    transition(session, signature, S.confirmed, now=now, detail="confirmed by e-mail link")
    signature.confirmed_at = now
    signature.mail_due_at = None
    await session.execute(
        update(SignatureToken)
        .where(
            SignatureToken.signature_id == signature.id,
            SignatureToken.purpose == TokenPurpose.confirm,
        )
        .values(used_at=now)
    )
    return signature


def withdraw(session: AsyncSession, *, signature: Signature, now: datetime) -> None:
    transition(session, signature, S.withdrawn, now=now, detail="withdrawn by the supporter")
    signature.withdrawn_at = now
    signature.mail_due_at = None


async def signatures_of(session: AsyncSession, *, supporter_id: int) -> Sequence[Signature]:
    rows = await session.scalars(
        select(Signature).where(Signature.supporter_id == supporter_id).order_by(Signature.id)
    )
    return rows.all()


async def erase(session: AsyncSession, *, supporter: Supporter, now: datetime) -> None:
    """Remove the supporter's personal data from them and their signatures (counts stay), and
    every link: nothing left points back to the person."""
    signatures = await signatures_of(session, supporter_id=supporter.id)
    for signature in signatures:
        signature.name, signature.city, signature.country, signature.message = "", "", "", ""
        signature.review_note = None
        signature.erased_at = now
        signature.mail_due_at = None
        record(
            session, signature, to=signature.status.value, now=now, detail="personal data erased"
        )
    supporter.email = None
    supporter.email_key = None
    supporter.erased_at = now
    await session.execute(
        delete(SignatureToken).where(SignatureToken.signature_id.in_([s.id for s in signatures]))
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete unconfirmed signatures past their expiry, and supporters left with none."""
    expired = select(Signature.id).where(Signature.status == S.pending, Signature.expires_at <= now)
    ids = (await session.scalars(expired)).all()
    if not ids:
        return 0
    await session.execute(delete(SignatureToken).where(SignatureToken.signature_id.in_(ids)))
    await session.execute(delete(SignatureEvent).where(SignatureEvent.signature_id.in_(ids)))
    await session.execute(delete(Signature).where(Signature.id.in_(ids)))
    await session.execute(
        delete(Supporter).where(~exists().where(Signature.supporter_id == Supporter.id))
    )
    return len(ids)
