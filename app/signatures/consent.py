"""The consent statements, versioned: a signature records the exact text its supporter saw.

A statement is never edited in place: a change is a new version, and the form shows (and the
API expects) the current one. Old versions stay so that old consent records keep their meaning.

Each language has its own versions, `<version>.<language>` (English keeps the bare version):
the text is legal wording, so it lives here, reviewed and versioned, not in the message
catalogues a translator may edit. A corrected translation is a new version too. The version a
signature records therefore also says which language its supporter signed in.

Consent withdrawn is final: `withdrawn_reason` says why a letter must never go out, and the
composition root (app.main) hands it to delivery, whose staff actions would otherwise send it.
"""

from __future__ import annotations

from babel import Locale
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput
from app.letters.models import Letter
from app.signatures.models import Signature, SignatureStatus

STATEMENTS: dict[str, str] = {
    "2026-1": (
        "I agree that {organisation} keeps my name, e-mail address, city, country and personal "
        "paragraph to send letters in my name about this campaign to the offices listed on "
        "this page, and to show me what happened to them. I understand that my signature "
        "shows a political opinion. My e-mail address is never shown to anyone. I can withdraw "
        "my signature or erase my data at any time with the link in my confirmation e-mail; "
        "unconfirmed signatures are deleted after {days} days."
    ),
    "2026-1.ru": (
        "Я даю согласие на то, что {organisation} хранит моё имя, адрес электронной почты, "
        "город, страну и личное дополнение к письму, чтобы отправлять от моего имени письма "
        "по этой кампании адресатам, перечисленным на этой странице, и показывать мне, что "
        "стало с этими письмами. Я понимаю, что моя подпись свидетельствует о моих "
        "политических взглядах. Мой адрес электронной почты никому и никогда не показывается. "
        "Я могу в любой момент отозвать свою подпись или удалить свои данные по ссылке из "
        "электронного письма с подтверждением; неподтверждённые подписи удаляются через "
        "{days} {days_unit}."
    ),
}
CURRENT = "2026-1"  # English: what the API shows and expects
# The current statement in each language the pages are offered in.
CURRENT_BY_LANGUAGE = {"en": CURRENT, "ru": "2026-1.ru"}
# "{days} {days_unit}": the noun agrees with the number (1 день, 3 дня, 7 дней).
_DAY_UNITS = {"ru": {"one": "день", "few": "дня", "many": "дней", "other": "дня"}}


def current(language: str) -> str:
    """The current version in `language` (English if the language has none)."""
    return CURRENT_BY_LANGUAGE.get(language, CURRENT)


def is_current(version: str) -> bool:
    return version in CURRENT_BY_LANGUAGE.values()


def language_of(version: str) -> str:
    """The language a version is written in: the part after the dot, English without one."""
    return version.partition(".")[2] or "en"


def statement(version: str, *, organisation: str, days: int) -> str:
    """The exact text of `version` as shown to supporters of this organisation."""
    try:
        template = STATEMENTS[version]
    except KeyError:
        raise InvalidInput(f"unknown consent statement version {version!r}") from None
    language = language_of(version)
    units = _DAY_UNITS.get(language, {})
    unit = units.get(Locale.parse(language).plural_form(days), "") if units else ""
    return template.format(organisation=organisation, days=days, days_unit=unit)


async def withdrawn_reason(session: AsyncSession, letter_id: int) -> str | None:
    """Why the letter `letter_id` must never go out (its supporter withdrew or erased), or None.

    Matches `delivery.service.ConsentCheck`."""
    row = (
        await session.execute(
            select(Signature.status, Signature.erased_at)
            .join(Letter, Letter.signature_id == Signature.id)
            .where(Letter.id == letter_id)
        )
    ).first()
    if row is None:  # a digest or a staff-made letter: no one supporter's consent to check
        return None
    status, erased_at = row
    if erased_at is not None:
        return "the supporter erased their data; consent withdrawn is final, so it is never sent"
    if status is SignatureStatus.withdrawn:
        return "the supporter withdrew their signature; consent withdrawn is final"
    return None
