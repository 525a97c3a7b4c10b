"""What a supporter may see of their own signature: its letters and their delivery, their data.

Read-only views for the private status page and the JSON download (GDPR access/portability).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignMode
from app.cases.models import Case
from app.delivery.models import Delivery
from app.digests.models import Cosigner
from app.letters.models import Letter
from app.recipients.models import Recipient
from app.signatures import service
from app.signatures.models import Signature, Supporter
from app.signatures.schemas import LetterStatus, SignatureExport, SupporterExport


@dataclass(frozen=True, slots=True)
class CosignerStatus:
    """For digest campaigns: whether the supporter waits for the next digest or is in one."""

    in_digest: bool


async def letter_statuses(session: AsyncSession, *, signature_id: int) -> list[LetterStatus]:
    rows = await session.execute(
        select(Letter, Recipient.office, Case.title, Delivery.status)
        .join(Recipient, Recipient.id == Letter.recipient_id)
        .outerjoin(Case, Case.id == Letter.case_id)
        .outerjoin(Delivery, Delivery.letter_id == Letter.id)
        .where(Letter.signature_id == signature_id)
        .order_by(Recipient.office, Letter.id)
    )
    return [
        LetterStatus(
            office=office,
            case=case_title,
            channel=letter.channel.value,
            status=status.value if status is not None else "stored",
            subject=letter.subject,
        )
        for letter, office, case_title, status in rows
    ]


async def cosigner_status(
    session: AsyncSession, *, campaign: Campaign, supporter: Supporter
) -> CosignerStatus | None:
    if campaign.mode is not CampaignMode.digest or supporter.email_key is None:
        return None
    row = (
        await session.execute(
            select(Cosigner.id, Cosigner.digest_id).where(
                Cosigner.campaign_id == campaign.id, Cosigner.supporter_key == supporter.email_key
            )
        )
    ).first()
    return None if row is None else CosignerStatus(in_digest=row[1] is not None)


async def export(session: AsyncSession, *, supporter: Supporter) -> SupporterExport:
    """Everything stored about the supporter: address, signatures, consent, letters."""
    signatures = await service.signatures_of(session, supporter_id=supporter.id)
    titles = dict(
        (
            await session.execute(
                select(Campaign.id, Campaign.title).where(
                    Campaign.id.in_({s.campaign_id for s in signatures})
                )
            )
        ).all()
    )
    exported = []
    for signature in signatures:
        exported.append(
            SignatureExport(
                campaign=titles.get(signature.campaign_id, ""),
                status=signature.status.value,
                name=signature.name,
                city=signature.city,
                country=signature.country,
                message=signature.message,
                needs_review=signature.needs_review,
                consent_version=signature.consent_version,
                consent_text=signature.consent_text,
                consented_at=signature.consented_at,
                confirmed_at=signature.confirmed_at,
                withdrawn_at=signature.withdrawn_at,
                letters=await _letters_in_full(session, signature),
            )
        )
    return SupporterExport(
        email=supporter.email, created_at=supporter.created_at, signatures=exported
    )


async def _letters_in_full(session: AsyncSession, signature: Signature) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Letter, Recipient.office, Delivery.status)
        .join(Recipient, Recipient.id == Letter.recipient_id)
        .outerjoin(Delivery, Delivery.letter_id == Letter.id)
        .where(Letter.signature_id == signature.id)
        .order_by(Letter.id)
    )
    return [
        {
            "office": office,
            "case": letter.case_id,
            "channel": letter.channel.value,
            "status": status.value if status is not None else "stored",
            "subject": letter.subject,
            "body": letter.body,
            "written_at": letter.created_at.isoformat(),
        }
        for letter, office, status in rows
    ]
