"""Public pages and e-mails in Russian: the catalogue, language negotiation, signing in Russian."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PROJECT_ROOT, Settings
from app.db import utcnow
from app.signatures import consent
from app.web import i18n
from tests.signatures.conftest import SLUG, Outbox, form_body, open_campaign, the_signature

CATALOGUE_DIR = PROJECT_ROOT / "app" / "translations"
RU_PO = CATALOGUE_DIR / "ru" / "LC_MESSAGES" / "messages.po"
UNTRANSLATED = {"Appeals"}  # the name stays as it is


def _extracted() -> set[str | tuple[str, ...]]:
    """Every message the templates and code mark today, extracted as `pybabel extract` does."""
    with (PROJECT_ROOT / "app" / "translations" / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(PROJECT_ROOT, method_map, options_map):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _ids(path: Any) -> set[str | tuple[str, ...]]:
    with path.open("rb") as f:
        catalog = read_po(f)
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


class TestCatalogue:
    def test_the_russian_catalogue_compiles_complete_and_without_errors(self) -> None:
        with RU_PO.open("rb") as f:
            catalog = read_po(f, locale="ru")
        problems = [(m.id, errors) for m, errors in catalog.check() if errors]
        assert problems == []  # e.g. a %(name)s placeholder lost in translation
        assert catalog.num_plurals == 3
        for message in catalog:
            if not message.id:
                continue
            assert not message.fuzzy, message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings), f"untranslated: {message.id!r}"
            if message.id not in UNTRANSLATED:
                assert all(re.search("[а-яё]", s, re.I) for s in strings), message.id
        write_mo(io.BytesIO(), catalog)

    def test_every_marked_message_is_in_the_template_and_the_catalogue_and_none_left_over(
        self,
    ) -> None:
        marked = _extracted()
        assert "Sign: %(title)s" in marked  # from Python code, not only templates
        assert "Please fill this in." in marked  # a field error
        assert _ids(CATALOGUE_DIR / "messages.pot") == marked, "run pybabel extract (README)"
        assert _ids(RU_PO) == marked, "run pybabel update (README) and translate"


class TestConsentStatements:
    def test_each_language_has_a_current_version_that_names_its_language(self) -> None:
        assert consent.current("en") == consent.CURRENT == "2026-1"
        assert consent.current("ru") == "2026-1.ru"
        assert consent.current("xx") == consent.CURRENT
        assert consent.language_of("2026-1.ru") == "ru"
        assert consent.language_of("2026-1") == "en"
        assert all(consent.is_current(v) for v in consent.CURRENT_BY_LANGUAGE.values())

    @pytest.mark.parametrize(
        ("days", "words"), [(1, "1 день"), (3, "3 дня"), (7, "7 дней"), (21, "21 день")]
    )
    def test_the_russian_statement_agrees_with_the_number_of_days(
        self, days: int, words: str
    ) -> None:
        text = consent.statement("2026-1.ru", organisation="Appeals", days=days)
        assert text.endswith(f"удаляются через {words}.")
        assert text.startswith("Я даю согласие на то, что Appeals хранит")


class TestNegotiation:
    async def test_lang_ru_renders_the_campaign_page_in_russian(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        page = await client.get(f"/c/{SLUG}", params={"lang": "ru"})
        html = page.text
        assert page.status_code == 200
        assert '<html lang="ru">' in html
        assert "Подписать письмо" in html and "Почему это важно" in html
        assert "Подписали 0 человек." in html
        assert "Sign the letter" not in html and "Why it matters" not in html
        statement = consent.statement(
            "2026-1.ru",
            organisation=settings.organisation_name,
            days=settings.confirmation_expiry_days,
        )
        assert statement in html  # the Russian statement, verbatim
        assert 'name="consent_version" value="2026-1.ru"' in html
        # A chosen language travels on: the form, the office choice and the home link keep it.
        assert f'action="/c/{SLUG}?lang=ru#sign"' in html
        assert '<input type="hidden" name="lang" value="ru">' in html
        assert 'href="/?lang=ru"' in html

    async def test_the_page_says_in_which_language_each_office_gets_its_letter(
        self, client: httpx.AsyncClient, staff_token: str
    ) -> None:
        """France has the letter in French; there is none in Italian, so Italy's goes in
        English, the fallback the page names."""
        await open_campaign(
            client,
            staff_token,
            slug="languages",
            targets={"recipients": ["france-prime-minister", "italy-prime-minister"]},
            channel_preference=["postal"],
        )
        english = (await client.get("/c/languages")).text
        assert "otherwise in English." in english
        assert english.count("letter in French") == 1
        assert english.count("letter in English") == 1  # Italy's: no Italian letter
        russian = (await client.get("/c/languages", params={"lang": "ru"})).text
        assert "иначе язык письма — английский." in russian
        assert russian.count("язык письма: французский") == 1

    async def test_accept_language_decides_when_no_language_is_chosen(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        cases = {
            "de-DE,de;q=0.9,ru;q=0.8,en;q=0.5": "ru",
            "ru-RU": "ru",
            "en-GB,ru;q=0.7": "en",
            "ru;q=0, en;q=0.3": "en",
            "fr": "en",
            "": "en",
        }
        for header, expected in cases.items():
            page = await client.get(f"/c/{SLUG}", headers={"Accept-Language": header})
            assert f'<html lang="{expected}">' in page.text, header
            assert f'action="/c/{SLUG}#sign"' in page.text  # the browser decides again next time
        index = await client.get("/", headers={"Accept-Language": "ru"})
        assert "Напишите в защиту людей" in index.text
        assert "0 подтверждённых подписей" in index.text
        assert f'href="/c/{SLUG}"' in index.text

    async def test_lang_wins_over_accept_language_and_an_unknown_one_is_ignored(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        english = await client.get(
            f"/c/{SLUG}", params={"lang": "en"}, headers={"Accept-Language": "ru"}
        )
        assert '<html lang="en">' in english.text and "Sign the letter" in english.text
        unknown = await client.get(
            f"/c/{SLUG}", params={"lang": "xx"}, headers={"Accept-Language": "ru"}
        )
        assert '<html lang="ru">' in unknown.text

    async def test_the_switcher_links_to_this_page_in_the_other_language(
        self, client: httpx.AsyncClient, campaign: dict[str, Any]
    ) -> None:
        page = await client.get(f"/c/{SLUG}", params={"office": "uk-prime-minister"})
        switch = re.search(
            r'<nav class="languages" aria-label="Language">(.*?)</nav>', page.text, re.S
        )
        assert switch, page.text
        assert '<span aria-current="true" lang="en">English</span>' in switch.group(1)
        assert (
            f'<a href="/c/{SLUG}?office=uk-prime-minister&amp;lang=ru" hreflang="ru" lang="ru">'
            "Русский</a>"
        ) in switch.group(1)
        russian = await client.get(f"/c/{SLUG}?office=uk-prime-minister&lang=ru")
        assert '<nav class="languages" aria-label="Язык">' in russian.text
        assert f'href="/c/{SLUG}?office=uk-prime-minister&amp;lang=en"' in russian.text
        assert '<option value="uk-prime-minister" selected>' in russian.text

    async def test_staff_pages_stay_english_whatever_the_browser_prefers(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/staff/login", headers={"Accept-Language": "ru"})
        assert '<html lang="en">' in page.text


class TestSigningInRussian:
    async def test_field_errors_are_in_russian_with_russian_plurals(
        self, client: httpx.AsyncClient, campaign: dict[str, Any], settings: Settings
    ) -> None:
        body = form_body(
            settings, name="", email="ada.example.org", city="Lon\u202edon", consent=""
        )
        body["consent_version"] = "2026-1.ru"
        page = await client.post(f"/c/{SLUG}?lang=ru", data=body)
        assert page.status_code == 422
        html = page.text
        assert '<html lang="ru">' in html
        assert "Исправьте 4 поля, отмеченные ниже." in html
        assert "Заполните это поле." in html
        assert "Введите правильный адрес электронной почты" in html
        assert "знаки направления текста" in html
        assert "без него мы не можем отправлять письма от вашего имени" in html
        assert 'value="ada.example.org"' in html  # what was typed is kept
        assert 'name="consent_version" value="2026-1.ru"' in html

    async def test_a_russian_signer_gets_russian_consent_record_mails_and_pages(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
        outbox: Outbox,
    ) -> None:
        body = form_body(settings, consent_version=consent.current("ru"))
        sent = await client.post(f"/c/{SLUG}?lang=ru", data=body)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/c/{SLUG}/thanks?lang=ru"
        thanks = await client.get(sent.headers["location"])
        assert "Проверьте почту" in thanks.text
        assert "Неподтверждённые подписи удаляются через 7 дней." in thanks.text

        signature = await the_signature(session)
        assert signature.consent_version == "2026-1.ru"
        assert signature.consent_text == consent.statement(
            "2026-1.ru",
            organisation=settings.organisation_name,
            days=settings.confirmation_expiry_days,
        )

        now = utcnow()
        [mail] = await outbox.round(now)
        title = campaign["title"]
        assert mail.message["Subject"] == f"Подтвердите подпись в кампании «{title}»"
        assert "Здравствуйте, Ada Lovelace!" in mail.text
        assert "срок её действия истекает" in mail.text
        assert re.search(r"/confirm/[A-Za-z0-9_-]+\?lang=ru\b", mail.text)
        assert re.search(r"/s/[A-Za-z0-9_-]+\?lang=ru\b", mail.text)
        [reminder] = await outbox.round(now + timedelta(hours=25))
        assert reminder.message["Subject"].startswith("Напоминание: подтвердите подпись")
        assert "Это последнее письмо" in reminder.text

        confirm_link = re.search(r"https?://[^/\s]+(/confirm/\S+)", reminder.text)
        assert confirm_link
        shown = await client.get(confirm_link.group(1))
        assert '<html lang="ru">' in shown.text and "Подтвердите подпись" in shown.text
        done = await client.post(confirm_link.group(1))
        assert done.status_code == 303
        assert done.headers["location"].endswith("?done=confirmed&lang=ru")
        status = await client.get(done.headers["location"])
        assert '<html lang="ru">' in status.text
        assert "Ваша подпись" in status.text and "подтверждена" in status.text
        assert "в очереди" in status.text  # the letters' delivery status, in words
        assert "Спасибо! Ваша подпись подтверждена." in status.text
        assert re.search(r'action="/s/[^"]+/withdraw\?lang=ru"', status.text)

    async def test_an_english_signer_still_gets_english_and_signing_again_in_russian_keeps_it(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
        outbox: Outbox,
    ) -> None:
        assert (await client.post(f"/c/{SLUG}", data=form_body(settings))).status_code == 303
        again = form_body(settings, consent_version=consent.current("ru"))
        assert (await client.post(f"/c/{SLUG}?lang=ru", data=again)).status_code == 303
        signature = await the_signature(session)
        assert signature.consent_version == consent.CURRENT  # the first consent record stays
        assert signature.consent_text.startswith("I agree that")
        [mail] = await outbox.round()
        assert mail.message["Subject"].startswith("Please confirm your signature")
        assert "?lang=" not in mail.text

    async def test_russian_through_accept_language_records_the_russian_statement(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        settings: Settings,
        session: AsyncSession,
    ) -> None:
        page = await client.get(f"/c/{SLUG}", headers={"Accept-Language": "ru-RU,ru"})
        version = re.search(r'name="consent_version" value="([^"]+)"', page.text)
        assert version and version.group(1) == "2026-1.ru"
        body = form_body(settings, consent_version=version.group(1))
        sent = await client.post(f"/c/{SLUG}", data=body, headers={"Accept-Language": "ru"})
        assert sent.headers["location"] == f"/c/{SLUG}/thanks"
        assert (await the_signature(session)).consent_version == "2026-1.ru"


class TestAcceptLanguageParsing:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("ru", ["ru"]),
            ("en;q=0.5, ru", ["ru", "en"]),
            ("ru-RU;q=0.8,uk;q=0.9", ["uk", "ru"]),
            ("ru;q=zero, en", ["en"]),
            ("", []),
        ],
    )
    def test_tags_come_most_wanted_first(self, header: str, expected: list[str]) -> None:
        assert i18n._accepted(header) == expected
