"""The dashboard against the session's demo warehouse (`airflow_demo`: `revwh demo` at a small
scale through Airflow, CRM, mail and calendars, gated, published and forecast). The real
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

from tests.conftest import REVWH, ROOT, AirflowDemo, Home

CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags chromium's own connections are refused here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
START_TIMEOUT = 60


@pytest.fixture(scope="session")
def demo_home(airflow_demo: AirflowDemo) -> Home:
    return airflow_demo.home


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
