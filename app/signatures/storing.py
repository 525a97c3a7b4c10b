"""Storing a new signature: the statements of the signing hot path, built once.

A statement built per request costs more to build and to look up in SQLAlchemy's compiled
cache than to run. On PostgreSQL the supporter (found or made), the signature and its event
are one statement; elsewhere, and when a concurrent first signature of the same address wins a
race, three statements in the caller's transaction.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, exists, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from app.campaigns.models import Campaign, CampaignStatus
from app.signatures.models import Signature, SignatureEvent, SignatureStatus, Supporter

S = SignatureStatus

_SIGNATURE_VALUES = (
    "campaign_id",
    "status",
    "status_changed_at",
    "name",
    "city",
    "country",
    "message",
    "source",
    "needs_review",
    "review_note",
    "consent_version",
    "consent_text",
    "consented_at",
    "expires_at",
    "mails_sent",
    "mail_due_at",
    "created_at",
)


def _insert_unless_present(dialect: str, entity: Any, *unique: str) -> Insert:
    """INSERT that does nothing when a row with the same `unique` columns exists: race-free
    (PostgreSQL waits for a concurrent insert of the same key to commit or roll back; SQLite
    has one writer), and one statement where a lookup, a SAVEPOINT and an insert took four."""
    if dialect == "postgresql":
        return postgresql.insert(entity).on_conflict_do_nothing(index_elements=unique)
    if dialect == "sqlite":
        return sqlite.insert(entity).on_conflict_do_nothing(index_elements=unique)
    raise NotImplementedError(f"no insert-unless-present for {dialect}")


@cache
def _new_supporter(dialect: str) -> Insert:
    return _insert_unless_present(dialect, Supporter, "email_key")


def _insert_signature(dialect: str, supporter_id: Any, *where: Any) -> Insert:
    """A new signature of `supporter_id` (a column or a subquery), only if the campaign is open —
    checked by the INSERT itself, so a campaign closed a moment ago takes no more — and the
    supporter has not signed it yet."""
    table = Signature.__table__
    campaign_open = exists().where(
        Campaign.id == bindparam("campaign_id"), Campaign.status == CampaignStatus.open
    )
    row = select(
        supporter_id, *[bindparam(name, type_=table.c[name].type) for name in _SIGNATURE_VALUES]
    ).where(campaign_open, *where)
    return _insert_unless_present(dialect, Signature, "campaign_id", "supporter_id").from_select(
        ["supporter_id", *_SIGNATURE_VALUES], row
    )


@cache
def _new_signature(dialect: str) -> ExecutableReturnsRows:
    # The supporter by key, in the same statement: one statement (and for SQLite, one lock
    # held shorter) fewer than reading their id first. None if erased meanwhile: no row.
    supporter = select(Supporter.id).where(Supporter.email_key == bindparam("email_key"))
    supporter_id = supporter.scalar_subquery()
    insert_row = _insert_signature(dialect, supporter_id, supporter_id.is_not(None))
    # Loaded as an entity, the row becomes an object in the session: changes a caller makes
    # to it afterwards are flushed with the request's commit.
    return select(Signature).from_statement(insert_row.returning(*Signature.__table__.c))


@cache
def _sign_in_one_statement() -> ExecutableReturnsRows:
    """PostgreSQL: the supporter (found or created), the new signature and its event in one
    statement — one round trip instead of three. Data-modifying CTEs see the database as the
    statement began, so a concurrent first signature of the same address that committed while
    this one waited leaves it no supporter row: it then returns no row, like a refused insert,
    and `store_new` retries step by step, each statement seeing the latest rows."""
    new_supporter = (
        _insert_unless_present("postgresql", Supporter, "email_key")
        .values(
            email_key=bindparam("email_key"),
            email=bindparam("email"),
            mails_in_window=0,
            created_at=bindparam("created_at"),
        )
        .returning(Supporter.id)
        .cte("new_supporter")
    )
    supporter = union_all(  # one row: the new supporter, or the one already there
        select(new_supporter.c.id),
        select(Supporter.id).where(Supporter.email_key == bindparam("email_key")),
    ).cte("supporter")
    new_signature = (
        _insert_signature("postgresql", supporter.c.id)
        .returning(*Signature.__table__.c)
        .cte("new_signature")
    )
    event = insert(SignatureEvent).from_select(
        ["signature_id", "at", "to_status", "detail"],
        select(
            new_signature.c.id,
            new_signature.c.created_at,
            literal(S.pending.value),
            bindparam("event_detail", type_=SignatureEvent.detail.type),
        ),
    )
    return select(Signature).from_statement(select(new_signature).add_cte(event.cte("event")))


async def store_new(
    session: AsyncSession, values: dict[str, Any], *, key: str, email: str, detail: str
) -> Signature | None:
    """The new pending signature with its event; None if the campaign is not open or the
    supporter had signed it already."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        params = {**values, "email_key": key, "email": email, "event_detail": detail}
        signature: Signature | None = await session.scalar(_sign_in_one_statement(), params)
        if signature is not None:
            return signature
    await session.execute(
        _new_supporter(dialect),
        {
            "email_key": key,
            "email": email,
            "created_at": values["created_at"],
            "mails_in_window": 0,
        },
    )
    signature = await session.scalar(_new_signature(dialect), {**values, "email_key": key})
    if signature is not None:
        await session.execute(
            insert(SignatureEvent),
            {
                "signature_id": signature.id,
                "at": signature.created_at,
                "to_status": S.pending.value,
                "detail": detail,
            },
        )
    return signature
