"""Confirmation and reminder e-mails: claimed under a lease, sent, recorded.

Signing writes the mail's state on the signature (due time, count); `run_mail_round` claims
due signatures (PostgreSQL: `FOR UPDATE SKIP LOCKED`), issues fresh link tokens, sends through
the delivery engine's transport outside any transaction, and records the outcome only while it
still holds the lease. At most two mails per signature (the second a reminder after
`confirmation_reminder_hours`), and at most `confirmation_mails_per_address_per_day` to one
address whatever it signed: a stranger's address cannot be mail-bombed through our form. The
same round purges signatures never confirmed. A mail is written in the language the supporter
signed in (the language of the consent statement they accepted), and its links keep it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery.email import Outgoing, SendError, Transport
from app.signatures import consent, service
from app.signatures.models import Signature, SignatureStatus, Supporter, TokenPurpose
from app.web import i18n
from app.web.pages import templates

log = logging.getLogger(__name__)
RETRY_AFTER_TEMPORARY_FAILURE = timedelta(minutes=10)
# The pages' templates and translations, without HTML escaping: these mails are plain text.
_MAIL_TEMPLATES = templates.env.overlay(autoescape=False)


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    signature_id: int
    outgoing: Outgoing


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
    language: str = i18n.SOURCE,
) -> Outgoing:
    """The confirmation (or reminder) e-mail in `language`; header values are checked by the
    SMTP policy."""
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
    domain = settings.mail_domain
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        display_name=settings.organisation_name,
        addr_spec=f"{settings.campaign_mailbox}@{domain}",
    )
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = str(getattr(module, "subject", "")).strip()
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<confirm-{secrets.token_hex(12)}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(module).strip() + "\n")
    return Outgoing(message, f"{settings.campaign_mailbox}@{domain}", to_address)


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
) -> int:
    """Purge expired signatures, then claim, send and record due confirmation mails; returns
    how many mails were tried."""
    owner = owner or mailer_name()
    async with sessionmaker() as session, session.begin():
        purged = await service.purge_expired(session, now)
    if purged:
        log.info("purged %d unconfirmed signatures past expiry", purged)
    claimed = await _claim(sessionmaker, settings, now=now, limit=limit, owner=owner)
    for item in claimed:
        try:
            answer = await transport.send(item.outgoing)
        except SendError as exc:
            await _record(sessionmaker, settings, item, owner, now=now, error=exc)
        else:
            await _record(sessionmaker, settings, item, owner, now=now, answer=answer)
    return len(claimed)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    limit: int,
    owner: str,
) -> list[ClaimedMail]:
    due = and_(
        Signature.status == SignatureStatus.pending,
        Signature.mail_due_at <= now,
        Signature.expires_at > now,
        Signature.mails_sent < service.MAX_CONFIRMATION_MAILS,
        or_(Signature.mail_lease_expires_at.is_(None), Signature.mail_lease_expires_at < now),
    )
    async with sessionmaker() as session, session.begin():
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
            return []
        rows = (
            await session.execute(
                select(Signature, Campaign.title)
                .join(Campaign, Campaign.id == Signature.campaign_id)
                .where(Signature.id.in_(ids))
                .order_by(Signature.id)
            )
        ).all()
        supporter_ids = sorted({signature.supporter_id for signature, _ in rows})
        supporters = {
            s.id: s
            for s in await session.scalars(
                select(Supporter)
                .where(Supporter.id.in_(supporter_ids))
                .order_by(Supporter.id)
                .with_for_update()  # the daily count is read and written here
            )
        }
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
            confirm = service.issue_token(session, signature, TokenPurpose.confirm, now=now)
            status = service.issue_token(session, signature, TokenPurpose.status, now=now)
            base = settings.public_url.rstrip("/")
            language = consent.language_of(signature.consent_version)
            language = language if language in i18n.LANGUAGES else i18n.SOURCE
            lang = "" if language == i18n.SOURCE else f"?lang={language}"
            try:
                outgoing = confirmation_message(
                    to_address=supporter.email,
                    name=signature.name,
                    campaign_title=title,
                    confirm_url=f"{base}/confirm/{confirm}{lang}",
                    status_url=f"{base}/s/{status}{lang}",
                    reminder=signature.mails_sent > 0,
                    expires_at=signature.expires_at,
                    settings=settings,
                    language=language,
                )
            except (ValueError, LookupError, MessageError) as exc:
                # A header this mail cannot carry (a title stored before the API refused line
                # breaks, an address the mail package rejects): this mail fails, the round goes on.
                _unsendable(session, signature, exc, now=now)
                continue
            supporter.mails_in_window += 1
            signature.mail_lease_owner = owner
            signature.mail_lease_expires_at = now + timedelta(seconds=settings.lease_seconds)
            claimed.append(ClaimedMail(signature.id, outgoing))
        return claimed


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


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    item: ClaimedMail,
    owner: str,
    *,
    now: datetime,
    answer: str | None = None,
    error: SendError | None = None,
) -> None:
    async with sessionmaker() as session, session.begin():
        signature = await session.get(Signature, item.signature_id, with_for_update=True)
        if signature is None or signature.mail_lease_owner != owner:
            log.warning("signature %s: mail lease lost before recording", item.signature_id)
            return
        signature.mail_lease_owner = None
        signature.mail_lease_expires_at = None
        pending = signature.status is SignatureStatus.pending
        if error is None:
            signature.mails_sent += 1
            signature.last_mail_at = now
            signature.last_mail_error = None
            more = pending and signature.mails_sent < service.MAX_CONFIRMATION_MAILS
            reminder = timedelta(hours=settings.confirmation_reminder_hours)
            signature.mail_due_at = now + reminder if more else None
            detail = f"confirmation mail {signature.mails_sent} sent: {answer}"
        elif error.temporary:
            signature.last_mail_error = error.detail
            signature.mail_due_at = now + RETRY_AFTER_TEMPORARY_FAILURE if pending else None
            detail = f"confirmation mail delayed ({error.code}): {error.detail}"
        else:
            signature.last_mail_error = error.detail
            signature.mail_due_at = None
            detail = f"confirmation mail refused ({error.code}): {error.detail}"
        status = signature.status.value
        service.record(session, signature, from_status=status, to=status, now=now, detail=detail)
