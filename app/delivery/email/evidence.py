"""The proof that an e-mail was handed over: one row per accepted attempt, written by the e-mail
round in the same transaction that marks the delivery sent.

A row keeps what the transport's receipt shows (`transport.Receipt`): the SHA-256 of the exact
bytes sent and those bytes (zlib), the DKIM signature they carry, the server as configured and
the address actually connected, each reply of the SMTP transaction with its time, and the final
reply (a relay's `250` names its queue id). The bytes contain the supporter's name and letter:
erasing the supporter empties them (`erase_content`) and keeps the hash, so the record still
proves what was sent to whoever holds a copy. The dossiers that gather these rows for staff and
courts are `app/evidence/`, above every domain they read; this table sits here because the
round that writes it must not import upward.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.delivery.email.transport import Receipt
from app.delivery.models import Delivery
from app.letters.models import Letter

ERASED_NOTE = "content erased on the supporter's request"


class SendEvidence(Base):
    __tablename__ = "send_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="RESTRICT"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64))  # of the exact bytes sent
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # zlib; None once erased
    content_note: Mapped[str | None] = mapped_column(Text)  # why the content is gone
    server: Mapped[str | None] = mapped_column(String(300))  # host:port as configured
    peer: Mapped[str | None] = mapped_column(String(100))  # the address connected to
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    code: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)  # the final reply's text
    dkim_signature: Mapped[str | None] = mapped_column(Text)
    outbox_file: Mapped[str | None] = mapped_column(String(500))


def transcript_of(receipt: Receipt) -> list[dict[str, Any]]:
    """The transaction's replies as JSON: command, code, text, ISO time (UTC)."""
    return [
        {"command": r.command, "code": r.code, "text": r.text, "at": r.at.isoformat()}
        for r in receipt.transcript
    ]


async def record(
    connection: AsyncConnection, *, delivery_id: int, attempt: int, receipt: Receipt, at: datetime
) -> None:
    """Keep `receipt` as the evidence of `delivery_id`'s accepted `attempt` (one statement)."""
    await connection.execute(
        insert(SendEvidence).values(
            delivery_id=delivery_id,
            attempt=attempt,
            sent_at=at,
            sha256=receipt.sha256,
            size=len(receipt.data),
            content=zlib.compress(receipt.data),
            server=receipt.server,
            peer=receipt.peer,
            transcript=transcript_of(receipt),
            code=receipt.code,
            answer=receipt.answer,
            dkim_signature=receipt.dkim_signature,
            outbox_file=receipt.file,
        )
    )


@asynccontextmanager
async def atomic(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """One transaction around the outcome and its evidence. The round's PostgreSQL connection
    runs in autocommit (one round trip per outcome), so there the transaction is the driver's;
    elsewhere the statement connection is already inside one."""
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    if connection.dialect.driver != "asyncpg" or options.get("isolation_level") != "AUTOCOMMIT":
        yield connection
        return
    driver: Any = (await connection.get_raw_connection()).driver_connection
    async with driver.transaction():
        yield connection


def content_of(evidence: SendEvidence) -> bytes | None:
    """The exact bytes sent, or None once erased."""
    return None if evidence.content is None else zlib.decompress(evidence.content)


async def of_deliveries(
    session: AsyncSession, *, delivery_ids: Sequence[int]
) -> Sequence[SendEvidence]:
    rows = await session.scalars(
        select(SendEvidence)
        .where(SendEvidence.delivery_id.in_(delivery_ids))
        .order_by(SendEvidence.sent_at, SendEvidence.id)
    )
    return rows.all()


async def erase_content(session: AsyncSession, *, signature_ids: Sequence[int]) -> int:
    """Empty the bytes kept of these signatures' letters' e-mails (the hash and the transaction
    stay, with a note saying why); returns how many rows were emptied. Part of erasing a
    supporter (`app.signatures.flows.erase`)."""
    result = await session.execute(
        update(SendEvidence)
        .where(
            SendEvidence.delivery_id.in_(
                select(Delivery.id)
                .join(Letter, Letter.id == Delivery.letter_id)
                .where(Letter.signature_id.in_(signature_ids))
            ),
            SendEvidence.content.is_not(None),
        )
        .values(content=None, content_note=ERASED_NOTE)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
