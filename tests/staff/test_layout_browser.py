"""Every staff page in a real browser (Debian's chromium via Playwright) at a phone's width and
a desktop's: nothing scrolls sideways at 390 px, axe-core finds no violation, the focus ring
stands out, and the dashboard chart's labels stay readable (issue 16).

axe-core is the copy bundled by the axe-playwright-python package, run inside the page as
Playwright evaluates it (the page's strict CSP stays on). Screenshots go to APPEALS_SCREENSHOTS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from tests.staff.test_browser import ADMIN, PASSWORD, SLUG, server
from tests.test_browser import SCREENSHOTS, chromium_path

__all__ = ["chromium_path", "server"]  # fixtures, used by name

PHONE, DESKTOP = 390, 1280
# The staff pages that answer GET with HTML; {delivery} and {office} are filled in on the way.
PAGES = (
    "/staff",
    "/staff/campaigns/{slug}",
    "/staff/campaigns/{slug}/status/pause",
    "/staff/campaigns/{slug}/preview",
    "/staff/campaigns/{slug}/deliveries",
    "/staff/deliveries/{delivery}",
    "/staff/campaigns/{slug}/due-dates",
    "/staff/tasks",
    "/staff/batches",
    "/staff/responses",
    "/staff/responses/new",
    "/staff/inbound",
    "/staff/directory",
    "/staff/directory/{office}",
    "/staff/account",
    "/staff/people",
    "/staff/audit",
)


def _axe_source() -> str:
    try:
        bundled = resources.files("axe_playwright_python") / "axe.min.js"
    except ModuleNotFoundError:  # pragma: no cover - the dev extra installs it
        pytest.fail("axe-playwright-python is not installed (pip install axe-playwright-python)")
    return bundled.read_text(encoding="utf-8")


def _violations(page: Any, axe: str) -> list[str]:
    results = page.evaluate(
        axe + "\n;axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => v.id + ' (' + v.impact + '): '"
        " + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    return list(results)


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-")


@pytest.fixture(scope="module")
def signed_in(chromium_path: str, server: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """A signed-in browser context and the ids that fill in PAGES."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
        page = context.new_page()
        page.goto(f"{server}/staff/login")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.goto(f"{server}/staff/campaigns/{SLUG}/deliveries")
        href = page.locator("table.log tbody a").first.get_attribute("href") or ""
        ids = {"slug": SLUG, "delivery": href.rsplit("/", 1)[-1], "office": "uk-prime-minister"}
        page.close()
        yield context, ids
        browser.close()


@pytest.mark.parametrize("path", PAGES)
class TestStaffPage:
    def test_fits_a_phone_and_axe_finds_nothing(
        self, signed_in: tuple[Any, dict[str, str]], server: str, path: str
    ) -> None:
        context, ids = signed_in
        url = server + path.format(**ids)
        page = context.new_page()
        try:
            axe = _axe_source()
            for width in (DESKTOP, PHONE):
                page.set_viewport_size({"width": width, "height": 844 if width == PHONE else 900})
                response = page.goto(url)
                assert response is not None and response.status == 200, url
                assert "/staff/login" not in page.url
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"layout-{_name(path.format(**ids))}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, f"{url} is {wide} px wide at {width} px"
                assert _violations(page, axe) == [], f"{url} at {width} px"
        finally:
            page.close()


class TestFocusRing:
    def test_the_ring_contrasts_3_to_1_with_the_page(
        self, signed_in: tuple[Any, dict[str, str]], server: str
    ) -> None:
        context, _ = signed_in
        page = context.new_page()
        page.goto(f"{server}/staff")
        page.keyboard.press("Tab")
        colour = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
        style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        page.close()
        assert style != "none"
        rgb = [int(c) for c in re.findall(r"\d+", colour)[:3]]
        # Against the page (#f7f8fa) and white cards: WCAG 2.2 non-text contrast, 1.4.11.
        assert _contrast(rgb, [0xF7, 0xF8, 0xFA]) >= 3 and _contrast(rgb, [255, 255, 255]) >= 3


def _contrast(a: list[int], b: list[int]) -> float:
    def luminance(rgb: list[int]) -> float:
        def channel(c: int) -> float:
            s = c / 255
            return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

        r, g, bl = (channel(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * bl

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


class TestDashboardChart:
    def test_labels_stay_readable_on_a_phone_and_four_series_at_most(
        self, signed_in: tuple[Any, dict[str, str]], server: str
    ) -> None:
        context, _ = signed_in
        page = context.new_page()
        page.set_viewport_size({"width": PHONE, "height": 844})
        page.goto(f"{server}/staff/campaigns/{SLUG}")
        sizes = page.evaluate(
            "[...document.querySelectorAll('figure.chart svg text')]"
            ".map(t => t.getBoundingClientRect().height)"
        )
        fonts = page.evaluate(
            "[...document.querySelectorAll('figure.chart svg text')].map(t => {"
            " const m = t.getScreenCTM(); return parseFloat(getComputedStyle(t).fontSize) * m.a; })"
        )
        charts = page.locator("figure.chart svg.plot")
        lines = [charts.nth(i).locator("polyline").count() for i in range(charts.count())]
        table = page.locator("details table").count()
        page.close()
        assert fonts and min(fonts) >= 11, fonts
        assert sizes and min(sizes) > 0
        assert lines and max(lines) <= 4, lines
        assert table >= 1  # the numbers table stays
