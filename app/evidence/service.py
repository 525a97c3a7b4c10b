"""Dossiers for staff: one letter's (a request asking for personal data is in the audit log),
or every letter of a campaign that went out by e-mail, for `appeals evidence export`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.campaigns import service as campaigns_service
from app.delivery.email.evidence import SendEvidence
from app.delivery.models import Delivery
from app.evidence import dossier
from app.staff.models import StaffUser


async def dossier_of(
    session: AsyncSession,
    *,
    letter_id: int,
    include_personal: bool,
    actor: StaffUser | str,
    now: datetime,
) -> dict[str, Any]:
    """The sealed dossier of a letter; asking for personal data is audited."""
    built = await dossier.build(
        session, letter_id=letter_id, include_personal=include_personal, now=now
    )
    if include_personal:
        audit.record(
            session,
            actor=actor,
            action="evidence.dossier_with_personal_data",
            entity_type="letter",
            entity_id=str(letter_id),
        )
    return built


async def letters_with_evidence(session: AsyncSession, *, campaign: str) -> list[int]:
    """The letters of campaign `campaign` (a slug) that have send evidence, in order."""
    ref = await campaigns_service.get_campaign_ref(session, slug=campaign)
    rows = await session.scalars(
        select(Delivery.letter_id)
        .join(SendEvidence, SendEvidence.delivery_id == Delivery.id)
        .where(Delivery.campaign_id == ref.id)
        .distinct()
        .order_by(Delivery.letter_id)
    )
    return list(rows.all())


async def campaign_dossiers(
    session: AsyncSession, *, letter_ids: list[int], now: datetime
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """Each letter's dossier, without personal data."""
    for letter_id in letter_ids:
        yield (
            letter_id,
            await dossier.build(session, letter_id=letter_id, include_personal=False, now=now),
        )
