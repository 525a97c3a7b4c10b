"""Which offices a campaign writes to, and through which channel each can be reached.

Targets are the explicit offices plus every office matching a selector, minus the excluded.
For each, the first channel of the campaign's preference (or the office's override) that the
template suits and the directory marks usable is chosen; an office with none is unreachable,
and that is reported before launch, not discovered after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.campaigns.models import Campaign
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_problem, unverified_email
from app.recipients.models import Recipient, RecipientChannel


@dataclass(frozen=True, slots=True)
class Target:
    recipient: Recipient
    channel: RecipientChannel | None
    reason: str | None

    @property
    def reachable(self) -> bool:
        return self.channel is not None


def _matches(recipient: Recipient, selector: dict[str, str]) -> bool:
    tag, country = selector.get("tag"), selector.get("country")
    if tag is not None and tag not in recipient.tag_names:
        return False
    return country is None or recipient.country == country


def selected(campaign: Campaign, recipients: Iterable[Recipient]) -> list[Recipient]:
    """The campaign's target offices, in id order (recipients need tags loaded)."""
    explicit = set(campaign.recipient_ids)
    excluded = set(campaign.excluded)
    return sorted(
        (
            r
            for r in recipients
            if r.id not in excluded
            and (r.id in explicit or any(_matches(r, s) for s in campaign.selectors))
        ),
        key=lambda r: r.id,
    )


def choose_channel(
    recipient: Recipient,
    preference: Sequence[ChannelKind],
    suitable: Iterable[ChannelKind],
    *,
    rehearsal: bool = False,
) -> tuple[RecipientChannel | None, str | None]:
    """The first usable channel in `preference` that the template suits, or why there is none.

    In a rehearsal (a campaign in test mode, whose e-mails all go to the test address), an
    e-mail channel whose address is not verified yet counts as usable: staff can rehearse a
    whole mailing before the directory is ready, and nothing reaches an unverified address."""
    allowed = [kind for kind in preference if kind in set(suitable)]
    if not allowed:
        return None, "the template suits none of the campaign's channels"
    reasons: list[str] = []
    for kind in allowed:
        channels = [c for c in recipient.channels if c.kind is kind]
        if not channels:
            reasons.append(f"no {kind.value}")
            continue
        for channel in channels:
            problem = channel_problem(channel)
            if problem is None or (rehearsal and unverified_email(channel)):
                return channel, None
            reasons.append(f"{kind.value}: {problem}")
    return None, "; ".join(reasons)


def resolve(
    campaign: Campaign, recipients: Iterable[Recipient], suitable: Iterable[ChannelKind]
) -> list[Target]:
    suitable = tuple(suitable)
    targets = []
    for recipient in selected(campaign, recipients):
        preference = [
            ChannelKind(k)
            for k in campaign.channel_overrides.get(recipient.id, campaign.channel_preference)
        ]
        channel, reason = choose_channel(
            recipient, preference, suitable, rehearsal=campaign.test_mode
        )
        targets.append(Target(recipient, channel, reason))
    return targets
