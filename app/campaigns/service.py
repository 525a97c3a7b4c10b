"""Campaign rules: creation, edits, the status machine, and target resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.campaigns.models import (
    MACHINE,
    Campaign,
    CampaignCase,
    CampaignEvent,
    CampaignStatus,
    CampaignTarget,
)
from app.campaigns.schemas import (
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    Pacing,
    Selector,
    TargetRead,
    Targets,
)
from app.campaigns.targets import Target, resolve
from app.cases.models import Case
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.files import ResponseTerm
from app.recipients.models import Recipient
from app.staff.models import StaffUser
from app.templating.library import TemplateLibrary

_LOAD = (selectinload(Campaign.cases), selectinload(Campaign.targets))
_EDITABLE_IN = {CampaignStatus.draft, CampaignStatus.paused}
# Fields an edit may leave out but not empty.
_REQUIRED = (
    "title",
    "template",
    "mode",
    "channel_preference",
    "pacing",
    "targets",
    "response_term",
)


class CampaignClosed(Conflict):
    kind = "CampaignClosed"


async def get_campaign(session: AsyncSession, *, slug: str) -> Campaign:
    campaign = await session.scalar(select(Campaign).options(*_LOAD).where(Campaign.slug == slug))
    if campaign is None:
        raise NotFound(f"no campaign {slug!r}")
    return campaign


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """The few fields public signing checks, read without the cases and targets."""

    id: int
    slug: str
    status: CampaignStatus


async def get_campaign_ref(session: AsyncSession, *, slug: str) -> CampaignRef:
    """One single-row query where `get_campaign` runs three (it loads cases and targets)."""
    row = (
        await session.execute(select(Campaign.id, Campaign.status).where(Campaign.slug == slug))
    ).first()
    if row is None:
        raise NotFound(f"no campaign {slug!r}")
    return CampaignRef(id=row.id, slug=slug, status=row.status)


async def list_campaigns(
    session: AsyncSession, *, status: CampaignStatus | None = None
) -> Sequence[Campaign]:
    query = select(Campaign).options(*_LOAD).order_by(Campaign.created_at.desc(), Campaign.id)
    if status:
        query = query.where(Campaign.status == status)
    return (await session.scalars(query)).all()


def to_read(campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        slug=campaign.slug,
        title=campaign.title,
        description=campaign.description,
        cases=campaign.case_ids,
        targets=Targets(
            recipients=campaign.recipient_ids,
            selectors=[Selector.model_validate(x) for x in campaign.selectors],
            exclude=campaign.excluded,
        ),
        template=campaign.template_name,
        mode=campaign.mode,
        channel_preference=[ChannelKind(k) for k in campaign.channel_preference],
        channel_overrides={
            k: [ChannelKind(c) for c in v] for k, v in campaign.channel_overrides.items()
        },
        pacing=Pacing.model_validate(campaign.pacing),
        response_term=ResponseTerm.model_validate(campaign.response_term),
        status=campaign.status,
        status_changed_at=campaign.status_changed_at,
        allowed_transitions=sorted(MACHINE.allowed(campaign.status)),
        test_mode=campaign.test_mode,
        test_address=campaign.test_address,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


def _snapshot(campaign: Campaign) -> dict[str, Any]:
    return to_read(campaign).model_dump(
        mode="json", exclude={"id", "updated_at", "created_at", "allowed_transitions"}
    )


async def _check_references(
    session: AsyncSession,
    *,
    cases: list[str] | None,
    targets: Targets | None,
    overrides: dict[str, Any] | None,
    template: str | None,
    library: TemplateLibrary,
) -> None:
    if template is not None and not library.has(template):
        known = ", ".join(library.names()) or "none"
        raise InvalidInput(f"no letter template {template!r} (known: {known})")
    if cases:
        found = set(await session.scalars(select(Case.id).where(Case.id.in_(cases))))
        missing = sorted(set(cases) - found)
        if missing:
            raise InvalidInput(f"unknown cases: {', '.join(missing)}")
    offices = [
        *(targets.recipients if targets else []),
        *(targets.exclude if targets else []),
        *(overrides or {}),
    ]
    if offices:
        found = set(await session.scalars(select(Recipient.id).where(Recipient.id.in_(offices))))
        missing = sorted(set(offices) - found)
        if missing:
            raise InvalidInput(f"unknown offices: {', '.join(missing)}")


def _apply_targets(campaign: Campaign, targets: Targets) -> None:
    campaign.targets = [CampaignTarget(recipient_id=r) for r in dict.fromkeys(targets.recipients)]
    campaign.selectors = [s.model_dump(exclude_none=True) for s in targets.selectors]
    campaign.excluded = list(dict.fromkeys(targets.exclude))


def _apply_cases(campaign: Campaign, cases: list[str]) -> None:
    campaign.cases = [
        CampaignCase(case_id=c, position=i) for i, c in enumerate(dict.fromkeys(cases))
    ]


def _record_status(
    session: AsyncSession,
    campaign: Campaign,
    *,
    actor: StaffUser,
    from_status: CampaignStatus | None,
    note: str | None,
) -> None:
    session.add(
        CampaignEvent(
            campaign_id=campaign.id,
            actor=actor.email,
            from_status=from_status.value if from_status else None,
            to_status=campaign.status.value,
            note=note,
        )
    )


async def create_campaign(
    session: AsyncSession, *, data: CampaignCreate, actor: StaffUser, library: TemplateLibrary
) -> Campaign:
    if await session.scalar(select(Campaign.id).where(Campaign.slug == data.slug)):
        raise Conflict(f"a campaign {data.slug!r} already exists")
    await _check_references(
        session,
        cases=data.cases,
        targets=data.targets,
        overrides=data.channel_overrides,
        template=data.template,
        library=library,
    )
    campaign = Campaign(
        slug=data.slug,
        title=data.title,
        description=data.description,
        template_name=data.template,
        mode=data.mode,
        status=CampaignStatus.draft,
        status_changed_at=utcnow(),
        channel_preference=[c.value for c in data.channel_preference],
        channel_overrides={k: [c.value for c in v] for k, v in data.channel_overrides.items()},
        pacing=data.pacing.model_dump(),
        response_term=data.response_term.model_dump(mode="json"),
        test_mode=data.test_mode,
        test_address=str(data.test_address) if data.test_address else None,
        created_by=actor.email,
        cases=[],
        targets=[],
    )
    _apply_cases(campaign, data.cases)
    _apply_targets(campaign, data.targets)
    session.add(campaign)
    await session.flush()
    _record_status(session, campaign, actor=actor, from_status=None, note="created")
    audit.record(
        session,
        actor=actor,
        action="campaign.create",
        entity_type="campaign",
        entity_id=campaign.slug,
        after=_snapshot(campaign),
    )
    return campaign


async def resolve_targets(
    session: AsyncSession, *, campaign: Campaign, library: TemplateLibrary
) -> list[Target]:
    suitable = {c for t in library.all() if t.name == campaign.template_name for c in t.channels}
    return resolve(campaign, await recipients_service.all_recipients(session), suitable)


def target_read(target: Target) -> TargetRead:
    recipient = target.recipient
    return TargetRead(
        recipient_id=recipient.id,
        office=recipient.office,
        country=recipient.country,
        language=recipient.language,
        channel=target.channel.kind if target.channel else None,
        channel_id=target.channel.id if target.channel else None,
        reachable=target.reachable,
        reason=target.reason,
    )


async def _check_can_open(
    session: AsyncSession, campaign: Campaign, library: TemplateLibrary
) -> None:
    problems = []
    if not library.has(campaign.template_name):
        problems.append(f"no letter template {campaign.template_name!r}")
    if not campaign.cases:
        problems.append("no case")
    if campaign.test_mode and not campaign.test_address:
        problems.append("test mode needs a test_address to divert deliveries to")
    targets = await resolve_targets(session, campaign=campaign, library=library)
    if not any(t.reachable for t in targets):
        problems.append("no reachable target office")
    if problems:
        raise Conflict("the campaign cannot open: " + "; ".join(problems))


def _check_editable(campaign: Campaign, values: dict[str, Any]) -> None:
    """Refuse edits a campaign's status does not allow, and empty required fields."""
    if campaign.status is CampaignStatus.closed:
        raise CampaignClosed(f"campaign {campaign.slug!r} is closed")
    if values and campaign.status not in _EDITABLE_IN:
        raise Conflict(
            f"campaign {campaign.slug!r} is {campaign.status.value}: pause it to change it"
        )
    for required in _REQUIRED:
        if required in values and values[required] is None:
            raise InvalidInput(f"{required} cannot be empty")


