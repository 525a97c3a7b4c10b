import csv
import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from pdfminer.high_level import extract_text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PROJECT_ROOT
from app.staff.models import Role
from app.templating.kit import LetterKit
from tests.campaigns.test_api import UNREACHABLE, create
from tests.factories import bearer, make_staff

SENDER = {"name": "Ada Lovelace", "city": "London", "country": "United Kingdom"}


@pytest.fixture
async def token(session: AsyncSession) -> str:
    _, token = await make_staff(session, Role.campaigner)
    return token


async def preview(
    client: httpx.AsyncClient,
    token: str,
    recipient: str,
    slug: str = "free-bokayev-ayan",
    **params: str,
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/campaigns/{slug}/preview",
        params={"recipient": recipient, "supporter_name": "Ada Lovelace", **params},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestPreview:
    async def test_every_office_gets_a_letter_about_the_case(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        for office in (await client.get("/api/v1/recipients", params={"limit": 50})).json()[
            "items"
        ]:
            letter = await preview(client, token, office["id"])
            assert "Bokayev" in letter["body"] and "Ayan" in letter["body"]
            assert "174" in letter["body"]  # the article they were charged under
            assert "Ada Lovelace" in letter["body"]
            assert letter["template_name"] == "individual-appeal"
            assert letter["target"]["reachable"] is (office["id"] not in UNREACHABLE)

    async def test_language_follows_the_office_with_fallback(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        france = await preview(client, token, "france-prime-minister")
        assert france["language"] == "fr"
        assert france["body"].startswith("Monsieur le Premier ministre,")
        italy = await preview(client, token, "italy-prime-minister")
        assert italy["language"] == "en"  # no Italian letter yet: English
        assert (await preview(client, token, "uk-prime-minister"))["language"] == "en"

    async def test_paragraphs_follow_the_offices_tags(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        assert (
            "Partnership" in (await preview(client, token, "european-commission-president"))["body"]
        )
        assert "Axel Fischer" in (await preview(client, token, "coe-secretary-general"))["body"]
        oecd = (await preview(client, token, "oecd-secretary-general"))["body"]
        assert "OECD" in oecd or "Organisation for Economic" in oecd
        assert "sanction" in (await preview(client, token, "uk-prime-minister"))["body"]
        assert "Axel Fischer" not in (await preview(client, token, "uk-prime-minister"))["body"]

    async def test_a_stale_holder_is_not_named(self, client: httpx.AsyncClient, token: str) -> None:
        await create(client, token)
        letter = await preview(client, token, "european-commission-president")
        assert "Juncker" not in letter["body"]

    async def test_the_personal_message_is_verbatim(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        message = "My union in {{ city }} stands with them.\n\nPlease <act> now & {% raw %}"
        letter = await preview(client, token, "uk-prime-minister", message=message)
        assert message.strip() in letter["body"]

    async def test_previews_are_stable_and_vary_between_senders(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        first = await preview(client, token, "uk-prime-minister")
        assert first == await preview(client, token, "uk-prime-minister")
        bodies = set()
        for i in range(12):
            letter = await preview(
                client, token, "uk-prime-minister", supporter_name=f"Supporter {i}"
            )
            bodies.add(letter["body"].replace(f"Supporter {i}", "NAME"))
        assert len(bodies) > 1

    async def test_bad_preview_requests(self, client: httpx.AsyncClient, token: str) -> None:
        await create(client, token)
        url = "/api/v1/campaigns/free-bokayev-ayan/preview"
        cases = [
            ({"recipient": "nowhere", "supporter_name": "A"}, 404),
            ({"recipient": "uk-prime-minister", "supporter_name": "A", "case": "sychev"}, 404),
            ({"recipient": "uk-prime-minister"}, 422),
            ({"recipient": "uk-prime-minister", "supporter_name": "A\r\nBcc: x@y.example"}, 422),
        ]
        for params, code in cases:
            response = await client.get(url, params=params, headers=bearer(token))
            assert response.status_code == code, (params, response.text)
        assert (
            await client.get(
                "/api/v1/campaigns/nope/preview", params=cases[0][0], headers=bearer(token)
            )
        ).status_code == 404


class TestLettersOnRecord:
    async def test_the_stored_letter_is_the_preview(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        response = await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/letters",
            json={**SENDER, "message": "Free them."},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.text
        result = response.json()
        assert {t["recipient_id"] for t in result["unreachable"]} == UNREACHABLE
        assert len(result["created"]) == 21 - len(UNREACHABLE)
        uk = next(x for x in result["created"] if x["recipient_id"] == "uk-prime-minister")
        shown = await preview(
            client,
            token,
            "uk-prime-minister",
            supporter_city="London",
            supporter_country="United Kingdom",
            message="Free them.",
        )
        assert (uk["subject"], uk["body"]) == (shown["subject"], shown["body"])
        assert uk["template_version"] == shown["template_version"]
        assert uk["channel"] == "postal"

        again = await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/letters",
            json={**SENDER, "message": "Free them."},
            headers=bearer(token),
        )
        assert again.json()["created"] == []
        assert len(again.json()["existing"]) == len(result["created"])

    async def test_a_changed_template_does_not_change_a_letter_on_record(
        self, client: httpx.AsyncClient, token: str, tmp_path: Path
    ) -> None:
        await create(client, token)
        created = await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/letters?recipient=uk-prime-minister",
            json=SENDER,
            headers=bearer(token),
        )
        [letter] = created.json()["created"]
        folder = tmp_path / "templates"
        shutil.copytree(PROJECT_ROOT / "letter_templates", folder)
        path = folder / "individual-appeal.en.j2"
        path.write_text(path.read_text(encoding="utf-8") + "\nP.S. A new line.\n", encoding="utf-8")
        app = client._transport.app  # type: ignore[attr-defined]
        app.state.letter_kit = LetterKit.from_settings(
            app.state.settings.model_copy(update={"templates_dir": folder})
        )
        stored = (await client.get(f"/api/v1/letters/{letter['id']}", headers=bearer(token))).json()
        assert stored["body"] == letter["body"]
        fresh = await preview(
            client,
            token,
            "uk-prime-minister",
            supporter_city="London",
            supporter_country="United Kingdom",
        )
        assert "P.S. A new line." in fresh["body"]
        assert fresh["template_version"] != stored["template_version"]


class TestPdf:
    async def test_one_letter_as_pdf(self, client: httpx.AsyncClient, token: str) -> None:
        await create(client, token)
        created = await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/letters?recipient=france-prime-minister",
            json=SENDER,
            headers=bearer(token),
        )
        [letter] = created.json()["created"]
        response = await client.get(f"/api/v1/letters/{letter['id']}.pdf", headers=bearer(token))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        text = extract_text(io.BytesIO(response.content))
        assert "Hôtel de Matignon" in text
        assert "75007 Paris" in text
        assert "FRANCE" in text
        assert "Monsieur le Premier ministre" in text

    async def test_a_print_batch_with_its_manifest(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token, channel_preference=["postal"])
        await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/letters", json=SENDER, headers=bearer(token)
        )
        pdf = await client.get(
            "/api/v1/campaigns/free-bokayev-ayan/print-batch.pdf", headers=bearer(token)
        )
        manifest = await client.get(
            "/api/v1/campaigns/free-bokayev-ayan/print-batch.csv", headers=bearer(token)
        )
        assert pdf.status_code == manifest.status_code == 200
        rows = list(csv.DictReader(io.StringIO(manifest.text)))
        offices = (
            await client.get("/api/v1/recipients", params={"channel": "postal", "limit": 50})
        ).json()
        assert len(rows) == offices["total"]
        assert {r["country"] for r in rows} >= {"BE", "FR", "GB", "US", "CA"}
        pages = extract_text(io.BytesIO(pdf.content)).count("\f")
        assert sum(int(r["pages"]) for r in rows) == pages

    async def test_unknown_letter_is_404(self, client: httpx.AsyncClient, token: str) -> None:
        assert (
            await client.get("/api/v1/letters/999999.pdf", headers=bearer(token))
        ).status_code == 404
        assert (
            await client.get("/api/v1/letters/999999", headers=bearer(token))
        ).status_code == 404


class TestGeneralAppeal:
    async def test_one_letter_per_office_about_every_case(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(
            client,
            token,
            slug="release-all",
            cases=["bokayev-ayan", "ulasik", "matayev"],
            template="general-appeal",
        )
        for office, language in (
            ("european-commission-president", "en"),
            ("france-prime-minister", "fr"),
        ):
            letter = await preview(client, token, office, slug="release-all")
            assert letter["language"] == language
            assert letter["case_id"] is None
            for name in ("Bokayev", "Ulasik", "Matayev"):
                assert name in letter["body"]
        created = await client.post(
            "/api/v1/campaigns/release-all/letters", json=SENDER, headers=bearer(token)
        )
        assert len(created.json()["created"]) == 21 - len(UNREACHABLE)  # not one per case
