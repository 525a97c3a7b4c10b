"""Fixtures for public signing: an open campaign, signing helpers, the mail round's outbox."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import OutboxTransport
from app.letters.models import Letter
from app.main import create_app
from app.signatures import consent, tokens
from app.signatures.mailer import run_mail_round
from app.signatures.models import Signature, Supporter
from app.staff.models import Role
from tests.factories import bearer, make_staff

SLUG = "free-bokayev-ayan"
ALWAYS_OPEN = {"office_hours_start": 0, "office_hours_end": 24, "office_days": list(range(7))}
# PACE by e-mail (once staff verify its address) and the UK Prime Minister by post.
OFFICES = ["pace-president", "uk-prime-minister"]


@asynccontextmanager
async def make_client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    app.state.sessionmaker = sessionmaker
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def staff_token(session: AsyncSession) -> str:
    _, token = await make_staff(session, Role.campaigner)
    return token


async def open_campaign(
    client: httpx.AsyncClient, token: str, *, slug: str = SLUG, **overrides: Any
) -> dict[str, Any]:
    body = {
        "slug": slug,
        "title": "Free Maks Bokayev and Talgat Ayan",
        "description": "Two civic activists jailed for a peaceful protest.",
        "cases": ["bokayev-ayan"],
        "targets": {"recipients": OFFICES},
        "template": "individual-appeal",
        "channel_preference": ["email", "postal"],
        "pacing": ALWAYS_OPEN,
        **overrides,
    }
    created = await client.post("/api/v1/campaigns", json=body, headers=bearer(token))
    assert created.status_code == 201, created.text
    opened = await client.patch(
        f"/api/v1/campaigns/{slug}", json={"status": "open"}, headers=bearer(token)
    )
    assert opened.status_code == 200, opened.text
    return dict(opened.json())


@pytest.fixture
async def campaign(client: httpx.AsyncClient, staff_token: str) -> dict[str, Any]:
    """An open individual campaign writing to PACE (e-mail, verified) and the UK (post)."""
    office = (await client.get("/api/v1/recipients/pace-president")).json()
    channel = next(c for c in office["channels"] if c["kind"] == "email")
    verified = await client.patch(
        f"/api/v1/recipients/pace-president/channels/{channel['id']}",
        json={"address": "president@pace.example", "source": "test"},
        headers=bearer(staff_token),
    )
    assert verified.status_code == 200
    return await open_campaign(client, staff_token)


def signature_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "city": "London",
        "country": "United Kingdom",
        "message": "I am a teacher; free speech matters to my pupils.",
        "consent": True,
        "consent_version": consent.CURRENT,
        **overrides,
    }


async def sign(client: httpx.AsyncClient, slug: str = SLUG, **overrides: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/campaigns/{slug}/signatures", json=signature_body(**overrides)
    )


def old_form_token(settings: Settings, slug: str = SLUG, seconds: int = 30) -> str:
    """A form token as if the page had been loaded `seconds` ago (a person's fill time)."""
    return tokens.form_token(
        slug, settings.token_secret, issued_at=utcnow() - timedelta(seconds=seconds)
    )


def form_body(settings: Settings, **overrides: str) -> dict[str, str]:
    return {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "city": "London",
        "country": "United Kingdom",
        "message": "",
        "consent": "yes",
        "consent_version": consent.CURRENT,
        "website": "",
        "form_token": old_form_token(settings),
        **overrides,
    }


@dataclass
class Mail:
    message: EmailMessage
    text: str

    def link(self, kind: str) -> str:
        """The path of the confirm (`/confirm/`) or status (`/s/`) link in the mail."""
        found = re.search(rf"https?://[^/\s]+(/{kind}/[A-Za-z0-9_-]+)", self.text)
        assert found, self.text
        return found.group(1)


class Outbox:
    """The mail round writing .eml files to a folder, and the mails read back."""

    def __init__(
        self, folder: Path, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self.folder = folder
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.seen: set[Path] = set()

    async def round(self, now: datetime | None = None) -> list[Mail]:
        """Run one mail round at `now`; returns the mails it wrote."""
        await run_mail_round(
            self.sessionmaker, OutboxTransport(self.folder), self.settings, now=now or utcnow()
        )
        new = sorted(set(self.folder.glob("*.eml")) - self.seen) if self.folder.exists() else []
        self.seen.update(new)
        mails = []
        for path in new:
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            mails.append(Mail(message, message.get_content()))
        return mails


@pytest.fixture
def outbox(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Outbox:
    return Outbox(tmp_path / "outbox", sessionmaker, settings)


async def count(session: AsyncSession, model: type[Any], *where: Any) -> int:
    session.expire_all()
    total = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(total or 0)


async def the_signature(session: AsyncSession, address: str = "ada@example.org") -> Signature:
    session.expire_all()
    signature = await session.scalar(
        select(Signature)
        .join(Supporter, Supporter.id == Signature.supporter_id)
        .where(Supporter.email == address)
    )
    assert signature is not None
    return signature


async def letters_of(session: AsyncSession, signature_id: int) -> list[Letter]:
    session.expire_all()
    rows = await session.scalars(
        select(Letter).where(Letter.signature_id == signature_id).order_by(Letter.id)
    )
    return list(rows)