# Fields copied as they come, by their name in the request and their column.
_PLAIN_FIELDS = {"title": "title", "description": "description", "template": "template_name"}


def _apply_fields(campaign: Campaign, changes: CampaignUpdate, values: dict[str, Any]) -> None:
    """Copy the fields the request set onto the campaign (cases and targets included)."""
    if changes.cases is not None:
        _apply_cases(campaign, changes.cases)
    if changes.targets is not None:
        _apply_targets(campaign, changes.targets)
    for field, column in _PLAIN_FIELDS.items():
        if field in values:
            setattr(campaign, column, values[field])
    if changes.mode is not None:
        campaign.mode = changes.mode
    if changes.channel_preference is not None:
        campaign.channel_preference = [c.value for c in changes.channel_preference]
    if changes.channel_overrides is not None:
        campaign.channel_overrides = {
            k: [c.value for c in v] for k, v in changes.channel_overrides.items()
        }
    if changes.pacing is not None:
        campaign.pacing = changes.pacing.model_dump()
    if changes.response_term is not None:
        campaign.response_term = changes.response_term.model_dump(mode="json")
    if "test_mode" in values:
        campaign.test_mode = bool(values["test_mode"])
    if "test_address" in values:
        campaign.test_address = str(values["test_address"]) if values["test_address"] else None


