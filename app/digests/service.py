"""Digest campaigns: one letter per office per period, listing that period's co-signers.

Petitions have long been delivered as one letter with the signatures attached; an office that
would filter a thousand near-identical e-mails reads one. A supporter of a digest campaign is a
co-signer (one row per supporter per campaign, whatever is clicked twice); when a period ends,
every waiting co-signer goes into one digest: a letter per reachable office, signed by the
organisation on their behalf, listing their names, places and personal paragraphs. E-mails list
the first co-signers and carry the full list as a CSV attachment; posted letters list everyone.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignMode, CampaignStatus
from app.campaigns.modes import WrongCampaignMode
from app.campaigns.schemas import Pacing
from app.digests.models import Cosigner, Digest
from app.errors import NotFound
from app.letters.composing import compose, plans_for
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.letters.service import OnStored, StoredLetter, campaign_cases, store
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_address
from app.spreadsheet import to_csv
from app.templating.kit import LetterKit

# How many co-signers an e-mail or web-form letter lists in its text; the CSV has them all.
LISTED_IN_TEXT = 200
ERASED = "(name withdrawn)"

_WORDS = {
    "en": {
        "on_behalf": "{organisation}, on behalf of {count} co-signers",
        "heading": "Co-signed by {count} people:",
        "own_words": "In their own words:",
        "more": "…and {more} more: the full list of {count} co-signers is attached ({file}).",
    },
    "fr": {
        "on_behalf": "{organisation}, au nom de {count} cosignataires",
        "heading": "Cosigné par {count} personnes :",
        "own_words": "Dans leurs propres mots :",
        "more": "…et {more} autres : la liste complète des {count} cosignataires est jointe "
        "({file}).",
    },
}
CSV_NAME = "cosigners.csv"


def _require_digest(campaign: Campaign) -> None:
    if campaign.mode is not CampaignMode.digest:
        raise WrongCampaignMode(f"campaign {campaign.slug!r} is not a digest campaign")


async def add_cosigner(
    session: AsyncSession, *, campaign: Campaign, sender: SenderIn, supporter_key: str
) -> bool:
    """Add a supporter to the next digest; False if they are already a co-signer."""
    _require_digest(campaign)
    existing = await session.scalar(
        select(Cosigner.id).where(
            Cosigner.campaign_id == campaign.id, Cosigner.supporter_key == supporter_key
        )
    )
    if existing is not None:
        return False
    session.add(
        Cosigner(
            campaign_id=campaign.id,
            supporter_key=supporter_key,
            name=sender.name,
            city=sender.city,
            country=sender.country,
            message=sender.message,
        )
    )
    await session.flush()
    return True


async def withdraw_cosigner(
    session: AsyncSession, *, campaign_id: int, supporter_key: str, erase: bool
) -> None:
    """Take a supporter out of the next digest. One already listed in a digest stays counted;
    with `erase`, their name, place and words are scrubbed from it."""
    where = (Cosigner.campaign_id == campaign_id, Cosigner.supporter_key == supporter_key)
    await session.execute(delete(Cosigner).where(*where, Cosigner.digest_id.is_(None)))
    if erase:
        await session.execute(
            update(Cosigner)
            .where(*where)
            .values(name=ERASED, city="", country="", message="", supporter_key=_erased_key())
        )


def _erased_key() -> str:
    # Keeps the unique constraint satisfied without keeping anything about the person.
    return "erased-" + secrets.token_hex(16)


async def pending_cosigners(session: AsyncSession, *, campaign_id: int) -> int:
    count = await session.scalar(
        select(func.count(Cosigner.id)).where(
            Cosigner.campaign_id == campaign_id, Cosigner.digest_id.is_(None)
        )
    )
    return int(count or 0)


async def due_campaigns(session: AsyncSession, *, now: datetime) -> list[Campaign]:
    """Open digest campaigns whose period has ended and that have co-signers waiting.

    A period starts at the previous digest (or at the first waiting co-signer) and lasts the
    campaign's `digest_period_hours`."""
    due = []
    for campaign in await campaigns_service.list_campaigns(session, status=CampaignStatus.open):
        if campaign.mode is not CampaignMode.digest:
            continue
        start = await _period_start(session, campaign)
        if start is None:
            continue
        period = timedelta(hours=Pacing.model_validate(campaign.pacing).digest_period_hours)
        if now >= start + period:
            due.append(campaign)
    return due


async def _period_start(session: AsyncSession, campaign: Campaign) -> datetime | None:
    first_waiting = await session.scalar(
        select(func.min(Cosigner.added_at)).where(
            Cosigner.campaign_id == campaign.id, Cosigner.digest_id.is_(None)
        )
    )
    if first_waiting is None:
        return None
    last = await session.scalar(
        select(func.max(Digest.period_end)).where(Digest.campaign_id == campaign.id)
    )
    return max(first_waiting, last) if last is not None else first_waiting


