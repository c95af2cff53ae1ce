"""Kill the Salesforce extraction mid-run (SIGKILL), rerun: exactly the rows of an
uninterrupted run, no duplicates, nothing missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from revwh.contract import SALESFORCE
from revwh.extract.salesforce_api import extract_salesforce
from tests.conftest import ROOT
from tests.extract.crm.conftest import query, settings_for, sf_auth, table_counts
from tests.extract.crm.fake_salesforce import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, serve

DS = "2025-03-01"
RUN = "from revwh.settings import load_settings\n" \
      "from revwh.extract.salesforce_api import extract_salesforce\n" \
      f"extract_salesforce(load_settings(), {DS!r})\n"


def versions(settings) -> dict[str, Counter]:
    out = {}
    for table in table_counts(settings, "raw_salesforce"):
        if table.startswith("_"):
            continue
        cursor = SALESFORCE[table].cursor
        out[table] = Counter(query(settings, f'select id, {cursor} from raw_salesforce."{table}"'))
    return out


def test_kill_mid_extract_then_rerun_equals_uninterrupted_run(tmp_path, sf_drop):
    server, app = serve(sf_drop, page_size=10)
    try:
        app.page_delay = 0.05
        crashed = settings_for(tmp_path / "crashed")
        env = {**os.environ, "REVWH_HOME": str(crashed.home), "PYTHONPATH": str(ROOT),
               "SALESFORCE_INSTANCE_URL": server.url, "SALESFORCE_CLIENT_ID": CLIENT_ID,
               "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, "SALESFORCE_REFRESH_TOKEN": REFRESH_TOKEN}
        proc = subprocess.Popen([sys.executable, "-c", RUN], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while app.pages_served < 25 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the extraction ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert app.pages_served >= 25
        app.page_delay = 0.0

        rerun = extract_salesforce(crashed, DS, auth=sf_auth(server))
        clean = settings_for(tmp_path / "clean")
        extract_salesforce(clean, DS, auth=sf_auth(server))

        got, want = versions(crashed), versions(clean)
        assert got == want
        assert all(n == 1 for c in got.values() for n in c.values()), "duplicates"
        assert sum(rerun.rows.values()) == sum(sum(c.values()) for c in want.values())
    finally:
        server.stop()
