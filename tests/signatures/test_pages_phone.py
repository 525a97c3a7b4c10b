"""The supporter's pages on a phone and a desktop, in a real browser (issue 16).

The same server as tests/signatures/test_browser.py (Debian's chromium through Playwright, a real
uvicorn, confirmation mails over SMTP to a local sink). Each page: no sideways scrolling at
390 px; the way to sign on the first screen; a failed submission opens at its error summary,
whose links lead to the fields; the confirmed supporter is thanked and told when the letters go;
withdraw and erase redirect (a reload sends nothing again); error pages speak to a person in the
page's language. Screenshots go to /tmp/phone-*.png to be looked at.
"""

from __future__ import annotations

import re
import shutil
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from tests.signatures.test_browser import BROWSER_ARGS, LOOK_AT, SLUG, Site, mail_round, site
from tests.test_browser import chromium_path

__all__ = ["chromium_path", "site"]  # the fixtures
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _shot(page: Any, folder: Path, name: str) -> None:
    path = folder / f"phone-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shutil.copy(path, LOOK_AT / path.name)


def _fits(page: Any) -> None:
    """No sideways scrolling: the page is no wider than the window."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def _in_view(page: Any, selector: str) -> None:
    """`selector`'s top is on the screen as the page opened (not below the fold)."""
    box = page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return [r.top, r.bottom]; }",
        selector,
    )
    assert -2 <= box[0] < page.viewport_size["height"], (selector, box)  # -2: subpixels


class TestTheCampaignPage:
    def test_the_way_to_sign_is_on_the_first_screen_and_the_long_parts_fold_away(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            for lang, viewport in (("en", PHONE), ("ru", PHONE), ("en", DESKTOP)):
                page = browser.new_page(viewport=viewport)
                page.goto(f"{site.base}/c/{SLUG}?lang={lang}")
                _fits(page)
                _in_view(page, "a.button[href='#sign']")
                assert not page.locator("pre.body").is_visible()  # the letter is folded away
                assert not page.locator("ul.offices").is_visible()
                main = page.locator("main").inner_text()
                assert "`" not in main  # Markdown rendered, not shown
                assert page.locator(".case .summary p").count() >= 1  # paragraphs, not one block
                _shot(page, tmp_path, f"campaign-{lang}-{viewport['width']}")
                page.click("a.button[href='#sign']")
                _in_view(page, "#sign")
                page.locator("#preview > summary").click()  # opens without JavaScript of ours
                assert page.locator("pre.body").is_visible()
                page.close()
            browser.close()

    def test_a_failed_submission_opens_at_the_error_summary_linked_to_each_field(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            for lang in ("en", "ru"):
                page = browser.new_page(viewport=PHONE)
                page.goto(f"{site.base}/c/{SLUG}?lang={lang}")
                page.fill("#email", "not-an-address")
                page.locator(".sign-form button[type=submit]").click()
                assert page.url.endswith("#sign")
                _in_view(page, "#form-errors")
                links = page.locator("#form-errors a")
                assert links.count() == 5  # name, e-mail, city, country, consent
                assert page.locator("#form-errors a[href='#email']").count() == 1
                _fits(page)
                _shot(page, tmp_path, f"errors-{lang}")
                page.locator("#form-errors a[href='#country']").click()
                _in_view(page, "#country")
                page.close()
            browser.close()


class TestAfterSigning:
    def test_thanks_with_the_schedule_a_phone_table_and_redirects_after_withdraw_and_erase(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        from playwright.sync_api import sync_playwright

        site.sink.messages.clear()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport=PHONE)
            page.goto(f"{site.base}/c/{SLUG}")
            page.fill("#name", "Grace Hopper")
            page.fill("#email", "grace@example.org")
            page.fill("#city", "Arlington")
            page.fill("#country", "United States")
            page.check("#consent")
            page.locator(".sign-form button[type=submit]").click()
            assert mail_round(site.settings) == 1
            [(_, _, content)] = site.sink.messages
            mail = message_from_bytes(content, policy=default_policy)
            assert isinstance(mail, EmailMessage)
            link = re.search(rf"{re.escape(site.base)}/confirm/\S+", mail.get_content())
            assert link
            page.goto(link.group(0))
            page.locator("main form button[type=submit]").click()
            assert page.url.endswith("?done=confirmed")
            thanks = page.locator(".thanks").inner_text()
            assert "Thank you" in thanks and "should all have gone by" in thanks
            assert page.locator("table.letters th", has_text="About").count() == 0
            _fits(page)
            for cell in page.locator("table.letters td.by").all():  # 'e-mail' on one line
                assert cell.evaluate("c => getComputedStyle(c).whiteSpace") == "nowrap"
            _shot(page, tmp_path, "status")

            page.locator("form#erase button[type=submit]").click()  # the box not ticked
            assert page.url.endswith("#erase")
            _in_view(page, "#erase-error")
            _shot(page, tmp_path, "erase-unticked")

            status = page.url.split("/erase")[0]
            page.goto(status)
            page.locator("button", has_text="Withdraw my signature").click()
            assert page.url == f"{status}?done=withdrawn"
            page.reload()  # a GET: nothing is sent again
            assert "withdrawn" in page.locator(".notice").inner_text()
            page.check("#really")
            page.locator("form#erase button[type=submit]").click()
            assert page.url.split("#")[0] == f"{site.base}/erased"  # the fragment stays on
            assert page.locator("h1").inner_text() == "Your data is erased"
            browser.close()


class TestErrorPages:
    def test_a_missing_campaign_speaks_russian_with_the_switch_and_a_way_home(
        self, chromium_path: str, site: Site, tmp_path: Path
    ) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport=PHONE)
            response = page.goto(f"{site.base}/c/no-such-campaign?lang=ru")
            assert response is not None and response.status == 404
            assert page.locator("h1").inner_text() == "Страница не найдена"
            assert "no campaign" not in page.content()
            assert page.locator("nav.languages a[hreflang=en]").count() == 1
            assert page.locator("main a[href='/?lang=ru']").count() == 1
            _fits(page)
            _shot(page, tmp_path, "404-ru")

            page.goto(f"{site.base}/confirm/{'x' * 43}?lang=ru")
            assert page.locator("html").get_attribute("lang") == "ru"
            assert page.locator("main a[href='/?lang=ru']").count() == 1
            browser.close()
