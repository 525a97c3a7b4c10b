"""Letters on record: the preview, storing one sender's letters or many senders' in bulk, and
reading them back.

Every path composes through `composing.py` (the same plan, the same seed from the letter's
identity), so a preview is exactly the letter that would be stored, one at a time or in bulk.
"""

from __future__ import annotations

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
from app.letters.composing import (
    Composed,
    compose,
    compose_one,
    letter_identity,
    letter_row,
    plans_for,
)
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_address
from app.templating.kit import LetterKit
from app.templating.library import Purpose


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """A letter just stored, as the delivery queue needs to know it."""

    letter_id: int
    recipient_id: str
    channel: ChannelKind
    address: str | None
    campaign_id: int  # copied onto its deliveries, which every campaign report reads


OnStored = Callable[[Sequence[StoredLetter]], Awaitable[object]]


class Unreachable(Conflict):
    kind = "Unreachable"


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


async def preview(
    session: AsyncSession,
    *,
    campaign: Campaign,
    recipient_id: str,
    case_id: str | None,
    sender: SenderIn,
    kit: LetterKit,
    today: date,
    targets: Sequence[Target] | None = None,
    cases: list[Case] | None = None,
) -> Composed:
    """The letter that would be stored for this sender, office and case (also if unreachable);
    `targets` and `cases`, when the caller has already loaded them, are not read again."""
    if targets is None:
        targets = await campaigns_service.resolve_targets(
            session, campaign=campaign, library=kit.library
        )
    target = next((t for t in targets if t.recipient.id == recipient_id), None)
    if target is None:
        raise NotFound(f"office {recipient_id!r} is not a target of campaign {campaign.slug!r}")
    template = kit.library.get(campaign.template_name, target.recipient.language)
    if cases is None:
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
    for plan in plans_for(kit, campaign=campaign, targets=targets, cases=cases, today=today):
        case_id = plan.case.id if plan.case else None
        recipient_id = plan.target.recipient.id
        identity = letter_identity(
            campaign, recipient_id, case_id, sender, supporter_key=supporter_key
        )
        existing = await session.scalar(select(Letter).where(Letter.identity == identity))
        if existing is not None:
            result.existing.append(existing)
            continue
        assert plan.target.channel is not None
        composed = compose(kit, plan, sender, identity)
        letter = store(campaign, composed, sender, channel=plan.target.channel.kind)
        session.add(letter)
        result.created.append(letter)
        addresses[id(letter)] = channel_address(plan.target.channel)
    await session.flush()
    if on_stored is not None and result.created:
        await on_stored(
            [
                StoredLetter(x.id, x.recipient_id, x.channel, addresses[id(x)], x.campaign_id)
                for x in result.created
            ]
        )
    return result


def store(
    campaign: Campaign, composed: Composed, sender: SenderIn, *, channel: ChannelKind
) -> Letter:
    """The letter on record for `composed` (added to no session: the caller adds it)."""
    return Letter(**letter_row(campaign, composed, sender, channel=channel))


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
    plans = plans_for(
        kit,
        campaign=campaign,
        targets=targets,
        cases=await campaign_cases(session, campaign),
        today=today,
    )
    addresses: dict[str, str | None] = {}
    insert = _insert_ignoring_duplicates(session, on_stored, addresses)
    created = 0
    rows: list[dict[str, Any]] = []
    for sender in senders:
        for plan in plans:
            case_id = plan.case.id if plan.case else None
            identity = letter_identity(campaign, plan.target.recipient.id, case_id, sender)
            composed = compose(kit, plan, sender, identity)
            assert plan.target.channel is not None
            rows.append(letter_row(campaign, composed, sender, channel=plan.target.channel.kind))
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
                        by_identity[identity]["campaign_id"],
                    )
                    for letter_id, identity in inserted.items()
                ]
            )
        return len(inserted)

    return insert
