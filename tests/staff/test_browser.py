"""The staff area in a real browser (Debian's chromium via Playwright): password sign-in, the
campaign dashboard, and pausing a campaign through its confirmation step.

Uses the chromium fixture and server helpers of tests/test_browser.py and tests/test_cli.py;
screenshots go to APPEALS_SCREENSHOTS (var/screenshots) to be looked at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.test_browser import SCREENSHOTS, chromium_path
from tests.test_cli import _free_port, _wait_for

__all__ = ["chromium_path"]  # a fixture, used by name

ADMIN = "ada@staff.example"
PASSWORD = "a long and correct passphrase"
SLUG = "free-bokayev-ayan"
SUPPORTERS = ("Aigerim Nurlanovna", "Élise Dupont")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`appeals serve` on a fresh SQLite database: the report's data, an admin with a password
    made by `appeals users create --password-stdin`, and an open campaign with six letters."""
    folder = tmp_path_factory.mktemp("staff-browser")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
    }
    env["APPEALS_VAR_DIR"] = str(folder / "var")

    def appeals(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=env,
            cwd=folder,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    appeals("db", "upgrade")
    appeals("import")
    created = appeals(
        "users", "create", ADMIN, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    token = created.splitlines()[-1]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        _wait_for(f"{base}/api/v1/health", process)
        response = httpx.post(
            f"{base}/api/v1/campaigns",
            json={
                "slug": SLUG,
                "title": "Free Maks Bokayev and Talgat Ayan",
                "cases": ["bokayev-ayan"],
                "targets": {
                    "recipients": [
                        "us-secretary-of-state",
                        "uk-prime-minister",
                        "france-prime-minister",
                    ]
                },
                "template": "individual-appeal",
            },
            headers=auth,
        )
        assert response.status_code == 201, response.text
        for name in SUPPORTERS:
            response = httpx.post(
                f"{base}/api/v1/campaigns/{SLUG}/letters", json={"name": name}, headers=auth
            )
            assert response.status_code == 201, response.text
        response = httpx.patch(
            f"{base}/api/v1/campaigns/{SLUG}", json={"status": "open"}, headers=auth
        )
        assert response.status_code == 200, response.text
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


class TestStaffArea:
    def test_sign_in_read_the_dashboard_and_pause_the_campaign(
        self, chromium_path: str, server: str
    ) -> None:
        from playwright.sync_api import sync_playwright

        base = server
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/staff/campaigns/{SLUG}")
            assert page.url.startswith(f"{base}/staff/login")  # sent to sign in first
            page.fill("#email", ADMIN)
            page.fill("#password", "not the password")
            page.click("#sign-in")
            assert page.locator("[role=alert]").inner_text() == "Wrong e-mail address or password."
            page.fill("#password", PASSWORD)
            page.screenshot(path=str(SCREENSHOTS / "staff-login.png"), full_page=True)
            page.click("#sign-in")
            assert page.url == f"{base}/staff/campaigns/{SLUG}"

            funnel = dict(
                zip(
                    page.locator("ol.funnel .step").all_inner_texts(),
                    page.locator("ol.funnel .n").all_inner_texts(),
                    strict=True,
                )
            )
            assert funnel["letters"] == "6" and funnel["deliveries"] == "6"
            # Small multiples: two charts of four series, not eight lines in one.
            assert page.locator("figure.chart").count() == 2
            for i in range(2):
                assert page.locator("figure.chart").nth(i).locator("polyline").count() == 4
            offices = page.locator("table.offices tbody th").all_inner_texts()
            assert len(offices) == 3
            page.screenshot(path=str(SCREENSHOTS / "staff-dashboard.png"), full_page=True)

            page.click("text=Pause…")
            assert page.url == f"{base}/staff/campaigns/{SLUG}/status/pause"
            what = page.locator("section.what-happens").inner_text()
            assert "stops accepting signatures" in what
            assert "Letters already in the queue: 6" in what
            page.screenshot(path=str(SCREENSHOTS / "staff-pause-confirm.png"), full_page=True)
            page.fill("#note", "waiting for the appeal hearing")
            page.click("#confirm")
            assert page.url == f"{base}/staff/campaigns/{SLUG}?done=pause"
            assert "now paused" in page.locator("[role=status]").first.inner_text()
            assert "Resume…" in page.content()
            page.screenshot(path=str(SCREENSHOTS / "staff-paused.png"), full_page=True)

            page.click("text=Delivery log")
            page.select_option("#f-channel", "web_form")
            page.click("form.filters button")
            assert "2 deliveries match" in page.locator("p[role=status]").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "staff-log.png"), full_page=True)
            page.locator("table.log tbody a").first.click()
            assert "register.state.gov" in page.locator("dl").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "staff-letter.png"), full_page=True)

            page.click("text=Sign out")
            page.goto(f"{base}/staff/campaigns/{SLUG}")
            assert page.url.startswith(f"{base}/staff/login")
            browser.close()

    def test_record_a_postal_reply_classify_it_and_find_it_in_the_log(
        self, chromium_path: str, server: str
    ) -> None:
        from playwright.sync_api import sync_playwright

        base = server
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/staff/responses")
            page.fill("#email", ADMIN)
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            assert page.url == f"{base}/staff/responses"
            assert "0 responses." in page.content()

            page.click("text=Record a postal reply")
            page.select_option("#campaign", SLUG)
            page.select_option("#office", "uk-prime-minister")
            page.fill("#from_name", "Correspondence Unit, 10 Downing Street")
            page.fill("#subject", "Your letter about Mr Bokayev and Mr Ayan")
            page.fill("#text", "Thank you for your letter. It has been passed to the FCDO.")
            page.screenshot(path=str(SCREENSHOTS / "staff-response-new.png"), full_page=True)
            page.click("form.sign-form button[type=submit]")
            assert page.url.startswith(f"{base}/staff/responses/")
            details = page.locator("dl").inner_text()
            assert "Prime Minister" in details and "by post" in details
            assert "It has been passed to the FCDO." in page.locator("pre.body").inner_text()

            page.select_option("#kind", "forwarded")
            page.fill("#notes", "Passed to the Foreign Office; follow up there.")
            page.click("form.sign-form button[type=submit]")
            classified = page.locator("dl").inner_text()
            assert f"Forwarded by {ADMIN}" in classified
            page.screenshot(path=str(SCREENSHOTS / "staff-response.png"), full_page=True)

            page.click("text=← Responses")
            page.select_option("#f-kind", "forwarded")
            page.click("form.preview-form button")
            assert "1 response." in page.content()
            row = page.locator("table tbody tr").first.inner_text()
            assert "Your letter about Mr Bokayev and Mr Ayan" in row and "Forwarded" in row
            page.screenshot(path=str(SCREENSHOTS / "staff-responses.png"), full_page=True)
            browser.close()
