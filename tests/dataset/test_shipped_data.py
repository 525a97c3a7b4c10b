"""The data that ships with the project is a faithful transcription of the source report."""

import re
import unicodedata

import pytest

from app.cases.files import CaseFile, Status
from app.dataset.loader import load_folder
from app.recipients.files import EmailChannel, RecipientFile
from tests.conftest import CASES_DIR, RECIPIENTS_DIR

REPORT = CASES_DIR / "source" / "odf-kazakhstan-2017.txt"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def report() -> str:
    return _flat(REPORT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cases() -> list[CaseFile]:
    loaded, problems = load_folder(CASES_DIR, CaseFile)
    assert problems == []
    return [item.model for item in loaded]


@pytest.fixture(scope="module")
def recipients() -> list[RecipientFile]:
    loaded, problems = load_folder(RECIPIENTS_DIR, RecipientFile)
    assert problems == []
    return [item.model for item in loaded]


class TestCases:
    def test_every_person_of_sections_2_to_7(self, cases: list[CaseFile]) -> None:
        people = [p for c in cases for p in c.people]
        assert len(cases) == 31
        assert len(people) == 37
        sections = {c.source.section.split(".")[0] for c in cases}
        assert sections == {"2", "3", "4", "5", "6", "7"}

    def test_printed_names_and_variants_occur_verbatim_in_the_report(
        self, cases: list[CaseFile], report: str
    ) -> None:
        for case in cases:
            for person in case.people:
                assert person.name_as_printed in report, person.name_as_printed
                for variant in person.variants:
                    assert variant in report, (case.id, variant)

    def test_the_reports_homoglyph_names_are_kept_as_printed(self, cases: list[CaseFile]) -> None:
        printed = {p.name_as_printed for c in cases for p in c.people}
        mixed = {n for n in printed if not n.isascii()}
        assert {"Маkhambet Abzhan", "Оlesya Khalabuzar", "Таtiana Paraskevich"} <= mixed
        for name in mixed:
            scripts = {unicodedata.name(ch).split()[0] for ch in name if ch.isalpha()}
            assert scripts == {"LATIN", "CYRILLIC"}, name

    def test_spelling_variants_between_introduction_and_body(self, cases: list[CaseFile]) -> None:
        variants = {v for c in cases for p in c.people for v in p.variants}
        assert {"Igor Sichev", "Gyuzal Baydalinova"} <= variants

    def test_statuses_match_the_body_of_the_report(self, cases: list[CaseFile]) -> None:
        status = {p.name_as_printed: p.status for c in cases for p in c.people}
        assert status["Natalia Ulasik"] is Status.compulsory_psychiatric_treatment
        assert status["Маkhambet Abzhan"] is Status.in_detention
        assert status["Zinaida Mukhortova"] is Status.released
        assert status["Maks Bokayev"] is Status.imprisoned
        imprisoned = [n for n, s in status.items() if s is Status.imprisoned]
        assert len(imprisoned) == 17  # the introduction's count of people held in prison

    def test_charges_carry_article_numbers_from_the_report(
        self, cases: list[CaseFile], report: str
    ) -> None:
        mentions = re.findall(r"Articles? ((?:\d+(?:, | and )?)+)", report)
        articles = {n for m in mentions for n in re.findall(r"\d+", m)}
        for case in cases:
            for person in case.people:
                for charge in person.charges:
                    if charge.article is not None:
                        assert charge.article in articles, (case.id, charge.article)


class TestRecipients:
    def test_all_21_offices_of_the_report(self, recipients: list[RecipientFile]) -> None:
        assert len(recipients) == 21
        assert len({r.id for r in recipients}) == 21

    def test_no_email_address_is_invented(
        self, recipients: list[RecipientFile], report: str
    ) -> None:
        emails = [c for r in recipients for c in r.channels if isinstance(c, EmailChannel)]
        assert len(emails) == report.count("[email protected]")
        assert all(c.obfuscated and c.address is None for c in emails)

    def test_channel_texts_and_entries_occur_verbatim_in_the_report(
        self, recipients: list[RecipientFile], report: str
    ) -> None:
        for recipient in recipients:
            assert recipient.source.entry and _flat(recipient.source.entry) in report
            for channel in recipient.channels:
                if channel.as_printed:
                    assert _flat(channel.as_printed) in report, (recipient.id, channel.as_printed)

    def test_every_office_has_a_salutation_timezone_and_language(
        self, recipients: list[RecipientFile]
    ) -> None:
        languages = {r.id: r.language for r in recipients}
        assert languages["france-prime-minister"] == "fr"
        assert all(r.salutation.strip() for r in recipients)


def test_the_kept_source_is_the_report(report: str) -> None:
    assert report.startswith("1. Introduction")
    assert "the Open Dialogue Foundation has presented more than 35 cases" in report
