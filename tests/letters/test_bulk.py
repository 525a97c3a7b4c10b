from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.schemas import CampaignCreate, Selector, Targets
from app.config import Settings
from app.db import utcnow
from app.letters import service as letters_service
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.staff.models import Role
from app.templating.kit import LetterKit
from tests.factories import make_staff

SENDERS = [
    SenderIn(name="Ada Lovelace", city="London", country="United Kingdom"),
    SenderIn(name="Élise Dupont", city="Lyon", country="France", message="Je vous remercie."),
    SenderIn(name="Jan Kowalski", city="Gdańsk"),
]


class TestRenderMany:
    async def test_renders_each_sender_once_per_reachable_office(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        user, _ = await make_staff(session, Role.campaigner)
        kit = LetterKit.from_settings(settings)
        campaign = await campaigns_service.create_campaign(
            session,
            data=CampaignCreate(
                slug="bulk",
                title="Bulk",
                cases=["bokayev-ayan"],
                targets=Targets(
                    selectors=[
                        Selector(tag="international"),
                        Selector(tag="national"),
                        Selector(tag="us"),
                    ]
                ),
                template="individual-appeal",
            ),
            actor=user,
            library=kit.library,
        )
        targets = await campaigns_service.resolve_targets(
            session, campaign=campaign, library=kit.library
        )
        reachable = sum(1 for t in targets if t.reachable)
        today = utcnow().date()

        created = await letters_service.render_many(
            session, campaign=campaign, senders=iter(SENDERS), kit=kit, today=today, chunk_size=7
        )
        assert created == len(SENDERS) * reachable
        again = await letters_service.render_many(
            session, campaign=campaign, senders=iter(SENDERS), kit=kit, today=today
        )
        assert again == 0  # an interrupted run can be repeated: nothing is written twice
        stored = await session.scalar(
            select(func.count(Letter.id)).where(Letter.campaign_id == campaign.id)
        )
        assert stored == created

        # The bulk path stores exactly what a single preview shows.
        letter = await session.scalar(
            select(Letter).where(
                Letter.recipient_id == "france-prime-minister", Letter.sender_name == "Élise Dupont"
            )
        )
        assert letter is not None
        composed = await letters_service.preview(
            session,
            campaign=campaign,
            recipient_id="france-prime-minister",
            case_id=None,
            sender=SENDERS[1],
            kit=kit,
            today=today,
        )
        assert (letter.subject, letter.body) == (composed.letter.subject, composed.letter.body)
        assert letter.personal_message == "Je vous remercie."
