"""The benchmark harness itself (not a timed test): a quick run at a tiny scale produces
results.json and RESULTS.md with every step measured or explicitly missing, and bars evaluated."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.bars import BAR_STATUSES, BARS, evaluate_all
from benchmarks.report import render
from benchmarks.run import ALL_STEP_NAMES, STEP_RATIOS, median_run, parse_args

ROOT = Path(__file__).resolve().parents[2]
# Each dbt build or gate costs 20-40 s of fixed start-up (dbt, Great Expectations, Prophet
# imports) even at a tiny scale. To keep this under ~90 s, the smoke run leaves out the steps that
# are thin wrappers around the same measured-subprocess path (gate, forecast, the incremental
# build, the whole runs); they are then reported as "not run", which is checked too.
SMOKE_STEPS = ["demo", "duckdb_read_csv", "extract_crm", "extract_activity", "build_full",
               "publish", "prophet_fit"]
MEASURES = ("wall_s", "cpu_s", "peak_rss_mb")


def raised_in_harness(log: Path) -> bool:
    """Whether the last traceback in a step's log was raised by the harness's own code."""
    frames = re.findall(r'File "([^"]+)", line', log.read_text(errors="replace"))
    return bool(frames) and Path(frames[-1]).is_relative_to(ROOT / "benchmarks")


def test_quick_run_writes_complete_results(tmp_path: Path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVWH_")}
    env["COLUMNS"] = "500"  # the summary names long paths: keep them on one line
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--steps", ",".join(SMOKE_STEPS),
         "--out", str(out), "--work", str(work)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RESULTS.md" in proc.stdout

    results = json.loads((out / "results.json").read_text())
    for key in ("duration_s", "cpu_count", "memory_gb", "platform"):
        assert key in results or key in results["machine"]
    for dist in ("python", "duckdb", "dbt-core", "apache-airflow", "prophet", "dlt"):
        assert results["versions"][dist], dist
    assert results["quick"] is True and list(results["scales"]) == ["0.05"]

    steps = results["scales"]["0.05"]["steps"]
    assert set(ALL_STEP_NAMES) <= set(steps)
    for name, rec in steps.items():
        if rec["status"] in ("ok", "failed"):
            assert all(isinstance(rec[m], float) and rec[m] > 0 for m in MEASURES), (name, rec)
        else:
            assert rec["status"] in ("missing", "not run"), (name, rec)
            assert rec["reason"], (name, rec)
        if rec["status"] == "failed":
            # a step of the package may fail (it is reported, with its error); the harness's own
            # code must not be where it failed
            assert rec["error"], (name, rec)
            assert not raised_in_harness(Path(rec["log"])), (name, rec["error"])
    assert steps["demo"]["status"] == "ok" and steps["demo"]["rows"] > 0
    assert steps["duckdb_read_csv"]["status"] == "ok" and steps["duckdb_read_csv"]["rows"] > 0
    for name in set(ALL_STEP_NAMES) - set(SMOKE_STEPS):
        assert steps[name] == {"status": "not run", "reason": "not selected (--steps)"}, name
    if steps["build_full"]["status"] == "ok":
        # dbt runs in a grandchild: the CPU of the waited-for dbt process is counted
        assert steps["build_full"]["cpu_s"] > 1.0

    ratios = results["scales"]["0.05"]["ratios"]
    assert set(STEP_RATIOS) | {"prophet_vs_baselines"} <= set(ratios)
    for r in ratios.values():
        assert (r["status"] == "ok" and r["value"] > 0) or r["reason"]

    assert len(results["bars"]) == len(BARS)
    for bar in results["bars"]:
        assert bar["status"] in BAR_STATUSES
        assert bar["status"] == "not run"  # the bars are for S=1 and S=10, not the quick scale

    text = (out / "RESULTS.md").read_text()
    assert text == render(results)
    for heading in ("## Machine and versions", "## Bars promised by the issues",
                    "## Steps at S=0.05", "## Ratios", "## Method"):
        assert heading in text


def test_bars_are_met_not_met_or_missing_with_the_figure():
    def step(wall, rss=100.0):
        return {"status": "ok", "wall_s": wall, "cpu_s": wall, "peak_rss_mb": rss,
                "details": {"marts_note": "3 mart models built"}}

    results = {
        "features": {"forecast_backtest": {"present": False, "reason": "no backtest yet"}},
        "scales": {
            "1": {"steps": {"forecast": step(30.0)}, "ratios": {}},
            "10": {"steps": {"demo": step(75.0, rss=900.0), "build_full": step(100.0),
                             "extract_activity": {"status": "missing", "reason": "not landed"}},
                   "ratios": {"gate_vs_build": {"status": "ok", "value": 0.1}}},
        },
    }
    bars = {b["text"]: b for b in evaluate_all(results)}
    demo_time = bars["S=10 demo data generates in under 60 s"]
    assert (demo_time["status"], demo_time["figure"]) == ("not met", 75.0)
    assert bars["S=10 demo generation peak memory under 2 GB"]["status"] == "met"
    gate = bars["S=10 gate on all marts adds under 25% to the dbt build time"]
    assert gate["status"] == "met" and "3 mart models" in gate["note"]
    activity = bars["S=10 email/calendar extraction peak memory under 2 GB"]
    assert activity["status"] == "missing" and activity["note"] == "not landed"
    forecast = bars["S=1: all series fitted, backtested and written in under 2 minutes"]
    assert forecast["status"] == "missing" and forecast["figure"] == 30.0
    assert "no backtest yet" in forecast["note"]
    incremental = next(b for b in bars.values() if "incremental" in b["text"])
    assert incremental["status"] == "missing"


def test_repeated_steps_count_their_median_run():
    """The ratio bars' steps run several times; the median run counts, peak memory is the
    largest, every run is kept and shown; a failed run is the record."""
    def run(wall, cpu, rss, status="ok"):
        return {"status": status, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss,
                "details": {"dbt_checks": 9, "expectations": 4}}

    record = median_run([run(15.0, 28.0, 900.0), run(12.0, 22.0, 950.0), run(13.0, 24.0, 800.0)])
    assert (record["wall_s"], record["cpu_s"], record["peak_rss_mb"]) == (13.0, 24.0, 950.0)
    assert [r["wall_s"] for r in record["runs"]] == [15.0, 12.0, 13.0]
    assert median_run([run(10.0, 9.0, 1.0), run(11.0, 9.0, 1.0)])["wall_s"] == 10.0
    failed = {"status": "failed", "wall_s": 3.0, "cpu_s": 1.0, "peak_rss_mb": 5.0, "error": "x"}
    assert median_run([run(12.0, 22.0, 950.0), failed]) is failed

    results = {"scales": {"10": {"steps": {"gate": record}, "ratios": {}}}}
    assert "median of 3 runs (15.0, 12.0, 13.0 s wall); 9 dbt checks" in render(results)
    assert parse_args([]).repeats == 3 and parse_args(["--quick"]).repeats == 1
