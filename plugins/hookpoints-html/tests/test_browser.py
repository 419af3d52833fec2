"""The page in a real headless browser: Debian's chromium, driven by playwright.

It must render (title, tables, every plot with a size), log no console error, and request
nothing but its own file. A screenshot is kept under $HOOKPOINTS_TEST_ARTIFACTS (else the
test's tmp_path). Without chromium or playwright the test FAILS, saying what to install: a
skip would hide that the page was never looked at. HOOKPOINTS_NO_BROWSER=1 switches it off
explicitly (shown as a skip with that reason).

chromium: ``apt-get install -y chromium`` (``.ci/run`` does it); playwright: the plugin's
``test`` extra. Never ``playwright install``: the browser is Debian's, at /usr/bin/chromium
(or $HOOKPOINTS_CHROMIUM).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hookpoints_html import export_html, repr_html

from hookpoints.plugins import HookReport


def _missing() -> str | None:
    """Why the browser cannot run here (what to install), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "the browser test needs playwright: pip install playwright (the test extra of "
            "hookpoints-html); set HOOKPOINTS_NO_BROWSER=1 to skip it on purpose"
        )
    if not Path(_executable()).is_file():
        return (
            f"the browser test needs Debian's chromium at {_executable()}: apt-get install -y "
            "chromium (or set HOOKPOINTS_CHROMIUM); set HOOKPOINTS_NO_BROWSER=1 to skip it on purpose"
        )
    return None


def _executable() -> str:
    return os.environ.get("HOOKPOINTS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class Visit:
    """What the browser saw while a page loaded."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser_or_reason() -> Iterator[Any]:
    """The launched browser, or the reason it is missing (each test then fails with it)."""
    if os.environ.get("HOOKPOINTS_NO_BROWSER") == "1":
        yield None
        return
    reason = _missing()
    if reason is not None:
        yield reason
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_executable(), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _require(browser_or_reason: Any) -> Any:
    """The browser; in the test itself (not a fixture), so that a missing one FAILS the test."""
    if browser_or_reason is None:
        pytest.skip("HOOKPOINTS_NO_BROWSER=1: the browser test is switched off explicitly")
    if isinstance(browser_or_reason, str):
        pytest.fail(browser_or_reason, pytrace=False)
    return browser_or_reason


def _open(browser: Any, url: str | None = None, content: str | None = None) -> tuple[Any, Visit]:
    """A page at ``url`` (or with ``content``), every request recorded, any non-file one refused."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    visit = Visit()

    def route(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            visit.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and visit.console_errors.append(message.text))
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    if url is not None:
        page.goto(url, wait_until="load")
    else:
        page.set_content(content or "", wait_until="load")
    page.wait_for_timeout(200)  # late requests (fonts, images) would show up here
    return page, visit


def _assert_plots_render(page: Any, count: int) -> None:
    plots = page.locator("svg.hp-plot")
    assert plots.count() == count
    for i in range(count):
        plot = plots.nth(i)
        box = plot.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, f"plot {i} has no size: {box}"
        texts = plot.locator("text")
        assert texts.count() > 5, f"plot {i} has no text"
        label = texts.first.bounding_box()
        assert label is not None and label["width"] > 0 and label["height"] > 0
        drawn = plot.locator("path")
        assert drawn.count() > 5, f"plot {i} drew nothing"


def test_page_renders_offline_with_no_error(
    browser_or_reason: Any, reports: dict[str, HookReport], tmp_path: Path, artifacts: Path
) -> None:
    browser = _require(browser_or_reason)
    path = export_html(reports["comparison"], tmp_path / "report.html")
    url = path.resolve().as_uri()
    page, visit = _open(browser, url)

    assert page.title() == "hookpoints report: TinyGPT"
    assert page.locator("h1").inner_text() == "hookpoints report: TinyGPT"
    tables = page.locator("table")
    assert tables.count() == 2
    for i in range(2):
        box = tables.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    assert page.locator("table >> nth=1").locator("tbody tr").count() == len(reports["comparison"].points)
    first = page.locator("tr.hp-first td.name")
    assert first.inner_text() == "blocks.0.attn.hook_z"
    _assert_plots_render(page, 3)
    # the links between sections resolve inside the page
    page.locator("nav a", has_text="Fire counts").click()
    assert page.evaluate("location.hash") == "#hp-fired"
    assert page.evaluate("window.scrollY") > 0

    screenshot = artifacts / "hookpoints-html-report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")

    assert visit.console_errors == [], visit.console_errors
    assert visit.page_errors == [], visit.page_errors
    assert visit.blocked == [], f"the page tried to fetch {visit.blocked}"
    assert set(visit.requests) == {url}, f"requests beyond the file itself: {visit.requests}"


def test_two_notebook_fragments_share_a_page(browser_or_reason: Any, reports: dict[str, HookReport]) -> None:
    browser = _require(browser_or_reason)
    body = repr_html(reports["comparison"]) + repr_html(reports["arith"])
    page, visit = _open(
        browser, content=f"<!DOCTYPE html><html><head><title>nb</title></head><body>{body}</body></html>"
    )
    assert page.locator("div.hookpoints-report").count() == 2
    _assert_plots_render(page, 5)
    duplicated = page.evaluate(
        "(() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
        " return ids.filter((id, i) => ids.indexOf(id) !== i); })()"
    )
    assert duplicated == []
    assert visit.console_errors == [] and visit.page_errors == [] and visit.blocked == []


def test_the_recorder_sees_network_requests(browser_or_reason: Any, tmp_path: Path) -> None:
    """A control: a page that does fetch is caught, so an empty record above means something."""
    browser = _require(browser_or_reason)
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        "<!DOCTYPE html><html><head><title>leaky</title>"
        '<link rel="stylesheet" href="https://cdn.example.invalid/style.css"></head>'
        '<body><img src="//images.example.invalid/x.png"></body></html>',
        encoding="utf-8",
    )
    _, visit = _open(browser, leaky.resolve().as_uri())
    assert "https://cdn.example.invalid/style.css" in visit.blocked
    # "//host/x" from a file:// page is file://host/x: recorded as a request all the same
    assert any("images.example.invalid" in url for url in visit.requests), visit.requests
