"""The staff pages in a real browser: Debian's chromium driven by Playwright.

Skipped with a reason where chromium is not installed, unless APPEALS_TEST_BROWSER=required
(CI sets it and installs chromium).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import _free_port, _wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("APPEALS_TEST_BROWSER", "").lower() == "required"
SCREENSHOTS = Path(os.environ.get("APPEALS_SCREENSHOTS", "var/screenshots"))  # to look at


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("chromium is not installed and APPEALS_TEST_BROWSER=required")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real `appeals serve` on a fresh SQLite database with the report's data and a token."""
    folder = tmp_path_factory.mktemp("browser")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
    }
    env["APPEALS_VAR_DIR"] = str(folder / "var")

    def appeals(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=env,
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    appeals("db", "upgrade")
    appeals("import")
    token = appeals("users", "create", "ada@staff.example", "--role", "campaigner").splitlines()[-1]
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
        created = httpx.post(
            f"{base}/api/v1/campaigns",
            json={
                "slug": "free-bokayev-ayan",
                "title": "Free Maks Bokayev and Talgat Ayan",
                "cases": ["bokayev-ayan"],
                "targets": {
                    "selectors": [{"tag": "international"}, {"tag": "national"}, {"tag": "us"}]
                },
                "template": "individual-appeal",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        yield base, token
    finally:
        process.terminate()
        process.communicate(timeout=30)


class TestStaffPreviewPage:
    def test_sign_in_then_preview_a_letter_to_each_kind_of_office(
        self, chromium_path: str, server: tuple[str, str]
    ) -> None:
        from playwright.sync_api import sync_playwright

        base, token = server
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
            page = browser.new_page()
            page.goto(f"{base}/staff/campaigns/free-bokayev-ayan/preview")
            assert page.url.startswith(f"{base}/staff/login")  # sent to sign in first
            page.click("text=Sign in with an API token instead")  # the password form is first
            page.fill("#token", "apl_wrong")
            page.click("#token-sign-in")
            assert page.locator("[role=alert]").inner_text() == "That token is not valid."
            page.click("text=Sign in with an API token instead")
            page.fill("#token", token)
            page.click("#token-sign-in")
            assert page.url.startswith(f"{base}/staff/campaigns/free-bokayev-ayan/preview")

            page.select_option("#recipient", "france-prime-minister")
            message = "Je suis enseignante à Lyon. <script>alert(1)</script> {{ 7*7 }}"
            page.fill("#supporter_name", "Élise Dupont")
            page.fill("#message", message)
            page.click("text=Preview")
            body = page.locator("pre.body").inner_text()
            assert body.startswith("Monsieur le Premier ministre,")
            assert message in body  # shown as text: escaped, never run or rendered
            assert "Élise Dupont" in body
            page.screenshot(path=str(SCREENSHOTS / "preview-france.png"), full_page=True)

            page.select_option("#recipient", "pace-president")
            page.click("text=Preview")
            assert "unreachable" in page.locator(".letter .meta").inner_text()
            unreachable = page.locator(
                "section[aria-label='Unreachable offices'] li"
            ).all_inner_texts()
            assert len(unreachable) == 5
            page.screenshot(path=str(SCREENSHOTS / "preview-pace.png"), full_page=True)

            page.click("text=Sign out")
            page.goto(f"{base}/staff/campaigns/free-bokayev-ayan/preview")
            assert page.url.startswith(f"{base}/staff/login")
            browser.close()


class TestApiDocs:
    def test_the_docs_page_renders_every_operation_offline(
        self, chromium_path: str, server: tuple[str, str]
    ) -> None:
        from playwright.sync_api import sync_playwright

        base, _ = server
        schema = httpx.get(f"{base}/openapi.json").json()
        operations = {
            (method.upper(), path)
            for path, methods in schema["paths"].items()
            for method in methods
        }
        assert schema["openapi"].startswith("3.1")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            elsewhere: list[str] = []
            page.on(
                "request",
                lambda request: (
                    elsewhere.append(request.url) if not request.url.startswith(base) else None
                ),
            )
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            # An operation with two tags is listed under each: compare the distinct ones.
            shown = {
                (method, path)
                for method, path in page.locator(".opblock").evaluate_all(
                    "blocks => blocks.map(b => ["
                    "b.querySelector('.opblock-summary-method').textContent.trim(),"
                    "b.querySelector('.opblock-summary-path').getAttribute('data-path')])"
                )
            }
            text = page.locator("body").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "api-docs.png"), full_page=False)
            browser.close()
        assert "Unable to render this definition" not in text
        assert shown == operations  # every operation of the schema is listed
        assert elsewhere == []  # nothing was fetched from anywhere but this server
