"""Pausing a whole channel when our own settings are wrong.

An SMTP login refused or a TLS setting that does not work is not any letter's fault: failing
thousands of letters for it would be wrong, and retrying each would hammer the server. So the
channel pauses: workers claim nothing on it until the pause ends (then they try the settings
again) or staff resume it after fixing the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.delivery.models import ChannelPause
from app.errors import NotFound
from app.recipients.channels import ChannelKind


async def active(session: AsyncSession, *, channel: ChannelKind, now: datetime) -> bool:
    until = await session.scalar(select(ChannelPause.until).where(ChannelPause.channel == channel))
    return until is not None and until > now


async def pause(
    session: AsyncSession,
    *,
    channel: ChannelKind,
    reason: str,
    until: datetime,
    now: datetime,
    actor: str,
) -> ChannelPause:
    current = await session.get(ChannelPause, channel, with_for_update=True)
    if current is None:
        current = ChannelPause(channel=channel, reason=reason, paused_at=now, until=until)
        current.paused_by = actor
        session.add(current)
    else:
        current.reason, current.paused_at, current.until, current.paused_by = (
            reason,
            now,
            until,
            actor,
        )
    await session.flush()
    return current


async def list_pauses(session: AsyncSession) -> Sequence[ChannelPause]:
    return (await session.scalars(select(ChannelPause).order_by(ChannelPause.channel))).all()


async def resume(session: AsyncSession, *, channel: ChannelKind, actor: str) -> None:
    """Staff fixed the settings: lift the pause now (recorded in the audit log)."""
    current = await session.get(ChannelPause, channel)
    if current is None:
        raise NotFound(f"the {channel.value} channel is not paused")
    audit.record(
        session,
        actor=actor,
        action="resume",
        entity_type="channel",
        entity_id=channel.value,
        before={"reason": current.reason, "until": current.until},
    )
    await session.delete(current)
    await session.flush()