async def make_digest(
    session: AsyncSession,
    *,
    campaign: Campaign,
    kit: LetterKit,
    now: datetime,
    actor: str,
    on_stored: OnStored | None = None,
) -> Digest:
    """Close the period: one letter per reachable office (and case) listing every waiting
    co-signer, stored and handed to `on_stored` to be queued like any letter."""
    _require_digest(campaign)
    cosigners = (
        await session.scalars(
            select(Cosigner)
            .where(Cosigner.campaign_id == campaign.id, Cosigner.digest_id.is_(None))
            .order_by(Cosigner.added_at, Cosigner.id)
            .with_for_update()
        )
    ).all()
    if not cosigners:
        raise NotFound(f"campaign {campaign.slug!r} has no co-signer waiting for a digest")
    start = await _period_start(session, campaign) or now
    digest = Digest(
        campaign_id=campaign.id,
        period_start=min(start, now),
        period_end=now,
        cosigners=len(cosigners),
        created_by=actor,
    )
    session.add(digest)
    await session.flush()
    for cosigner in cosigners:
        cosigner.digest_id = digest.id
    stored = await _digest_letters(session, campaign, digest, cosigners, kit=kit, today=now.date())
    if on_stored is not None and stored:
        await on_stored(stored)
    return digest


async def _digest_letters(
    session: AsyncSession,
    campaign: Campaign,
    digest: Digest,
    cosigners: Sequence[Cosigner],
    *,
    kit: LetterKit,
    today: date,
) -> list[StoredLetter]:
    """The digest's letters, one per reachable office (and case), signed by the organisation on
    the co-signers' behalf and listing them; stored, to be queued."""
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    cases = await campaign_cases(session, campaign)
    stored: list[StoredLetter] = []
    for plan in plans_for(kit, campaign=campaign, targets=targets, cases=cases, today=today):
        channel = plan.target.channel
        assert channel is not None
        words = _WORDS.get(plan.template.language, _WORDS["en"])
        signer = SenderIn(
            name=words["on_behalf"].format(
                organisation=kit.settings.organisation_name, count=len(cosigners)
            )[:100]
        )
        identity = _digest_identity(
            digest, plan.target.recipient.id, plan.case.id if plan.case else None
        )
        composed = compose(kit, plan, signer, identity)
        listing = cosigner_listing(
            cosigners, words=words, everyone=channel.kind is ChannelKind.postal
        )
        composed = replace(
            composed, letter=replace(composed.letter, body=composed.letter.body + listing)
        )
        letter = store(campaign, composed, signer, channel=channel.kind)
        letter.digest_id = digest.id
        session.add(letter)
        await session.flush()
        stored.append(
            StoredLetter(
                letter.id,
                letter.recipient_id,
                letter.channel,
                channel_address(channel),
                letter.campaign_id,
            )
        )
    return stored


def _digest_identity(digest: Digest, recipient_id: str, case_id: str | None) -> str:
    parts = ["digest", str(digest.campaign_id), str(digest.id), recipient_id, case_id or "*"]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _place(cosigner: Cosigner) -> str:
    return ", ".join(p for p in (cosigner.city, cosigner.country) if p)


def cosigner_listing(
    cosigners: Sequence[Cosigner], *, words: dict[str, str], everyone: bool
) -> str:
    """The co-signers as the letter's closing section: names and places, then their words."""
    shown = list(cosigners) if everyone else list(cosigners[:LISTED_IN_TEXT])
    lines = ["", "", words["heading"].format(count=len(cosigners)), ""]
    lines += [f"- {', '.join(p for p in (c.name, _place(c)) if p)}" for c in shown]
    hidden = len(cosigners) - len(shown)
    if hidden:
        lines += ["", words["more"].format(more=hidden, count=len(cosigners), file=CSV_NAME)]
    quoted = [c for c in shown if c.message]
    if quoted:
        lines += ["", words["own_words"]]
        for c in quoted:
            who = c.name + (f" ({_place(c)})" if _place(c) else "")
            lines += ["", f"{who}:", c.message]
    return "\n".join(lines) + "\n"


async def digest_csv(session: AsyncSession, *, digest_id: int) -> str:
    """Every co-signer of a digest (erased ones as such), as attached to its e-mails."""
    rows = await session.scalars(
        select(Cosigner).where(Cosigner.digest_id == digest_id).order_by(Cosigner.id)
    )
    return to_csv(
        ["name", "city", "country", "signed_at", "message"],
        ([c.name, c.city, c.country, c.added_at.date().isoformat(), c.message] for c in rows),
    )


async def get_digest(session: AsyncSession, *, digest_id: int) -> Digest:
    digest = await session.get(Digest, digest_id)
    if digest is None:
        raise NotFound(f"no digest {digest_id}")
    return digest


async def list_digests(session: AsyncSession, *, campaign: Campaign) -> Sequence[Digest]:
    rows = await session.scalars(
        select(Digest).where(Digest.campaign_id == campaign.id).order_by(Digest.id)
    )
    return rows.all()


async def digest_letters(session: AsyncSession, *, digest_id: int) -> Sequence[Letter]:
    rows = await session.scalars(
        select(Letter).where(Letter.digest_id == digest_id).order_by(Letter.id)
    )
    return rows.all()
