"""Confirmation and reminder e-mails: claimed under a lease, sent, recorded.

Signing writes the mail's state on the signature (due time, count); `run_mail_round` claims
due signatures (PostgreSQL: `FOR UPDATE SKIP LOCKED`), issues fresh link tokens, sends through
the delivery engine's transport outside any transaction, and records the outcome only while it
still holds the lease. At most two mails per signature (the second a reminder after
`confirmation_reminder_hours`), and at most `confirmation_mails_per_address_per_day` to one
address whatever it signed: a stranger's address cannot be mail-bombed through our form. The
same round purges signatures never confirmed. A mail is written in the language the supporter
signed in (the language of the consent statement they accepted), and its links keep it.
The failures follow the policy of every mail we send (`app/delivery/email/policy.py`): sends
end before the lease does, the rest handed back unspent; a temporary failure waits on the retry
schedule and is given up after `retry_give_up_days`; a refused login or broken TLS pauses the
e-mail channel, and nothing is claimed while it is paused; and each mail carries a bounce token
(`app/signatures/bounces.py`) in its envelope sender and Message-ID.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery.email import Outgoing, Transport, policy
from app.signatures import bounces, consent, service
from app.signatures.bounces import MailRef
from app.signatures.mail_outcomes import ClaimedMail, Outcomes
from app.signatures.models import (
    Signature,
    SignatureStatus,
    Supporter,
    TokenPurpose,
)
from app.web import i18n
from app.web.pages import templates

log = logging.getLogger(__name__)
# The pages' templates and translations, without HTML escaping: these mails are plain text.
_MAIL_TEMPLATES = templates.env.overlay(autoescape=False)
_RNG = random.Random()  # noqa: S311 - jitter, not security


def confirmation_message(
    *,
    to_address: str,
    name: str,
    campaign_title: str,
    confirm_url: str,
    status_url: str,
    reminder: bool,
    expires_at: datetime,
    settings: Settings,
    mail: MailRef,
    language: str = i18n.SOURCE,
) -> Outgoing:
    """The confirmation (or reminder) e-mail in `language`, carrying `mail`'s bounce token;
    header values are checked by the SMTP policy."""
    template = _MAIL_TEMPLATES.get_template("public/mail/confirmation.txt")
    with i18n.using(language):
        module = template.make_module(
            {
                "name": name,
                "campaign_title": campaign_title,
                "confirm_url": confirm_url,
                "status_url": status_url,
                "reminder": reminder,
                "expires_on": expires_at.date().isoformat(),
                "organisation": settings.organisation_name,
            }
        )
    domain, secret = settings.mail_domain, settings.token_secret
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        display_name=settings.organisation_name,
        addr_spec=f"{settings.campaign_mailbox}@{domain}",
    )
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = str(getattr(module, "subject", "")).strip()
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = bounces.message_id(mail, secret=secret, domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(module).strip() + "\n")
    envelope_from = bounces.envelope_sender(mail, secret=secret, domain=domain)
    return Outgoing(message, envelope_from, to_address)


def mailer_name() -> str:
    return f"mail:{socket.gethostname()}:{os.getpid()}"


async def run_mail_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    transport: Transport,
    settings: Settings,
    *,
    now: datetime,
    limit: int = 50,
    owner: str | None = None,
    rng: random.Random = _RNG,
) -> int:
    """Purge expired signatures, then claim, send and record due confirmation mails; returns
    how many mails were tried, and logs the round as one line when it claimed any."""
    owner = owner or mailer_name()
    async with sessionmaker() as session, session.begin():
        purged = await service.purge_expired(session, now)
    if purged:
        log.info("purged %d unconfirmed signatures past expiry", purged)
    deadline = policy.deadline(settings)
    claimed = await _claim(sessionmaker, settings, now=now, limit=limit, owner=owner)
    outcomes = Outcomes(sessionmaker, settings, owner=owner, now=now, rng=rng)
    await policy.send_all(
        claimed,
        transport=transport,
        deadline=deadline,
        accepted=outcomes.accepted,
        failed=outcomes.failed,
        hand_back=outcomes.hand_back,
    )
    outcomes.tally.claimed = len(claimed)
    if (line := outcomes.tally.line(f"{owner}: confirmation mail round")) is not None:
        log.info(line)
    return len(claimed)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    limit: int,
    owner: str,
) -> list[ClaimedMail]:
    async with sessionmaker() as session, session.begin():
        if await policy.paused(session, now=now):
            return []  # our settings are wrong: nothing goes until they are fixed
        rows, supporters = await _due(session, now=now, limit=limit)
        claimed = []
        for signature, title in rows:
            supporter = supporters[signature.supporter_id]
            if supporter.email is None:
                signature.mail_due_at = None
                continue
            if not _within_daily_cap(supporter, settings, now):
                assert supporter.mail_window_start is not None
                signature.mail_due_at = supporter.mail_window_start + timedelta(days=1)
                continue
            outgoing = _written(session, signature, supporter.email, title, settings, now=now)
            if outgoing is None:
                continue
            supporter.mails_in_window += 1
            signature.mail_lease_owner = owner
            signature.mail_lease_expires_at = now + timedelta(seconds=settings.lease_seconds)
            claimed.append(ClaimedMail(signature.id, outgoing))
        return claimed


async def _due(
    session: AsyncSession, *, now: datetime, limit: int
) -> tuple[Sequence[Row[Signature, str]], dict[int, Supporter]]:
    """Up to `limit` signatures whose mail is due, locked (on PostgreSQL, skipping those
    another round has locked), with their campaign's title; and their supporters, locked."""
    due = and_(
        Signature.status == SignatureStatus.pending,
        Signature.mail_due_at <= now,
        Signature.expires_at > now,
        Signature.mails_sent < service.MAX_CONFIRMATION_MAILS,
        or_(Signature.mail_lease_expires_at.is_(None), Signature.mail_lease_expires_at < now),
    )
    ids = (
        await session.scalars(
            select(Signature.id)
            .where(due)
            .order_by(Signature.mail_due_at, Signature.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not ids:
        return [], {}
    rows = (
        await session.execute(
            select(Signature, Campaign.title)
            .join(Campaign, Campaign.id == Signature.campaign_id)
            .where(Signature.id.in_(ids))
            .order_by(Signature.id)
        )
    ).all()
    supporters = await session.scalars(
        select(Supporter)
        .where(Supporter.id.in_(sorted({signature.supporter_id for signature, _ in rows})))
        .order_by(Supporter.id)
        .with_for_update()  # the daily count is read and written here
    )
    return rows, {supporter.id: supporter for supporter in supporters}


def _written(
    session: AsyncSession,
    signature: Signature,
    address: str,
    title: str,
    settings: Settings,
    *,
    now: datetime,
) -> Outgoing | None:
    """The mail now due for `signature`, with fresh links; None if it cannot be written."""
    confirm = service.issue_token(session, signature, TokenPurpose.confirm, now=now)
    status = service.issue_token(session, signature, TokenPurpose.status, now=now)
    base = settings.public_url.rstrip("/")
    language = consent.language_of(signature.consent_version)
    language = language if language in i18n.LANGUAGES else i18n.SOURCE
    lang = "" if language == i18n.SOURCE else f"?lang={language}"
    try:
        return confirmation_message(
            to_address=address,
            name=signature.name,
            campaign_title=title,
            confirm_url=f"{base}/confirm/{confirm}{lang}",
            status_url=f"{base}/s/{status}{lang}",
            reminder=signature.mails_sent > 0,
            expires_at=signature.expires_at,
            settings=settings,
            mail=MailRef(signature.id, signature.mails_sent + 1),
            language=language,
        )
    except (ValueError, LookupError, MessageError) as exc:
        # A header this mail cannot carry (a title stored before the API refused line
        # breaks, an address the mail package rejects): this mail fails, the round goes on.
        _unsendable(session, signature, exc, now=now)
        return None


def _unsendable(
    session: AsyncSession, signature: Signature, exc: Exception, *, now: datetime
) -> None:
    """Give up on `signature`'s confirmation mail, which cannot be written; say why."""
    # The reason names the header, never its value: that may hold the supporter's name.
    reason = str(exc).split(":", 1)[0] if isinstance(exc, ValueError) else type(exc).__name__
    signature.mail_due_at = None
    signature.last_mail_error = f"the mail could not be written ({reason})"
    status = signature.status.value
    detail = f"confirmation mail not sent: it could not be written ({reason})"
    service.record(session, signature, from_status=status, to=status, now=now, detail=detail)
    log.warning("signature %s: confirmation mail could not be written (%s)", signature.id, reason)


def _within_daily_cap(supporter: Supporter, settings: Settings, now: datetime) -> bool:
    start = supporter.mail_window_start
    if start is None or now - start >= timedelta(days=1):
        supporter.mail_window_start = now
        supporter.mails_in_window = 0
    return supporter.mails_in_window < settings.confirmation_mails_per_address_per_day
