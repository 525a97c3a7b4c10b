"""Signing in a real browser: Debian's chromium (Playwright) against a real uvicorn server whose
confirmation mails go over SMTP to a real aiosmtpd server on 127.0.0.1.

Open the campaign page, send the form with mistakes, fix them, send it, read the confirmation
mail from the SMTP sink, follow its link, confirm, see the status page, withdraw. Screenshots go
to the test's tmp folder and to /tmp/sign-*.png to be looked at.
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PROJECT_ROOT, Settings
from app.dataset import service as dataset_service
from app.db import make_engine, make_sessionmaker, utcnow
from app.delivery.email import SmtpTransport
from app.migrations import upgrade
from app.signatures.mailer import run_mail_round
from app.staff import service as staff_service
from app.staff.models import Role
from tests.delivery.test_worker import Sink
from tests.test_browser import chromium_path
from tests.test_cli import _free_port, _wait_for

__all__ = ["chromium_path"]  # the fixture: skip (or fail in CI) without chromium
SLUG = "free-bokayev-ayan"
LOOK_AT = Path(os.environ.get("APPEALS_SCREENSHOTS_COPY", "/tmp"))  # noqa: S108 - to look at
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Site:
    base: str
    settings: Settings  # as the server has them: SMTP to the sink
    sink: Sink


async def _prepare(url: str) -> str:
    """Migrate, import the report's data, and make a campaigner; returns their token."""
    engine = make_engine(url)
    await upgrade(engine, PROJECT_ROOT / "alembic")
    async with AsyncSession(engine) as session:
        await dataset_service.import_recipients(session, folder=PROJECT_ROOT / "recipients")
        await dataset_service.import_cases(session, folder=PROJECT_ROOT / "cases")
        _, token = await staff_service.create_user(
            session, email="ada@staff.example", role=Role.campaigner, actor="test"
        )
        await session.commit()
    await engine.dispose()
    return token


