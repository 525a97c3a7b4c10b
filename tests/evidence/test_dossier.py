"""Proof of delivery: a letter sent over real SMTP (aiosmtpd on 127.0.0.1) leaves evidence of its
transaction and bytes, its dossier verifies with `appeals evidence verify`, and stops verifying
when one byte changes; personal data only on request; erasure empties the bytes, keeps the hash."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pdfminer.high_level import extract_text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from app.config import Settings
from app.db import utcnow
from app.delivery.email import evidence as sends
from app.delivery.email import make_transport
from app.delivery.email.evidence import SendEvidence
from app.delivery.worker import Worker
from app.evidence import hashing
from app.evidence import service as evidence_service
from app.evidence.commands import evidence_app
from app.letters.models import Letter
from app.signatures import flows
from app.signatures.models import Signature, SignatureStatus, Supporter
from tests.delivery.test_dkim import key_file, published, signing, verifies
from tests.delivery.test_worker import Sink, queued, smtp, smtp_settings, the_delivery
from tests.factories import bearer
from tests.signatures.test_mailer_policy import INBOUND_SECRET, MTA, returned_to_sender

__all__ = ["key_file", "queued", "smtp"]  # fixtures, shared

SUPPORTER = "Ada Lovelace"  # the name `queued` signs with


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, var_dir=tmp_path / "var", inbound_secret=INBOUND_SECRET
    )


async def send_one(
    config: Settings, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> SendEvidence:
    transport = make_transport(config)  # signing when a DKIM key is configured
    try:
        assert await Worker(sessionmaker, config, transport, name="w1").run_once() == 1
    finally:
        await transport.close()
    delivery = await the_delivery(session)
    [row] = await sends.of_deliveries(session, delivery_ids=[delivery.id])
    return row


async def dossier_of(
    client: httpx.AsyncClient, queued: dict[str, Any], *, personal: bool = False
) -> httpx.Response:
    letter_id = queued["letter"]["id"]
    query = "?include_personal=true" if personal else ""
    response = await client.get(
        f"/api/v1/letters/{letter_id}/dossier{query}", headers=bearer(queued["token"])
    )
    assert response.status_code == 200, response.text
    return response


def verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(evidence_app, ["verify", str(path)])
    return result.exit_code, result.output


class TestEvidence:
    async def test_a_letter_sent_over_smtp_keeps_its_transaction_and_bytes(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, sink = smtp
        row = await send_one(smtp_settings(settings, port), sessionmaker, session)
        [(_, _, received)] = sink.messages
        kept = sends.content_of(row)
        assert kept is not None
        assert row.sha256 == hashlib.sha256(kept).hexdigest()
        # What the server received is what we kept (aiosmtpd drops the final line break).
        assert kept.rstrip(b"\r\n") == received.rstrip(b"\r\n")
        assert [(r["command"], r["code"]) for r in row.transcript] == [
            ("MAIL", 250),
            ("RCPT", 250),
            ("DATA", 250),
        ]
        assert all(r["at"].endswith("+00:00") for r in row.transcript)
        assert (row.code, row.answer) == (250, "OK")
        assert row.server == f"{settings.smtp_host}:{port}"
        assert row.peer == f"127.0.0.1:{port}"
        assert row.dkim_signature is None

    async def test_with_dkim_the_signature_is_kept(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        key_file: Path,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        port, _ = smtp
        config = signing(smtp_settings(settings, port), key_file)
        row = await send_one(config, sessionmaker, session)
        assert row.dkim_signature is not None
        assert "d=appeals.example.org" in row.dkim_signature and "s=s2026" in row.dkim_signature
        kept = sends.content_of(row)
        assert kept is not None and verifies(kept, published(config))


class TestDossier:
    async def test_verifies_and_fails_naming_the_item_when_one_byte_changes(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
        tmp_path: Path,
    ) -> None:
        port, _ = smtp
        row = await send_one(smtp_settings(settings, port), sessionmaker, session)
        response = await dossier_of(client, queued)
        dossier = response.json()
        [send] = [i for i in dossier["items"] if i["kind"] == "send"]
        assert send["content"]["sha256"] == row.sha256
        assert send["content"]["final_reply"] == {"code": 250, "text": "OK"}
        assert [i["kind"] for i in dossier["items"]][:3] == ["letter", "delivery", "send"]
        assert hashing.verify(dossier).intact

        path = tmp_path / "dossier.json"
        path.write_bytes(response.content)
        assert verify(path)[0] == 0

        changed = response.content.replace(b'"text":"OK"', b'"text":"OJ"', 1)
        assert changed != response.content
        path.write_bytes(changed)
        code, output = verify(path)
        assert code == 1
        assert f"item send {send['id']}: content changed" in output

        respaced = response.content.replace(b'"format":', b'"format": ', 1)
        path.write_bytes(respaced)
        assert verify(path)[0] == 1  # a changed space, even where no content changed

    async def test_a_changed_header_fails_the_whole(self, tmp_path: Path) -> None:
        dossier = hashing.seal(
            {
                "format": hashing.FORMAT,
                "letter_id": 1,
                "generated_at": "2026-12-04T00:00:00+00:00",
                "personal_data": "omitted",
                "items": [hashing.item("letter", "1", {"subject": "Free them"})],
            }
        )
        tampered = {**dossier, "personal_data": "included"}
        path = tmp_path / "d.json"
        path.write_bytes(hashing.canonical(tampered))
        code, output = verify(path)
        assert code == 1 and "dossier's hash does not match" in output

    async def test_personal_data_only_on_request(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, _ = smtp
        await send_one(smtp_settings(settings, port), sessionmaker, session)
        plain = await dossier_of(client, queued)
        assert SUPPORTER.encode() not in plain.content
        assert b"London" not in plain.content
        assert plain.json()["personal_data"].startswith("omitted")
        full = (await dossier_of(client, queued, personal=True)).json()
        assert full["personal_data"] == "included at staff request"
        [letter] = [i for i in full["items"] if i["kind"] == "letter"]
        assert letter["content"]["sender"]["name"] == SUPPORTER
        [send] = [i for i in full["items"] if i["kind"] == "send"]
        sent = base64.b64decode(send["content"]["bytes_base64"])
        assert hashlib.sha256(sent).hexdigest() == send["content"]["sha256"]
        assert hashing.verify(full).intact

    async def test_a_bounce_after_sending_joins_the_dossier(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, sink = smtp
        config = smtp_settings(settings, port)
        await send_one(config, sessionmaker, session)
        [(mail_from, _, content)] = sink.messages
        bounce = returned_to_sender(
            verp=mail_from, returned=content, recipient="president@pace.example", status="5.1.1"
        )
        answered = await client.post("/api/v1/inbound/email", content=bounce, headers=MTA)
        assert answered.status_code == 200, answered.text
        dossier = (await dossier_of(client, queued)).json()
        [inbound] = [i for i in dossier["items"] if i["kind"] == "inbound"]
        assert inbound["content"]["kind"] == "bounce"
        assert inbound["content"]["dsn_status"] == "5.1.1"
        assert "raw_base64" not in inbound["content"]  # it quotes the letter
        statuses = [
            i["content"]["to_status"] for i in dossier["items"] if i["kind"] == "delivery_event"
        ]
        assert statuses[-1] == "bounced"
        assert hashing.verify(dossier).intact


class TestErasure:
    async def test_erasure_empties_the_bytes_and_keeps_the_hash(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, _ = smtp
        row = await send_one(smtp_settings(settings, port), sessionmaker, session)
        row_id, row_sha256 = row.id, row.sha256
        supporter = await sign_for(session, queued["letter"]["id"])

        await flows.erase(session, supporter=supporter, now=utcnow())
        await session.commit()
        dossier = (await dossier_of(client, queued, personal=True)).json()
        assert dossier["personal_data"] == "erased on the supporter's request"
        [send] = [i for i in dossier["items"] if i["kind"] == "send"]
        assert "bytes_base64" not in send["content"]
        assert SUPPORTER not in json.dumps(dossier)

        # The erasure emptied the bytes itself; doing it again finds nothing left to empty.
        signature_id = (await session.get_one(Letter, queued["letter"]["id"])).signature_id
        assert signature_id is not None
        assert await sends.erase_content(session, signature_ids=[signature_id]) == 0
        session.expire_all()
        kept = await session.scalar(select(SendEvidence).where(SendEvidence.id == row_id))
        assert kept is not None
        assert kept.content is None and kept.sha256 == row_sha256
        assert kept.content_note == sends.ERASED_NOTE

        dossier = (await dossier_of(client, queued, personal=True)).json()
        [send] = [i for i in dossier["items"] if i["kind"] == "send"]
        assert send["content"]["content_note"] == sends.ERASED_NOTE
        assert send["content"]["sha256"] == row_sha256
        assert hashing.verify(dossier).intact


async def sign_for(session: AsyncSession, letter_id: int) -> Supporter:
    """Make the staff-written letter a supporter's (as if they had signed and confirmed)."""
    letter = await session.get_one(Letter, letter_id)
    now = utcnow()
    supporter = Supporter(email="ada@example.org", email_key="k" * 64)
    session.add(supporter)
    await session.flush()
    signature = Signature(
        campaign_id=letter.campaign_id,
        supporter_id=supporter.id,
        status=SignatureStatus.confirmed,
        name=SUPPORTER,
        source="api",
        consent_version="test",
        consent_text="test",
        consented_at=now,
        confirmed_at=now,
        expires_at=now,
    )
    session.add(signature)
    await session.flush()
    letter.signature_id = signature.id
    await session.flush()
    return supporter


