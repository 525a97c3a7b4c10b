"""The response log: classifying, notes, postal replies by hand, CSV, and the staff pages."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.staff.models import Role
from tests.delivery.test_worker import the_delivery
from tests.factories import bearer, make_staff
from tests.responses.conftest import INBOUND_SECRET, sample
from tests.staff.signin import form_token, signed_in

MTA = {"Authorization": f"Bearer {INBOUND_SECRET}", "Content-Type": "message/rfc822"}


async def a_reply(client: httpx.AsyncClient, session: AsyncSession) -> int:
    delivery = await the_delivery(session)
    raw = sample("reply-quoting-letter.eml", delivery_id=delivery.id)
    answered = await client.post("/api/v1/inbound/email", content=raw, headers=MTA)
    response_id: int = answered.json()["response_id"]
    return response_id


class TestApi:
    async def test_an_organiser_classifies_a_reply_and_it_is_audited(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response_id = await a_reply(client, session)
        _, token = await make_staff(session, Role.organiser)
        changed = await client.patch(
            f"/api/v1/responses/{response_id}",
            json={"kind": "acknowledgement", "notes": "Follow up in March."},
            headers=bearer(token),
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["kind"], body["notes"]) == ("acknowledgement", "Follow up in March.")
        assert body["classified_by"].startswith("organiser-")
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "response.update")
        )
        assert entry is not None
        assert entry.before == {"kind": "unclassified", "notes": ""}
        assert entry.after == {"kind": "acknowledgement", "notes": "Follow up in March."}

    async def test_unknown_fields_and_kinds_are_refused(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response_id = await a_reply(client, session)
        auth = bearer(queued["token"])
        for body in ({"kind": "lovely"}, {"status": "x"}):
            answered = await client.patch(
                f"/api/v1/responses/{response_id}", json=body, headers=auth
            )
            assert answered.status_code == 422

    async def test_without_a_token_the_log_is_closed(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/responses")).status_code == 401
        assert (await client.get("/api/v1/responses.csv")).status_code == 401
        assert (await client.get("/api/v1/inbound")).status_code == 401

    async def test_a_postal_reply_is_recorded_by_hand_for_its_letter(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        letter = queued["letter"]
        recorded = await client.post(
            "/api/v1/responses",
            json={
                "campaign": "mail-test",
                "office": "pace-president",
                "letter_id": letter["id"],
                "received_on": "2026-12-10",
                "from_name": "Head of the Private Office",
                "text": "The President has raised the case with the delegation.",
                "kind": "substantive",
            },
            headers=bearer(token),
        )
        assert recorded.status_code == 201, recorded.text
        body = recorded.json()
        assert (body["medium"], body["kind"], body["case_id"]) == (
            "postal",
            "substantive",
            "bokayev-ayan",
        )
        assert body["delivery_id"] == (await the_delivery(session)).id
        assert body["received_at"].startswith("2026-12-10")

    async def test_a_letter_of_another_office_is_refused(
        self, queued: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        recorded = await client.post(
            "/api/v1/responses",
            json={
                "campaign": "mail-test",
                "office": "osce-pa-president",
                "letter_id": queued["letter"]["id"],
                "received_on": "2026-12-10",
            },
            headers=bearer(queued["token"]),
        )
        assert recorded.status_code == 422
        assert "is not a letter of campaign" in recorded.json()["detail"]

    async def test_the_csv_is_formula_safe_and_filtered(
        self, queued: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        auth = bearer(queued["token"])
        for text in ('=HYPERLINK("http://evil.example")', "A plain answer."):
            await client.post(
                "/api/v1/responses",
                json={
                    "campaign": "mail-test",
                    "office": "pace-president",
                    "received_on": "2026-12-10",
                    "text": text,
                    "kind": "refusal" if text.startswith("=") else "acknowledgement",
                },
                headers=auth,
            )
        exported = await client.get("/api/v1/responses.csv?kind=refusal", headers=auth)
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 1
        assert rows[0]["excerpt"] == '\'=HYPERLINK("http://evil.example")'
        assert rows[0]["campaign"] == "mail-test"


class TestPages:
    async def test_the_log_needs_a_session(self, client: httpx.AsyncClient) -> None:
        answered = await client.get("/staff/responses", follow_redirects=False)
        assert answered.status_code == 303
        assert answered.headers["location"].startswith("/staff/login")

    async def test_classifying_on_the_page_needs_the_csrf_token(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response_id = await a_reply(client, session)
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/responses/{response_id}")
        assert page.status_code == 200
        assert "We acknowledge receipt" in page.text
        refused = await client.post(
            f"/staff/responses/{response_id}",
            data={"kind": "refusal", "notes": "x", "csrf_token": "forged"},
        )
        assert refused.status_code == 403
        saved = await client.post(
            f"/staff/responses/{response_id}",
            data={
                "kind": "acknowledgement",
                "notes": "Filed.",
                "csrf_token": form_token(page.text),
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303
        again = await client.get(f"/staff/responses/{response_id}")
        assert "Filed.</textarea>" in again.text
        log = await client.get("/staff/responses?kind=acknowledgement")
        assert f'href="/staff/responses/{response_id}"' in log.text
        other = await client.get("/staff/responses?kind=refusal")
        assert f'href="/staff/responses/{response_id}"' not in other.text

    async def test_recording_a_postal_reply_on_the_page(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.organiser)
        form = await client.get("/staff/responses/new")
        assert form.status_code == 200
        token = form_token(form.text)
        bad = await client.post(
            "/staff/responses/new",
            data={
                "campaign": "mail-test",
                "office": "pace-president",
                "received_on": "not a date",
                "text": "<script>x</script>",
                "csrf_token": token,
            },
        )
        assert bad.status_code == 422
        assert "&lt;script&gt;x&lt;/script&gt;" in bad.text  # kept, escaped
        done = await client.post(
            "/staff/responses/new",
            data={
                "campaign": "mail-test",
                "office": "pace-president",
                "received_on": "2026-12-11",
                "medium": "postal",
                "kind": "forwarded",
                "text": "Forwarded to the Rapporteur.",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
        page = await client.get(done.headers["location"])
        assert "Forwarded to the Rapporteur." in page.text

    async def test_the_review_inbox_matches_a_message_by_hand(
        self, queued: dict[str, Any], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        raw = (
            b"From: Clerk <clerk@pace.example>\nTo: campaign@appeals.invalid\n"
            b"Subject: About Mr Bokayev\n\nThe President will reply in due course.\n"
        )
        unmatched = (await client.post("/api/v1/inbound/email", content=raw, headers=MTA)).json()
        await signed_in(client, session, Role.organiser)
        inbox = await client.get("/staff/inbound")
        assert "The President will reply in due course." in inbox.text
        delivery = await the_delivery(session)
        matched = await client.post(
            f"/staff/inbound/{unmatched['id']}/match",
            data={"delivery_id": str(delivery.id), "csrf_token": form_token(inbox.text)},
            follow_redirects=False,
        )
        assert matched.status_code == 303
        assert matched.headers["location"].startswith("/staff/responses/")
        inbox = await client.get("/staff/inbound")
        assert "Nothing to review." in inbox.text
