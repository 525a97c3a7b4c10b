import csv
import io

import httpx
from pdfminer.high_level import extract_text
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.post.batches import TEST_MARK
from app.staff.models import Role
from tests.factories import bearer, make_staff


class TestPrintBatches:
    async def test_print_then_post_a_campaigns_postal_letters(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        auth = bearer(token)
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "post",
                "title": "Free Aron Atabek",
                "cases": ["atabek"],
                "targets": {"selectors": [{"tag": "national"}]},
                "template": "individual-appeal",
                "channel_preference": ["postal"],
            },
            headers=auth,
        )
        assert created.status_code == 201
        letters = (
            await client.post(
                "/api/v1/campaigns/post/letters", json={"name": "Ada Lovelace"}, headers=auth
            )
        ).json()
        postal = len(letters["created"])
        assert postal > 3

        batch = await client.post("/api/v1/campaigns/post/print-batches", headers=auth)
        assert batch.status_code == 201, batch.text
        batch_id = batch.json()["id"]
        assert batch.json()["letters"] == postal
        empty = await client.post("/api/v1/campaigns/post/print-batches", headers=auth)
        assert empty.status_code == 404  # nothing left waiting: every letter is in the batch

        manifest = await client.get(f"/api/v1/print-batches/{batch_id}.csv", headers=auth)
        rows = list(csv.DictReader(io.StringIO(manifest.text)))
        countries = [r["country"] for r in rows]
        assert countries == sorted(countries)  # as the post office wants them
        pdf = await client.get(f"/api/v1/print-batches/{batch_id}.pdf", headers=auth)
        assert extract_text(io.BytesIO(pdf.content)).count("\f") == sum(
            int(r["pages"]) for r in rows
        )

        deliveries = (await client.get("/api/v1/campaigns/post/deliveries", headers=auth)).json()
        assert {d["status"] for d in deliveries} == {"printed"}
        posted = await client.post(f"/api/v1/print-batches/{batch_id}/posted", headers=auth)
        assert posted.status_code == 200
        assert posted.json()["posted_at"] is not None
        deliveries = (await client.get("/api/v1/campaigns/post/deliveries", headers=auth)).json()
        assert {d["status"] for d in deliveries} == {"posted"}
        again = await client.post(f"/api/v1/print-batches/{batch_id}/posted", headers=auth)
        assert again.status_code == 409
        assert (
            await client.get("/api/v1/print-batches/999999.pdf", headers=auth)
        ).status_code == 404

    async def test_a_test_mode_batch_says_test_on_every_page_and_a_real_one_does_not(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        """Its letters carry the offices' real postal addresses: only the mark keeps a
        rehearsal from being posted."""
        _, token = await make_staff(session, Role.campaigner)
        auth = bearer(token)
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "rehearsal",
                "title": "Free Aron Atabek",
                "cases": ["atabek"],
                "targets": {"selectors": [{"tag": "national"}]},
                "template": "individual-appeal",
                "channel_preference": ["postal"],
            },
            headers=auth,
        )
        assert created.status_code == 201
        changed = await client.patch(
            "/api/v1/campaigns/rehearsal",
            json={"test_mode": True, "test_address": "staff@ngo.example"},
            headers=auth,
        )
        assert changed.status_code == 200
        new_letters = "/api/v1/campaigns/rehearsal/letters"
        assert (await client.post(new_letters, json={"name": "Ada"}, headers=auth)).is_success
        rehearsal = await client.post("/api/v1/campaigns/rehearsal/print-batches", headers=auth)
        assert rehearsal.status_code == 201
        assert rehearsal.json()["test_mode"] is True

        changed = await client.patch(
            "/api/v1/campaigns/rehearsal", json={"test_mode": False}, headers=auth
        )
        assert changed.status_code == 200
        assert (await client.post(new_letters, json={"name": "Grace"}, headers=auth)).is_success
        real = await client.post("/api/v1/campaigns/rehearsal/print-batches", headers=auth)
        assert real.status_code == 201
        assert real.json()["test_mode"] is False

        def pages(batch_id: int) -> list[str]:
            return extract_text(io.BytesIO(pdfs[batch_id])).split("\f")[:-1]

        pdfs = {
            batch["id"]: (
                await client.get(f"/api/v1/print-batches/{batch['id']}.pdf", headers=auth)
            ).content
            for batch in (rehearsal.json(), real.json())
        }
        # Made again later, the rehearsal still says TEST: it was made in test mode.
        marked = pages(rehearsal.json()["id"])
        assert len(marked) >= rehearsal.json()["letters"] > 0
        assert all(TEST_MARK in page for page in marked)
        assert not any(TEST_MARK in page for page in pages(real.json()["id"]))