class TestExport:
    async def test_every_sent_letter_of_the_campaign_gets_a_dossier_that_verifies(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        tmp_path: Path,
    ) -> None:
        port, _ = smtp
        await send_one(smtp_settings(settings, port), sessionmaker, session)
        letter_ids = await evidence_service.letters_with_evidence(session, campaign="mail-test")
        assert letter_ids == [queued["letter"]["id"]]
        written = [
            (letter_id, hashing.canonical(dossier))
            async for letter_id, dossier in evidence_service.campaign_dossiers(
                session, letter_ids=letter_ids, now=utcnow()
            )
        ]
        [(letter_id, data)] = written
        path = tmp_path / f"letter-{letter_id}.json"
        path.write_bytes(data + b"\n")
        assert verify(path)[0] == 0
        assert SUPPORTER.encode() not in data


class TestPdf:
    async def test_shows_the_transaction_and_the_250_reply(
        self,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        port, _ = smtp
        row = await send_one(smtp_settings(settings, port), sessionmaker, session)
        letter_id = queued["letter"]["id"]
        response = await client.get(
            f"/api/v1/letters/{letter_id}/dossier.pdf", headers=bearer(queued["token"])
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        shown = extract_text(io.BytesIO(response.content))
        assert "Final reply: 250 OK" in shown
        assert "RCPT: 250" in shown
        assert row.sha256 in shown
        assert SUPPORTER not in shown