def _open_campaign(base: str, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    office = httpx.get(f"{base}/api/v1/recipients/pace-president").json()
    channel = next(c for c in office["channels"] if c["kind"] == "email")
    verified = httpx.patch(
        f"{base}/api/v1/recipients/pace-president/channels/{channel['id']}",
        json={"address": "president@pace.example", "source": "test"},
        headers=auth,
    )
    assert verified.status_code == 200, verified.text
    created = httpx.post(
        f"{base}/api/v1/campaigns",
        json={
            "slug": SLUG,
            "title": "Free Maks Bokayev and Talgat Ayan",
            "description": "Two civic activists serve five years for speaking at a rally.",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": ["pace-president", "uk-prime-minister"]},
            "template": "individual-appeal",
            "channel_preference": ["email", "postal"],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    opened = httpx.patch(f"{base}/api/v1/campaigns/{SLUG}", json={"status": "open"}, headers=auth)
    assert opened.status_code == 200, opened.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("signing")
    url = f"sqlite+aiosqlite:///{folder / 'appeals.db'}"
    token = asyncio.run(_prepare(url))
    sink = Sink()
    smtp_port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
    }
    env |= {
        "APPEALS_DATABASE_URL": url,
        "APPEALS_VAR_DIR": str(folder / "var"),
        "APPEALS_MAIL_TRANSPORT": "smtp",
        "APPEALS_SMTP_HOST": "127.0.0.1",
        "APPEALS_SMTP_PORT": str(smtp_port),
        "APPEALS_PUBLIC_URL": base,
        # The minimum fill time is tested in test_pages; a robot types faster than any person.
        "APPEALS_SIGNING_MIN_FILL_SECONDS": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(f"{base}/api/v1/health", process)
        _open_campaign(base, token)
        settings = Settings(
            database_url=url,
            var_dir=folder / "var",
            mail_transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_timeout_seconds=5,
            public_url=base,
        )
        yield Site(base, settings, sink)
    finally:
        process.terminate()
        process.communicate(timeout=30)
        controller.stop()


def mail_round(settings: Settings) -> int:
    """One round of the confirmation mailer, as the worker runs it, against the server's database
    (in a thread: the browser's sync API owns this thread's event loop)."""

    async def run() -> int:
        engine = make_engine(settings.effective_database_url)
        transport = SmtpTransport(settings)
        try:
            return await run_mail_round(
                make_sessionmaker(engine), transport, settings, now=utcnow()
            )
        finally:
            await transport.close()
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


class TestSigningInTheBrowser:
    def test_sign_fix_mistakes_confirm_by_mail_see_status_and_withdraw(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        from playwright.sync_api import sync_playwright

        shots = tmp_path / "screenshots"
        shots.mkdir()

        def screenshot(page: object, name: str) -> None:
            path = shots / f"sign-{name}.png"
            page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
            shutil.copy(path, LOOK_AT / f"sign-{name}.png")

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(f"{site.base}/c/{SLUG}")
            assert page.locator("h1").inner_text() == "Free Maks Bokayev and Talgat Ayan"
            assert "0 people have signed." in page.locator(".count").inner_text()
            page.locator("#preview > summary").click()  # the letter preview, folded away
            assert page.locator("pre.body").inner_text().strip()

            page.fill("#name", "")
            page.fill("#email", "ada.example.org")
            page.fill("#city", "London")
            page.fill("#country", "United Kingdom")
            message = "I teach history in London. <script>alert(1)</script>"
            page.fill("#message", message)
            page.click("button:has-text('Sign the letter')")
            assert page.locator("#form-errors").is_visible()
            assert page.locator("#name-error").inner_text() == "Please fill this in."
            assert "valid e-mail address" in page.locator("#email-error").inner_text()
            assert "tick the box" in page.locator("#consent-error").inner_text()
            assert page.input_value("#city") == "London"  # what was typed is kept
            assert page.input_value("#message") == message
            screenshot(page, "errors-mobile")

            page.fill("#name", "Ada Lovelace")
            page.fill("#email", "ada@example.org")
            page.check("#consent")
            page.click("button:has-text('Sign the letter')")
            assert page.locator("h1").inner_text() == "Check your inbox"
            assert not site.sink.messages  # nothing is sent before the mail round

            assert mail_round(site.settings) == 1
            [(_, rcpt_tos, content)] = site.sink.messages
            assert rcpt_tos == ["ada@example.org"]
            mail = email.message_from_bytes(content, policy=default_policy)
            assert isinstance(mail, EmailMessage)
            text = mail.get_content()
            confirm = re.search(rf"{re.escape(site.base)}/confirm/\S+", text)
            assert confirm, text

            page.set_viewport_size({"width": 1100, "height": 900})
            page.goto(confirm.group(0))
            assert page.locator("h1").inner_text() == "Confirm your signature"
            assert message in page.locator("dd.message").inner_text()  # shown as text
            page.click("button:has-text('Confirm and send my letters')")
            assert page.url.startswith(f"{site.base}/s/")
            rows = page.locator("table.letters tbody tr")
            assert rows.count() == 2
            assert page.locator("td.delivery-queued").count() == 2
            screenshot(page, "status")

            page.click("button:has-text('Withdraw my signature')")
            assert "Your signature is withdrawn" in page.locator(".notice").inner_text()
            assert page.locator("td.delivery-cancelled").count() == 2
            screenshot(page, "withdrawn")

            page.goto(f"{site.base}/c/{SLUG}")
            assert "0 people have signed." in page.locator(".count").inner_text()
            screenshot(page, "campaign")
            browser.close()


class TestRussianAndEmbedded:
    def test_the_russian_page_fits_a_phone_and_the_form_signs_inside_a_partner_iframe(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        """The Russian campaign page on a phone without sideways scrolling; the embed snippet
        on a partner page at another origin (a second local server) frames the form, which
        signs inside the frame, while the campaign page itself refuses to be framed."""
        import functools
        import http.server
        import threading

        from playwright.sync_api import expect, sync_playwright

        snippet = httpx.get(f"{site.base}/api/v1/campaigns/{SLUG}/embed?lang=ru").json()["html"]
        (tmp_path / "partner.html").write_text(
            '<!doctype html><meta charset="utf-8"><h1>Partner</h1>'
            f'{snippet}<iframe id="page" src="{site.base}/c/{SLUG}"></iframe>',
            encoding="utf-8",
        )
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=tmp_path)
        partner = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), handler)
        threading.Thread(target=partner.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path, args=BROWSER_ARGS
                )
                page = browser.new_page(viewport={"width": 360, "height": 780})
                page.goto(f"{site.base}/c/{SLUG}?lang=ru")
                assert page.locator("html").get_attribute("lang") == "ru"
                page.locator("#preview > summary").click()
                assert page.locator("button[type=submit].secondary").inner_text() == "Показать"
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360  # no sideways scrolling with the longer Russian words
                path = tmp_path / "sign-ru-mobile.png"
                page.screenshot(path=str(path), full_page=True)
                shutil.copy(path, LOOK_AT / "sign-ru-mobile.png")

                port = partner.server_address[1]
                page.goto(f"http://127.0.0.1:{port}/partner.html")
                frame = page.frame_locator("iframe[src*='/embed']")
                frame.locator("#name").fill("Ада Лавлейс")
                frame.locator("#email").fill("ada.embed@example.org")
                frame.locator("#city").fill("Лондон")
                frame.locator("#country").fill("Великобритания")
                frame.locator("#consent").check()
                frame.locator("button:has-text('Подписать письмо')").click()
                expect(frame.locator("h1")).to_have_text("Проверьте почту")  # in the frame
                framed = [f.url for f in page.frames]
                assert not any(url == f"{site.base}/c/{SLUG}" for url in framed), framed
                browser.close()
        finally:
            partner.shutdown()
