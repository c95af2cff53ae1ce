"""Memory of the file readers on a streamed load, end to end into raw.

Speed is the benchmark's to measure (`make bench`: rows/s on the S=10 demo data), never a timed
test: a busy machine fails any floor. This test prints the figure it saw and asserts what does
not depend on the machine: everything lands, memory stays bounded, and no body is stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .synth import BODY_MARKER, write_calendar, write_mbox

# the extraction in a process of its own: the test process's own peak (whatever ran in it
# before, e.g. other tests on the same xdist worker) must not count
EXTRACT = """
from revwh.extract.activity import extract_calendars, extract_mail
from revwh.settings import load_settings
s = load_settings()
print(extract_mail(s, "2024-06-01").total_rows + extract_calendars(s, "2024-06-01").total_rows)
"""
# ...started by a small launcher that reaps it: Linux keeps a process's peak across execve, so
# a child started straight from a large pytest worker would report the worker's size
LAUNCH = """
import os, subprocess, sys
proc = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def test_streamed_load_lands_everything_in_bounded_memory(tmp_path):
    mail, cal = tmp_path / "mail", tmp_path / "calendar"
    mail.mkdir()
    cal.mkdir()
    for i in range(4):
        write_mbox(mail / f"rep{i}@northpeak.io.mbox", 8_000, seed=i)
        write_calendar(cal / f"rep{i}@northpeak.io.ics", 300, seed=i)
    env = {**os.environ, "REVWH_HOME": str(tmp_path / "home"), "REVWH_MAIL_DIR": str(mail),
           "REVWH_CALENDAR_DIR": str(cal)}
    started = time.monotonic()
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        subprocess.run([sys.executable, "-c", LAUNCH, EXTRACT], env=env, stdout=out, stderr=err,
                       check=True)
    wall = time.monotonic() - started
    # wait4 in the launcher: the extraction's own usage; ru_maxrss is the largest process among
    # it and the worker processes it waited for, so three times it bounds main + two workers
    *printed, reaped = (tmp_path / "out.txt").read_text().strip().splitlines()
    exit_code, maxrss_kb = map(int, reaped.split())
    assert exit_code == 0, (tmp_path / "err.txt").read_text()[-3000:]
    rows = int(printed[-1])
    largest_mb = maxrss_kb / 1024
    print(f"\n{rows:,} rows in {wall:.1f}s = {rows / wall:,.0f} rows/s; "
          f"largest process {largest_mb:.0f} MB")
    assert rows > 100_000
    assert 3 * largest_mb < 2048
    from .conftest import Home
    assert Home(tmp_path / "home", {}).text_everywhere(BODY_MARKER) == []
