"""Composing letters: preview, render-and-store, and the letters on record.

A preview and a stored letter go through the same `compose`, with the same seed (the letter's
identity), so the preview is exactly the letter that would be stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.campaigns.targets import Target
from app.cases.models import Case, CasePerson
from app.errors import Conflict, InvalidInput, NotFound
from app.letters.context import base_context, with_sender
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_address
from app.spelling import search_key
from app.templating.kit import LetterKit
from app.templating.library import LetterTemplate, Purpose
from app.templating.rendering import RenderedLetter, letter_seed


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """A letter just stored, as the delivery queue needs to know it."""

    letter_id: int
    recipient_id: str
    channel: ChannelKind
    address: str | None


OnStored = Callable[[Sequence[StoredLetter]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Composed:
    target: Target
    case: Case | None
    identity: str
    letter: RenderedLetter


class Unreachable(Conflict):
    kind = "Unreachable"


def letter_identity(
    campaign: Campaign,
    recipient_id: str,
    case_id: str | None,
    sender: SenderIn,
    *,
    supporter_key: str | None = None,
) -> str:
    """Who writes to whom about what: one letter per identity, and its wording seed.

    A confirmed supporter is their `supporter_key` (a keyed hash of their e-mail address), so
    they get one letter per office and case whatever name they type; otherwise the sender is
    their name and place."""
    who = (
        ["supporter", supporter_key]
        if supporter_key is not None
        else [search_key(sender.name), search_key(sender.city), search_key(sender.country)]
    )
    parts = [campaign.slug, recipient_id, case_id or "*", *who]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def campaign_cases(session: AsyncSession, campaign: Campaign) -> list[Case]:
    ids = campaign.case_ids
    rows = await session.scalars(
        select(Case)
        .options(selectinload(Case.people).selectinload(CasePerson.charges))
        .where(Case.id.in_(ids))
    )
    by_id = {c.id: c for c in rows}
    return [by_id[i] for i in ids if i in by_id]


def _pick_case(purpose: Purpose, cases: Sequence[Case], case_id: str | None) -> Case | None:
    if purpose is Purpose.general:
        return None
    if not cases:
        raise InvalidInput("the campaign has no case to write about")
    if case_id is None:
        return cases[0]
    for case in cases:
        if case.id == case_id:
            return case
    raise NotFound(f"case {case_id!r} is not part of this campaign")


def compose_one(
    kit: LetterKit,
    *,
    campaign: Campaign,
    cases: Sequence[Case],
    case: Case | None,
    target: Target,
    sender: SenderIn,
    today: date,
    identity: str | None = None,
) -> Composed:
    """Render one letter; its identity (and so its wording seed) is the sender's unless given."""
    recipient = target.recipient
    template = kit.library.get(
        campaign.template_name, recipient.language, kit.settings.default_language
    )
    base = base_context(
        campaign=campaign,
        cases=cases,
        case=case,
        recipient=recipient,
        language=template.language,
        today=today,
        max_age_days=kit.settings.holder_max_age_days,
        organisation=kit.settings.organisation_name,
    )
    if identity is None:
        identity = letter_identity(campaign, recipient.id, case.id if case else None, sender)
    rendered = kit.renderer.render(template, with_sender(base, sender), seed=letter_seed(identity))
    return Composed(target, case, identity, rendered)


async def preview(
    session: AsyncSession,
    *,
    campaign: Campaign,
    recipient_id: str,
    case_id: str | None,
    sender: SenderIn,
    kit: LetterKit,
    today: date,
) -> Composed:
    """The letter that would be stored for this sender, office and case (also if unreachable)."""
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    target = next((t for t in targets if t.recipient.id == recipient_id), None)
    if target is None:
        raise NotFound(f"office {recipient_id!r} is not a target of campaign {campaign.slug!r}")
    template = kit.library.get(campaign.template_name, target.recipient.language)
    cases = await campaign_cases(session, campaign)
    case = _pick_case(template.purpose, cases, case_id)
    return compose_one(
        kit, campaign=campaign, cases=cases, case=case, target=target, sender=sender, today=today
    )


@dataclass(slots=True)
class CreatedLetters:
    created: list[Letter]
    existing: list[Letter]
    unreachable: list[Target]


async def create_letters(
    session: AsyncSession,
    *,
    campaign: Campaign,
    sender: SenderIn,
    kit: LetterKit,
    today: date,
    recipient_ids: Sequence[str] | None = None,
    on_stored: OnStored | None = None,
    supporter_key: str | None = None,
) -> CreatedLetters:
    """Render and store one letter per reachable target (and per case, for individual appeals).

    Idempotent per sender (or per `supporter_key`, when given): a letter that already exists
    for the same identity is returned, not rendered again.
    """
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    if recipient_ids is not None:
        unknown = set(recipient_ids) - {t.recipient.id for t in targets}
        if unknown:
            raise NotFound(f"not targets of this campaign: {', '.join(sorted(unknown))}")
        targets = [t for t in targets if t.recipient.id in set(recipient_ids)]
    cases = await campaign_cases(session, campaign)
    result = CreatedLetters([], [], [t for t in targets if not t.reachable])
    addresses: dict[int, str | None] = {}
    for target in targets:
        if target.channel is None:
            continue
        template = kit.library.get(campaign.template_name, target.recipient.language)
        subjects = [None] if template.purpose is Purpose.general else cases
        for case in subjects:
            identity = letter_identity(
                campaign,
                target.recipient.id,
                case.id if case else None,
                sender,
                supporter_key=supporter_key,
            )
            existing = await session.scalar(select(Letter).where(Letter.identity == identity))
            if existing is not None:
                result.existing.append(existing)
                continue
            composed = compose_one(
                kit,
                campaign=campaign,
                cases=cases,
                case=case,
                target=target,
                sender=sender,
                today=today,
                identity=identity,
            )
            letter = store(campaign, composed, sender, channel=target.channel.kind)
            session.add(letter)
            result.created.append(letter)
            addresses[id(letter)] = channel_address(target.channel)
    await session.flush()
    if on_stored is not None and result.created:
        await on_stored(
            [
                StoredLetter(x.id, x.recipient_id, x.channel, addresses[id(x)])
                for x in result.created
            ]
        )
    return result


