"""The due-date routes and page: per campaign, per office, the overdue list; English and Russian."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.recipients import service as recipients_service
from app.recipients.files import RecipientFile
from app.staff.models import Role
from tests.accountability.conftest import Letter
from tests.conftest import RECIPIENTS_DIR
from tests.factories import bearer, make_staff
from tests.staff.signin import signed_in

DUE = date(2026, 4, 1)
LATE = (DUE + timedelta(days=2)).isoformat()


class TestRoutes:
    async def test_a_campaigns_offices_with_their_term_and_counts(self, delivered: Letter) -> None:
        await delivered.round()
        board = await delivered.due_dates("/campaigns/mail-test", as_of=LATE)
        assert board["campaign"] == "mail-test" and board["as_of"] == LATE
        assert board["default_term"]["days"] == 30
        assert board["default_term"]["source"] == "organisation's own target"
        assert board["totals"]["overdue"] == 1
        [office] = board["offices"]
        assert (office["office_id"], office["term_from"]) == ("pace-president", "campaign")
        assert office["counts"] == {
            "awaiting": 0,
            "acknowledged": 0,
            "overdue": 1,
            "answered": 0,
            "undelivered": 0,
            "total": 1,
        }

    async def test_an_offices_campaigns_and_the_list_filtered_by_office_and_state(
        self, delivered: Letter
    ) -> None:
        await delivered.round()
        office = await delivered.due_dates("/offices/pace-president", as_of=DUE.isoformat())
        assert office["own_term"] is None
        [campaign] = office["campaigns"]
        assert campaign["campaign"] == "mail-test" and campaign["counts"]["awaiting"] == 1
        [clock] = (await delivered.due_dates(office="pace-president", state="awaiting", as_of=DUE))[
            "items"
        ]
        assert clock["office"] and clock["channel"] == "email"
        assert clock["delivery_status"] == "sent"
        assert clock["term"]["source"] == "organisation's own target"
        assert clock["due_on"] == DUE.isoformat() and clock["started_on"] == "2026-03-02"
        assert (await delivered.due_dates(state="answered"))["total"] == 0

    async def test_unknown_campaigns_and_offices_are_404_and_staff_only(
        self, delivered: Letter, client: httpx.AsyncClient
    ) -> None:
        headers = bearer(delivered.token)
        for path in (
            "/api/v1/due-dates/campaigns/nope",
            "/api/v1/due-dates/offices/nope",
            "/api/v1/due-dates?campaign=nope",
            "/api/v1/due-dates/overdue?office=nope",
        ):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 404, path
            assert answer.json()["error"] == "NotFound"
        assert (await client.get("/api/v1/due-dates/overdue")).status_code == 401
        bad = await client.get("/api/v1/due-dates?as_of=soon", headers=headers)
        assert bad.status_code == 422

    async def test_an_organiser_reads_them_too(
        self, delivered: Letter, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        answer = await client.get("/api/v1/due-dates/overdue", headers=bearer(token))
        assert answer.status_code == 200


class TestCampaignTerm:
    async def test_a_campaign_is_created_and_edited_with_its_default_term(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        term = {"days": 20, "basis": "working", "source": "our own target, in working days"}
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "terms",
                "title": "Terms",
                "cases": ["bokayev-ayan"],
                "template": "individual-appeal",
                "response_term": term,
            },
            headers=bearer(token),
        )
        assert created.status_code == 201, created.text
        assert created.json()["response_term"] == {
            **term,
            "country": None,
            "on_acknowledgement": "nothing",
        }
        edited = await client.patch(
            "/api/v1/campaigns/terms",
            json={"response_term": {"days": 10, "source": "x", "on_acknowledgement": "restart"}},
            headers=bearer(token),
        )
        assert edited.json()["response_term"]["on_acknowledgement"] == "restart"
        refused = await client.patch(
            "/api/v1/campaigns/terms",
            json={"response_term": {"days": 0, "source": "x"}},
            headers=bearer(token),
        )
        assert refused.status_code == 422

    async def test_without_one_it_gets_the_documented_default(
        self, queued: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        read = await client.get("/api/v1/campaigns/mail-test", headers=bearer(queued["token"]))
        assert read.json()["response_term"] == {
            "days": 30,
            "basis": "calendar",
            "country": None,
            "source": "organisation's own target",
            "on_acknowledgement": "nothing",
        }


class TestDirectoryFile:
    def _file(self, **term: Any) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            (RECIPIENTS_DIR / "pace-president.yaml").read_text(encoding="utf-8")
        )
        return {**data, "response_term": term}

    async def test_a_files_response_term_is_imported_with_the_office(
        self, session: AsyncSession
    ) -> None:
        data = RecipientFile.model_validate(
            self._file(days=15, basis="working", country="KZ", source="APC of Kazakhstan")
        )
        recipient = await recipients_service.get_recipient(session, recipient_id="pace-president")
        recipients_service.apply_file(recipient, data)
        assert recipient.response_term == {
            "days": 15,
            "basis": "working",
            "country": "KZ",
            "source": "APC of Kazakhstan",
            "on_acknowledgement": "nothing",
        }

    def test_a_file_without_one_has_none_and_a_bad_one_is_refused(self) -> None:
        shipped = yaml.safe_load((RECIPIENTS_DIR / "pace-president.yaml").read_text("utf-8"))
        assert RecipientFile.model_validate(shipped).response_term is None
        with pytest.raises(ValidationError):
            RecipientFile.model_validate(self._file(days=15, basis="fortnightly", source="x"))
        with pytest.raises(ValidationError):
            RecipientFile.model_validate(self._file(days=15))  # no source

    def test_no_shipped_file_claims_a_term_the_report_does_not_state(self) -> None:
        for path in sorted(Path(RECIPIENTS_DIR).glob("*.yaml")):
            assert "response_term" not in yaml.safe_load(path.read_text("utf-8")), path.name


class TestPage:
    async def test_the_page_lists_offices_and_overdue_letters_in_english(
        self, delivered: Letter, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await delivered.round()
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/campaigns/mail-test/due-dates?as_of={LATE}")
        assert page.status_code == 200
        html = page.text
        assert '<html lang="en">' in html
        assert "Due dates: Free Maks Bokayev and Talgat Ayan" in html
        assert "30 calendar days, organisation's own target" in html
        assert "1 letter is overdue." in html
        assert f"letter {delivered.letter_id}" in html and "2026-04-01" in html
        assert 'class="clock-overdue"' in html

    async def test_lang_ru_gives_it_in_russian(
        self, delivered: Letter, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await delivered.round()
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/campaigns/mail-test/due-dates?lang=ru&as_of={LATE}")
        html = page.text
        assert '<html lang="ru">' in html
        assert "Сроки ответа: Free Maks Bokayev and Talgat Ayan" in html
        assert "30 календарных дней, собственный целевой срок организации" in html
        assert "1 письмо просрочено." in html and "просрочено" in html
        assert "Due dates" not in html and "overdue." not in html

    async def test_before_anything_is_delivered_it_says_so_and_needs_a_sign_in(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        away = await client.get("/staff/campaigns/mail-test/due-dates")
        assert away.status_code == 303
        await signed_in(client, session, Role.organiser)
        page = await client.get("/staff/campaigns/mail-test/due-dates?lang=ru")
        assert "Ни одно письмо этой кампании ещё не дошло до адресата." in page.text
        assert (await client.get("/staff/campaigns/nope/due-dates")).status_code == 404
