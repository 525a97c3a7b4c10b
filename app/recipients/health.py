"""Directory health: can each office be reached, and is what we know about it still current?

A letter can travel by e-mail, by post or through a web form (which needs a person to submit
it). Phone numbers are kept for follow-up but carry no letter. The report is from 2017, so every
holder it names is stale until staff verify it; a stale holder means letters address the office.
An e-mail address whose letters keep bouncing for good is marked suspect here (`mark_suspect`,
called by the inbound pipeline), and the report warns of it until staff change the address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient, RecipientChannel

LETTER_CHANNELS = (ChannelKind.email, ChannelKind.postal, ChannelKind.web_form)


class OfficeStatus(StrEnum):
    ok = "ok"
    warning = "warning"
    unreachable = "unreachable"


def channel_address(channel: RecipientChannel) -> str | None:
    """Where a letter through `channel` goes: an address, a URL, or the postal lines."""
    if channel.kind is ChannelKind.postal:
        return "\n".join(channel.lines or []) or None
    return channel.value


def unverified_email(channel: RecipientChannel) -> bool:
    """An e-mail channel kept as a fact but with no address we may use (obfuscated or empty)."""
    return (
        channel.kind is ChannelKind.email
        and not channel.disabled_reason
        and (channel.obfuscated or not channel.value)
    )


def channel_problem(channel: RecipientChannel) -> str | None:
    """Why a letter cannot go through `channel` now, or None if it can."""
    if channel.disabled_reason:
        return f"disabled by staff: {channel.disabled_reason}"
    match channel.kind:
        case ChannelKind.email:
            if channel.obfuscated:
                return "e-mail address obfuscated in the source; verify a real address"
            if not channel.value:
                return "no e-mail address"
        case ChannelKind.postal:
            if not channel.lines:
                return "no address lines"
            if not channel.country:
                return "postal address without a country"
        case ChannelKind.web_form:
            if not channel.value:
                return "no web-form URL"
        case ChannelKind.phone:
            return "a phone number carries no letter (kept for follow-up calls)"
    return None


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    id: int
    kind: ChannelKind
    label: str | None
    value: str | None
    problem: str | None


@dataclass(slots=True)
class OfficeHealth:
    recipient_id: str
    office: str
    holder: str | None
    holder_verified_on: date | None
    holder_stale: bool
    usable: list[ChannelHealth] = field(default_factory=list)
    unusable: list[ChannelHealth] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Every channel's problem by channel id, phones included (they are in neither list above).
    problems: dict[int, str | None] = field(default_factory=dict)

    @property
    def status(self) -> OfficeStatus:
        if not self.usable:
            return OfficeStatus.unreachable
        return OfficeStatus.warning if self.warnings else OfficeStatus.ok


@dataclass(slots=True)
class DirectoryHealth:
    checked_at: datetime
    holder_max_age_days: int
    offices: list[OfficeHealth]

    def count(self, status: OfficeStatus) -> int:
        return sum(1 for o in self.offices if o.status is status)

    @property
    def reachable(self) -> bool:
        """True when every office has at least one usable channel (the launch gate)."""
        return all(o.status is not OfficeStatus.unreachable for o in self.offices)


def _describe(channel: RecipientChannel) -> str | None:
    if channel.kind is ChannelKind.postal and channel.lines:
        return ", ".join([*channel.lines, channel.country or ""]).rstrip(", ")
    return channel.value or channel.as_printed


def office_health(recipient: Recipient, *, today: date, max_age_days: int) -> OfficeHealth:
    """Check one office; `recipient.channels` must be loaded."""
    verified = recipient.holder_verified_on
    stale = verified is None or (today - verified).days > max_age_days
    health = OfficeHealth(
        recipient_id=recipient.id,
        office=recipient.office,
        holder=recipient.holder,
        holder_verified_on=verified,
        holder_stale=stale,
    )
    for channel in recipient.channels:
        problem = channel_problem(channel)
        entry = ChannelHealth(channel.id, channel.kind, channel.label, _describe(channel), problem)
        health.problems[channel.id] = problem
        if channel.kind is ChannelKind.phone:
            continue
        (health.unusable if problem else health.usable).append(entry)

    if recipient.holder is None:
        health.warnings.append("no holder named: letters address the office")
    elif stale:
        when = f"since {verified.isoformat()}" if verified else "ever"
        health.warnings.append(
            f"holder {recipient.holder!r} not verified {when} (limit {max_age_days} days): "
            "letters address the office"
        )
    for channel in recipient.channels:
        if channel.suspect_since is not None and not channel.disabled_reason:
            health.warnings.append(
                f"{channel.kind.value} channel suspect since "
                f"{channel.suspect_since.date().isoformat()}: {channel.suspect_reason}"
            )
    kinds = {c.kind for c in health.usable}
    if kinds == {ChannelKind.web_form}:
        health.warnings.append("web form only: each letter needs a person to submit it")
    present = {c.kind for c in recipient.channels}
    if ChannelKind.postal not in present:
        health.warnings.append("no postal address in the directory")
    if ChannelKind.email not in present:
        health.warnings.append("no e-mail address in the directory")
    return health


def directory_health(
    recipients: Iterable[Recipient], *, now: datetime, max_age_days: int
) -> DirectoryHealth:
    today = now.date()
    return DirectoryHealth(
        checked_at=now,
        holder_max_age_days=max_age_days,
        offices=[office_health(r, today=today, max_age_days=max_age_days) for r in recipients],
    )


async def trusted_email_channel(
    session: AsyncSession, *, recipient_id: str, address: str
) -> RecipientChannel | None:
    """The office's e-mail channel at `address` (any case), if it is not suspect already."""
    channel = await session.scalar(
        select(RecipientChannel).where(
            RecipientChannel.recipient_id == recipient_id,
            RecipientChannel.kind == ChannelKind.email,
            func.lower(RecipientChannel.value) == address.lower(),
        )
    )
    return channel if channel is not None and channel.suspect_since is None else None


def mark_suspect(
    session: AsyncSession, channel: RecipientChannel, *, reason: str, actor: str, now: datetime
) -> None:
    """Mark `channel` suspect since `now` for `reason` (cut to its column), and audit it."""
    channel.suspect_since = now
    channel.suspect_reason = reason[:300]
    audit.record(
        session,
        actor=actor,
        action="recipient.channel.suspect",
        entity_type="recipient",
        entity_id=channel.recipient_id,
        after={"channel_id": channel.id, "suspect_reason": channel.suspect_reason},
    )
