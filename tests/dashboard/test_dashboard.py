"""`revwh dashboard` end to end: every page in headless chromium against the demo warehouse
(charts drawn with data, tables with rows, no error text, a screenshot per page in
test-artifacts/dashboard/), the filters, reads during a publish, and the empty and stale
warehouse messages."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from revwh import publish
from revwh.dashboard.server import APP
from revwh.dashboard.views import PAGES
from revwh.warehouse import connect_published
from tests.conftest import Home

from .conftest import ARTIFACTS

EXCEPTION = '[data-testid="stException"]'
CHART = '[data-testid="stVegaLiteChart"]'
# a run's elements mount (skeletons first) and vega-embed draws after the run has ended: done
# when nothing is a skeleton or stale and every chart has drawn its marks
DRAWN = f"""() => !document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]')
    && [...document.querySelectorAll('{CHART}')].every(c => c.querySelector('svg g.role-mark'))"""
MARKS_PER_CHART = f"""() => [...document.querySelectorAll('{CHART}')]
    .map(c => c.querySelectorAll('svg g.role-mark > *').length)"""
TABLE_ROWS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] [role="grid"]')]
    .map(g => Number(g.getAttribute('aria-rowcount')) - 1)"""
ERROR_TEXT = ("Traceback", "Error", "Exception")
TIMEOUT_MS = 90_000
FOOTER = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(e => e.innerText).filter(t => t.includes(' rendered ')).pop() || ''"""


def rendered(tab, title: str) -> None:
    """Wait for the run of page `title` to end (its footer, the run's last element, or an
    exception) and for its elements to be drawn."""
    footer = tab.get_by_text(f"{title} rendered")
    footer.or_(tab.locator(EXCEPTION)).first.wait_for(timeout=TIMEOUT_MS)
    tab.wait_for_function(DRAWN, timeout=TIMEOUT_MS)


def rerun(tab, title: str, action) -> None:
    """Do `action` (a widget change) and wait for the rerun it causes to end: the footer's
    time (milliseconds) changes."""
    before = tab.evaluate(FOOTER)
    action()
    tab.wait_for_function(f"() => ({FOOTER})() !== {json.dumps(before)}", timeout=TIMEOUT_MS)
    rendered(tab, title)


def show(tab, page) -> None:
    """Switch to a page through the navigation (one browser session for all pages)."""
    nav = tab.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name=page.TITLE, exact=True).click()
    rendered(tab, page.TITLE)


def screenshot(tab, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to it."""
    height = tab.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tab.set_viewport_size({"width": 1400, "height": max(1000, int(height) + 40)})
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def assert_clean(tab) -> str:
    text = tab.inner_text("body")
    assert tab.locator(EXCEPTION).count() == 0, text
    found = [word for word in ERROR_TEXT if word in text]
    assert not found, f"error text {found} on the page:\n{text}"
    return text


def assert_drawn(tab) -> None:
    marks = tab.evaluate(MARKS_PER_CHART)
    assert marks and all(n > 0 for n in marks), f"charts without marks: {marks}"


@pytest.fixture(scope="module")
def tab(dashboard: str, browser):
    """One browser session on the dashboard, opened on its first page."""
    tab = browser.new_page()
    tab.goto(dashboard)
    rendered(tab, PAGES[0].TITLE)
    yield tab
    tab.close()


@pytest.mark.parametrize("page", PAGES, ids=[p.URL for p in PAGES])
def test_page_draws_charts_with_data(tab, page) -> None:
    show(tab, page)
    shot = screenshot(tab, page.URL)
    text = assert_clean(tab)
    assert page.TITLE in text
    assert "Not published yet" not in text, text
    assert "No rows for these filters" not in text, text
    assert_drawn(tab)
    assert all(n > 0 for n in tab.evaluate(TABLE_ROWS))
    # every section says which published version it shows, and when it was published
    assert "published 20" in text and "data as of " in text
    assert shot.stat().st_size > 10_000


def test_pages_load_while_publishes_swap_the_replica(demo_home: Home, tab) -> None:
    """Each publish renames a new replica over the one the dashboard reads (every run of a
    page opens it): the pages load while publishes keep landing."""
    settings = demo_home.settings
    marts = publish.current(settings, "marts")
    swaps: list[int] = []  # inode of the replica after each publish
    stop = threading.Event()

    def republish() -> None:
        while not stop.is_set():
            publish.publish(settings, "marts", marts.version, marts.relations)
            swaps.append(settings.published_path.stat().st_ino)

    writer = threading.Thread(target=republish)
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while not swaps and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        landed = len(swaps)
        for page in PAGES[:3]:
            show(tab, page)
            assert_clean(tab)
            assert_drawn(tab)
        during = len(swaps) - landed
    finally:
        stop.set()
        writer.join()
    assert landed and during, f"no publish landed while the pages loaded ({swaps})"
    assert len(set(swaps)) > 1, "publishing did not replace the replica file"


def test_filters_narrow_the_charts(demo_home: Home, dashboard: str, browser) -> None:
    """In a session of its own: the filters stay chosen within a session."""
    with connect_published(demo_home.settings) as con:
        segment = con.scalar("select min(segment) from marts.fct_opportunity")
    page = next(p for p in PAGES if p.URL == "weighted")
    own = browser.new_page()
    try:
        own.goto(f"{dashboard}/{page.URL}")
        rendered(own, page.TITLE)
        own.locator('[data-testid="stMultiSelect"]').filter(has_text="Segment").click()
        rerun(own, page.TITLE,
              own.get_by_role("option", name=segment, exact=True).click)
        own.keyboard.press("Escape")  # close the drop-down before the screenshot
        assert "filtered by segment" in own.inner_text("body")
        screenshot(own, f"{page.URL}-filtered")
        assert_clean(own)
        assert_drawn(own)
    finally:
        own.close()


def run_app(home: Path, monkeypatch, **env: str) -> AppTest:
    monkeypatch.setenv("REVWH_HOME", str(home))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_empty_warehouse_says_so(tmp_path: Path, monkeypatch) -> None:
    app = run_app(tmp_path, monkeypatch)
    warnings = [w.value for w in app.warning]
    assert any("The warehouse is empty" in w and "revwh demo" in w for w in warnings), warnings


def test_stale_warehouse_says_so(demo_home: Home, tmp_path: Path, monkeypatch) -> None:
    """A copy of the demo's published replica whose last publish was three days ago."""
    shutil.copy(demo_home.settings.published_path, tmp_path / "published.duckdb")
    with duckdb.connect(str(tmp_path / "published.duckdb")) as con:
        con.execute("update revwh_meta.versions set published_at = published_at - interval 3 day")
    stale = [w.value for w in run_app(tmp_path, monkeypatch).warning]
    assert any("stale" in w and "36 hours" in w for w in stale), stale
    allowed = [w.value for w in run_app(tmp_path, monkeypatch,
                                        REVWH_DASHBOARD_STALE_HOURS="100").warning]
    assert not any("stale" in w for w in allowed), allowed
