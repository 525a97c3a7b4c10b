"""Recording staff and import changes in the audit log, and reading it back.

The audit log sits below every domain, staff accounts included, so that any of them can record a
change: it knows an actor only as something with an id and an address (`Actor`), or a name such
as "import" for changes no account made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fastapi.encoders import jsonable_encoder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.db import page_of


class Actor(Protocol):
    """Who made a change: a staff account (its id is kept, and its address at the time)."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys whose values differ, as two JSON-safe dicts (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return (
        jsonable_encoder({k: before.get(k) for k in keys}),
        jsonable_encoder({k: after[k] for k in keys}),
    )


def record(
    session: AsyncSession,
    *,
    actor: Actor | str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (committed with the change it describes)."""
    entry = AuditEntry(
        actor_id=None if isinstance(actor, str) else actor.id,
        actor=actor if isinstance(actor, str) else actor.email,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=jsonable_encoder(before) if before is not None else None,
        after=jsonable_encoder(after) if after is not None else None,
    )
    session.add(entry)
    return entry


def record_change(
    session: AsyncSession,
    *,
    actor: Actor | str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Record what changed between two snapshots, if anything did; True when it did.

    `context` (e.g. which person of a case) is written on both sides of the entry."""
    old, new = changed(before, after)
    if not new:
        return False
    record(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before={**(context or {}), **old},
        after={**(context or {}), **new},
    )
    return True


async def list_entries(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[AuditEntry], int]:
    """Newest first, optionally for one entity."""
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    ordered = query.order_by(AuditEntry.id.desc())
    return await page_of(session, query, order=ordered, limit=limit, offset=offset)