def store(
    campaign: Campaign, composed: Composed, sender: SenderIn, *, channel: ChannelKind
) -> Letter:
    rendered = composed.letter
    return Letter(
        campaign_id=campaign.id,
        recipient_id=composed.target.recipient.id,
        case_id=composed.case.id if composed.case else None,
        identity=composed.identity,
        channel=channel,
        sender_name=sender.name,
        sender_city=sender.city,
        sender_country=sender.country,
        personal_message=sender.message,
        subject=rendered.subject,
        body=rendered.body,
        language=rendered.language,
        template_name=rendered.template_name,
        template_version=rendered.template_version,
    )


async def get_letter(session: AsyncSession, *, letter_id: int) -> Letter:
    letter = await session.get(Letter, letter_id)
    if letter is None:
        raise NotFound(f"no letter {letter_id}")
    return letter


async def list_letters(
    session: AsyncSession,
    *,
    campaign: Campaign,
    channel: ChannelKind | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Letter]:
    query = select(Letter).where(Letter.campaign_id == campaign.id).order_by(Letter.id)
    if channel is not None:
        query = query.where(Letter.channel == channel)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class _Plan:
    """One (office, case) pair of a bulk run, with its template and shared context."""

    target: Target
    case: Case | None
    template: LetterTemplate
    base: dict[str, Any]


async def render_many(
    session: AsyncSession,
    *,
    campaign: Campaign,
    senders: Iterable[SenderIn],
    kit: LetterKit,
    today: date,
    chunk_size: int = 500,
    on_stored: OnStored | None = None,
) -> int:
    """Render and store letters for many senders to every reachable target; returns how many
    were new. Streams in chunks (memory stays flat however many letters) and skips letters
    that already exist, so a run that was interrupted can simply be repeated."""
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    cases = await campaign_cases(session, campaign)
    plans: list[_Plan] = []
    for target in targets:
        if target.channel is None:
            continue
        template = kit.library.get(
            campaign.template_name, target.recipient.language, kit.settings.default_language
        )
        for case in [None] if template.purpose is Purpose.general else cases:
            base = base_context(
                campaign=campaign,
                cases=cases,
                case=case,
                recipient=target.recipient,
                language=template.language,
                today=today,
                max_age_days=kit.settings.holder_max_age_days,
                organisation=kit.settings.organisation_name,
            )
            plans.append(_Plan(target, case, template, base))

    addresses: dict[str, str | None] = {}
    insert = _insert_ignoring_duplicates(session, on_stored, addresses)
    created = 0
    rows: list[dict[str, Any]] = []
    for sender in senders:
        for plan in plans:
            case_id = plan.case.id if plan.case else None
            identity = letter_identity(campaign, plan.target.recipient.id, case_id, sender)
            rendered = kit.renderer.render(
                plan.template, with_sender(plan.base, sender), seed=letter_seed(identity)
            )
            assert plan.target.channel is not None
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "recipient_id": plan.target.recipient.id,
                    "case_id": case_id,
                    "identity": identity,
                    "channel": plan.target.channel.kind,
                    "sender_name": sender.name,
                    "sender_city": sender.city,
                    "sender_country": sender.country,
                    "personal_message": sender.message,
                    "subject": rendered.subject,
                    "body": rendered.body,
                    "language": rendered.language,
                    "template_name": rendered.template_name,
                    "template_version": rendered.template_version,
                }
            )
            addresses[identity] = channel_address(plan.target.channel)
            if len(rows) >= chunk_size:
                created += await insert(rows)
                rows = []
                addresses.clear()
    if rows:
        created += await insert(rows)
    return created


def _insert_ignoring_duplicates(
    session: AsyncSession, on_stored: OnStored | None, addresses: dict[str, str | None]
) -> Callable[[list[dict[str, Any]]], Awaitable[int]]:
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql_insert if dialect == "postgresql" else sqlite_insert

    async def insert(rows: list[dict[str, Any]]) -> int:
        statement = (
            insert_fn(Letter)
            .on_conflict_do_nothing(index_elements=["identity"])
            .returning(Letter.id, Letter.identity)
        )
        connection = await session.connection()
        # Core executemany with RETURNING: the ids of the rows really inserted, on both engines.
        inserted = {row[0]: row[1] for row in await connection.execute(statement, rows)}
        if on_stored is not None and inserted:
            by_identity = {row["identity"]: row for row in rows}
            await on_stored(
                [
                    StoredLetter(
                        letter_id,
                        by_identity[identity]["recipient_id"],
                        by_identity[identity]["channel"],
                        addresses[identity],
                    )
                    for letter_id, identity in inserted.items()
                ]
            )
        return len(inserted)

    return insert
