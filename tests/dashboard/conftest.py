"""The dashboard against a demo warehouse: generated once per session at a small scale, landed
(CRM, mail, calendars), built, published and forecast with the real pipeline steps (the quality
gate is left out: it is the marts tests' subject and takes over a minute here). The real
`revwh dashboard` serves it on a free port; Debian's chromium loads the pages."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from revwh import pipeline
from revwh.demo import DEMO_AS_OF, generate
from tests.conftest import REVWH, ROOT, Home, make_home

DS = str(DEMO_AS_OF)
SCALE = 0.1  # ~230 opportunities: every page has data, the build stays short
CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags chromium's own connections are refused here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
START_TIMEOUT = 60


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Home:
    root: Path = tmp_path_factory.mktemp("dashboard_demo")
    generate(root / "demo", scale=SCALE, seed=42)
    home = make_home(root / "home",
                     REVWH_SALESFORCE_FILE_DROP=str(root / "demo" / "crm" / "salesforce"),
                     REVWH_MAIL_DIR=str(root / "demo" / "mail"),
                     REVWH_CALENDAR_DIR=str(root / "demo" / "calendar"))
    settings = home.settings
    pipeline.extract_crm(settings, DS)
    pipeline.extract_activity(settings, DS)
    built = pipeline.build(settings, DS)
    pipeline.publish_marts(settings, built["version"], built["relations"])
    forecast = pipeline.forecast(settings, DS)
    pipeline.publish_forecast(settings, forecast["version"], forecast["relations"])
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(home: Home) -> Iterator[str]:
    """`revwh dashboard` on a free localhost port until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([REVWH, "dashboard", "--port", str(port), "--host", "127.0.0.1"],
                            env={**os.environ, **home.env}, cwd=home.path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"revwh dashboard did not start:\n{proc.communicate()[0]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def dashboard(demo_home: Home) -> Iterator[str]:
    with serve(demo_home) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """A browser context in headless Debian chromium, driven by playwright. A missing browser
    fails the tests with the fix; it never skips them."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/ensure-browser.sh` (installs "
                    "Debian's chromium; `make test` runs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # one context for every tab: Streamlit's scripts are fetched and compiled once
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        yield context
        context.close()
        chromium.close()
