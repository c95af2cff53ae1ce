"""Memory of the file readers on a streamed load, end to end into raw.

Speed is the benchmark's to measure (`make bench`: rows/s on the S=10 demo data), never a timed
test: a busy machine fails any floor. This test prints the figure it saw and asserts what does
not depend on the machine: everything lands, memory stays bounded, and no body is stored.
"""

from __future__ import annotations

import resource
import time

from revwh.extract.activity import extract_calendars, extract_mail

from .synth import BODY_MARKER, write_calendar, write_mbox


def test_streamed_load_lands_everything_in_bounded_memory(tmp_path):
    from revwh.settings import load_settings

    mail, cal = tmp_path / "mail", tmp_path / "calendar"
    mail.mkdir()
    cal.mkdir()
    for i in range(4):
        write_mbox(mail / f"rep{i}@northpeak.io.mbox", 8_000, seed=i)
        write_calendar(cal / f"rep{i}@northpeak.io.ics", 300, seed=i)
    s = load_settings(env={"REVWH_HOME": str(tmp_path / "home"), "REVWH_MAIL_DIR": str(mail),
                           "REVWH_CALENDAR_DIR": str(cal)})
    started, cpu = time.monotonic(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = extract_mail(s, "2024-06-01").total_rows + extract_calendars(s, "2024-06-01").total_rows
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + after.ru_maxrss * 2) / 1024
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    main_cpu = time.process_time() - cpu
    print(f"\n{rows:,} rows in {wall:.1f}s = {rows / wall:,.0f} rows/s (load average {load}); "
          f"cpu: main {main_cpu:.1f}s, workers {worker_cpu:.1f}s = "
          f"{rows / (main_cpu + worker_cpu):,.0f} rows/cpu-s; "
          f"peak RSS main + 2 workers <= {peak_mb:.0f} MB")
    assert rows > 100_000
    assert peak_mb < 2048
    from .conftest import Home
    assert Home(tmp_path / "home", {}).text_everywhere(BODY_MARKER) == []
