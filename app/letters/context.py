"""The data a letter template sees: plain dicts and strings built from cases and offices.

Nothing here is an ORM object or has side effects: a template cannot reach the database, the
settings or anything else through its context.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from babel.dates import format_date

from app.campaigns.models import Campaign
from app.cases.models import Case
from app.letters.schemas import SenderIn
from app.recipients.models import Recipient

_LOCALES = {"en": "en_GB"}  # European date order in English letters: 25 November 2026


def format_day(day: date, language: str) -> str:
    return format_date(day, format="long", locale=_LOCALES.get(language, language))


def case_data(case: Case, *, language: str) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "category": case.category.value,
        "region": case.region,
        "summary": case.summary,
        "as_of": format_day(case.as_of, language),
        "source": dict(case.source),
        "key_dates": [dict(d) for d in case.key_dates],
        "asks": [dict(a) for a in case.asks],
        "people": [
            {
                "name": p.name,
                "role": p.role,
                "place": p.place,
                "status": p.status.value,
                "status_note": p.status_note,
                "sentence": p.sentence,
                "sentenced_on": p.sentenced_on,
                "detention_place": p.detention_place,
                "charges": [
                    {"article": c.article, "code": c.code, "wording": c.wording} for c in p.charges
                ],
            }
            for p in case.people
        ],
    }


def holder_is_current(recipient: Recipient, *, today: date, max_age_days: int) -> bool:
    verified = recipient.holder_verified_on
    return (
        recipient.holder is not None
        and verified is not None
        and (today - verified).days <= max_age_days
    )


# An office's salutation is written in its language. When that is a language we write letters
# in but this template has no version in it, the letter falls back to another language and the
# salutation must follow. (Offices in other languages carry a salutation in the fallback.)
FALLBACK_SALUTATIONS = {"en": "Dear Sir or Madam,", "fr": "Madame, Monsieur,"}


def recipient_data(
    recipient: Recipient, *, today: date, max_age_days: int, language: str
) -> dict[str, Any]:
    current = holder_is_current(recipient, today=today, max_age_days=max_age_days)
    salutation = recipient.salutation
    if language != recipient.language and recipient.language in FALLBACK_SALUTATIONS:
        salutation = FALLBACK_SALUTATIONS.get(language, salutation)
    return {
        "id": recipient.id,
        "office": recipient.office,
        "organisation": recipient.organisation,
        # A holder not verified recently is not named: the letter addresses the office.
        "holder": recipient.holder if current else None,
        "salutation": salutation,
        "country": recipient.country,
        "language": recipient.language,
        "tags": recipient.tag_names,
    }


def base_context(
    *,
    campaign: Campaign,
    cases: Sequence[Case],
    case: Case | None,
    recipient: Recipient,
    language: str,
    today: date,
    max_age_days: int,
    organisation: str,
) -> dict[str, Any]:
    """Everything but the sender: the same for every supporter writing to one office."""
    all_cases = [case_data(c, language=language) for c in cases]
    current = next((c for c in all_cases if case is not None and c["id"] == case.id), None)
    return {
        "letter": {"language": language, "date": format_day(today, language)},
        "recipient": recipient_data(
            recipient, today=today, max_age_days=max_age_days, language=language
        ),
        "case": current,
        "cases": all_cases,
        "campaign": {"slug": campaign.slug, "title": campaign.title},
        "organisation": {"name": organisation},
    }


def with_sender(base: dict[str, Any], sender: SenderIn) -> dict[str, Any]:
    return {
        **base,
        "supporter": {
            "name": sender.name,
            "city": sender.city,
            "country": sender.country,
            "message": sender.message,
        },
    }