async def _move(
    session: AsyncSession,
    campaign: Campaign,
    target: CampaignStatus,
    *,
    actor: StaffUser,
    note: str | None,
    library: TemplateLibrary,
) -> None:
    """Move the campaign along its machine (opening only if it can), and log the move."""
    allowed = ", ".join(sorted(MACHINE.allowed(campaign.status))) or "none"
    MACHINE.check(
        campaign.status,
        target,
        what=f"a {campaign.status.value} campaign cannot become {target.value} "
        f"(allowed: {allowed})",
    )
    if target is CampaignStatus.open:
        await _check_can_open(session, campaign, library)
    previous = campaign.status
    campaign.status = target
    campaign.status_changed_at = utcnow()
    _record_status(session, campaign, actor=actor, from_status=previous, note=note)


async def update_campaign(
    session: AsyncSession,
    *,
    campaign: Campaign,
    changes: CampaignUpdate,
    actor: StaffUser,
    library: TemplateLibrary,
) -> Campaign:
    """Edit a draft or paused campaign, and/or move it along its status machine."""
    values = changes.model_dump(exclude_unset=True)
    new_status = values.pop("status", None)
    note = values.pop("status_note", None)
    _check_editable(campaign, values)
    before = _snapshot(campaign)
    await _check_references(
        session,
        cases=changes.cases,
        targets=changes.targets,
        overrides=changes.channel_overrides,
        template=changes.template,
        library=library,
    )
    _apply_fields(campaign, changes, values)
    await session.flush()
    if new_status is not None and new_status != campaign.status:
        target = CampaignStatus(new_status)
        await _move(session, campaign, target, actor=actor, note=note, library=library)
    audit.record_change(
        session,
        actor=actor,
        action="campaign.update",
        entity_type="campaign",
        entity_id=campaign.slug,
        before=before,
        after=_snapshot(campaign),
    )
    await session.flush()
    return campaign
