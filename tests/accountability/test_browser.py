"""The due-date page in a real browser (Debian's chromium via Playwright), in Russian.

A real `appeals serve` on SQLite: a campaign writes to the US State Department through its web
form, staff mark the task done, `appeals worker --once` starts the letter's clock, and the
page shown `as_of` a day past the due date lists it as overdue.
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

ADMIN = "grace@staff.example"
PASSWORD = "another long and correct passphrase"
SLUG = "due-dates"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("due-dates-browser")
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
    auth = {"Authorization": f"Bearer {created.splitlines()[-1]}"}
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
    try:
        _wait_for(f"{base}/api/v1/health", process)
        campaign = {
            "slug": SLUG,
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": ["us-secretary-of-state"]},
            "template": "individual-appeal",
            "response_term": {"days": 10, "source": "organisation's own target"},
        }
        assert httpx.post(f"{base}/api/v1/campaigns", json=campaign, headers=auth).is_success
        letters = httpx.post(
            f"{base}/api/v1/campaigns/{SLUG}/letters", json={"name": "Ada"}, headers=auth
        )
        assert letters.status_code == 201, letters.text
        listed = httpx.get(f"{base}/api/v1/campaigns/{SLUG}/deliveries", headers=auth)
        [delivery] = listed.json()
        done = httpx.post(
            f"{base}/api/v1/deliveries/{delivery['id']}/actions",
            json={"to": "done", "note": "sent through the form"},
            headers=auth,
        )
        assert done.status_code == 200, done.text
        appeals("worker", "--once")
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


class TestDueDatesPage:
    def test_an_overdue_letter_in_russian(self, chromium_path: str, server: str) -> None:
        from playwright.sync_api import sync_playwright

        base = server
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/staff/campaigns/{SLUG}/due-dates?lang=ru&as_of=2027-01-04")
            assert page.url.startswith(f"{base}/staff/login")
            page.fill("#email", ADMIN)
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            assert page.url.endswith(f"/staff/campaigns/{SLUG}/due-dates?lang=ru&as_of=2027-01-04")
            assert page.locator("h1").inner_text().startswith("Сроки ответа:")
            assert page.locator("p[role=status]").inner_text() == "1 письмо просрочено."
            row = page.locator("tr.clock-overdue")
            assert row.count() == 1
            assert "просрочено" in row.inner_text()
            page.screenshot(path=str(SCREENSHOTS / "staff-due-dates-ru.png"), full_page=True)
            page.goto(f"{base}/staff/campaigns/{SLUG}/due-dates")
            assert "awaiting answer" in page.locator("tr.clock-awaiting").inner_text()
            assert "10 calendar days" in page.locator("table.offices").inner_text()
            page.set_viewport_size({"width": 390, "height": 800})  # a phone: the tables scroll
            page.goto(f"{base}/staff/campaigns/{SLUG}/due-dates?lang=ru")  # in place, not the page
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            browser.close()
