"""Composing a letter: one plan per office and case, rendered for a sender with a fixed seed.

A `Plan` is what every sender's letter to one office about one case shares: the template in the
office's language and the context built from the campaign, the case and the office. `compose`
renders it for one sender, seeded by the letter's identity, so the same sender gets the same
wording whether the letter is previewed, stored alone, or stored in bulk; `letter_row` is the
stored form of the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.campaigns.models import Campaign
from app.campaigns.targets import Target
from app.cases.models import Case
from app.letters.context import base_context, with_sender
from app.letters.schemas import SenderIn
from app.recipients.channels import ChannelKind
from app.spelling import search_key
from app.templating.kit import LetterKit
from app.templating.library import LetterTemplate, Purpose
from app.templating.rendering import RenderedLetter, letter_seed


@dataclass(frozen=True, slots=True)
class Composed:
    target: Target
    case: Case | None
    identity: str
    letter: RenderedLetter


@dataclass(frozen=True, slots=True)
class Plan:
    """One (office, case) letter of a campaign before its sender is known: the template and the
    context every sender's letter to that office shares."""

    target: Target
    case: Case | None
    template: LetterTemplate
    base: dict[str, Any]


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


def plan_letter(
    kit: LetterKit,
    *,
    campaign: Campaign,
    cases: Sequence[Case],
    case: Case | None,
    target: Target,
    today: date,
    template: LetterTemplate | None = None,
) -> Plan:
    """The plan of the letter to `target` about `case` (None: a letter about no one case)."""
    if template is None:
        template = kit.library.get(
            campaign.template_name, target.recipient.language, kit.settings.default_language
        )
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
    return Plan(target, case, template, base)


def plans_for(
    kit: LetterKit,
    *,
    campaign: Campaign,
    targets: Sequence[Target],
    cases: Sequence[Case],
    today: date,
) -> list[Plan]:
    """A plan for every reachable target: one letter per office, or one per office and case
    when the template appeals for a case."""
    plans = []
    for target in targets:
        if target.channel is None:
            continue
        template = kit.library.get(
            campaign.template_name, target.recipient.language, kit.settings.default_language
        )
        for case in [None] if template.purpose is Purpose.general else cases:
            plans.append(
                plan_letter(
                    kit,
                    campaign=campaign,
                    cases=cases,
                    case=case,
                    target=target,
                    today=today,
                    template=template,
                )
            )
    return plans


def compose(kit: LetterKit, plan: Plan, sender: SenderIn, identity: str) -> Composed:
    """The letter of `plan` signed by `sender`, its wording seeded by its identity."""
    rendered = kit.renderer.render(
        plan.template, with_sender(plan.base, sender), seed=letter_seed(identity)
    )
    return Composed(plan.target, plan.case, identity, rendered)


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
    plan = plan_letter(kit, campaign=campaign, cases=cases, case=case, target=target, today=today)
    if identity is None:
        identity = letter_identity(campaign, target.recipient.id, case.id if case else None, sender)
    return compose(kit, plan, sender, identity)


def letter_row(
    campaign: Campaign, composed: Composed, sender: SenderIn, *, channel: ChannelKind
) -> dict[str, Any]:
    """The stored letter's columns: exactly what was rendered, naming the template version."""
    rendered = composed.letter
    return {
        "campaign_id": campaign.id,
        "recipient_id": composed.target.recipient.id,
        "case_id": composed.case.id if composed.case else None,
        "identity": composed.identity,
        "channel": channel,
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
