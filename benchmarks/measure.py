"""Measure one subprocess from the parent: wall time, CPU time and peak memory.

- wall time: `time.perf_counter()` around start and reap of the child;
- CPU time: `ru_utime + ru_stime` from `os.wait4(pid, 0)`: the child's own CPU plus that of every
  descendant it waited for (the dbt or `airflow` subprocesses a step runs);
- peak memory: `ru_maxrss` of the same `wait4` (KB on Linux): the largest resident set of the
  child or any descendant it waited for (a maximum, not a sum of concurrent processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    returncode: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    timed_out: bool = False
    load_before: float = 0.0
    cpu_pressure_pct: float | None = None


def cpu_stall_us() -> int | None:
    """Linux PSI: total microseconds during which some runnable task waited for a CPU
    (machine-wide). Its growth over a step, divided by the step's wall time, says how contended
    the machine was while the step ran."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(line.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def run_measured(argv: list[str], *, env: dict[str, str], cwd: Path, log_file: Path,
                 timeout_s: float | None = None) -> Measurement:
    """Run `argv` with stdout/stderr into `log_file` and measure it with wait4."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    stall_before = cpu_stall_us()
    timed_out = threading.Event()
    with log_file.open("ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)

        def kill() -> None:  # the child leads its own process group: end it and its children
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
    stall_after = cpu_stall_us()
    pressure = (None if stall_before is None or stall_after is None or wall <= 0
                else min(100.0, (stall_after - stall_before) / 1e6 / wall * 100))
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measurement(returncode=proc.returncode, wall_s=wall,
                       cpu_s=usage.ru_utime + usage.ru_stime, user_s=usage.ru_utime,
                       sys_s=usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024.0,
                       timed_out=timed_out.is_set(), load_before=load_before,
                       cpu_pressure_pct=pressure)
