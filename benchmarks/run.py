"""The scale harness: `python -m benchmarks.run [--scales 1,10] [--steps ...] [--quick]`.

For each scale S it builds a fresh home under `<work>/s<S>/`, runs every step of the nightly
pipeline in its own subprocess and measures it from here (see `benchmarks.measure`), then the
whole run through Airflow against the same run through the CLI (`pipeline.run_all`) on fresh
warehouses over the same demo data. It writes `results.json` and `RESULTS.md` (rendered from the
JSON) into the output folder and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks.bars import evaluate_all, scale_key
from benchmarks.measure import run_measured
from benchmarks.report import fmt, render

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
DEFAULT_DS = "2026-11-01"  # revwh.demo.DEMO_AS_OF, used when the generator cannot be imported
QUICK_SCALE = 0.05
EXIT_MISSING = 3
SCHEMA_VERSION = 1

# (step, what it measures); order is the run order within one scale
STEPS: list[tuple[str, str]] = [
    ("demo", "demo data generation (revwh.demo.generate)"),
    ("duckdb_read_csv", "baseline: DuckDB read_csv of the file drop into tables"),
    ("extract_crm", "CRM file drop -> raw (pipeline.extract_crm)"),
    ("extract_activity", "mailboxes + calendars -> raw (pipeline.extract_activity)"),
    ("build_full", "dbt build, full, into a candidate version (pipeline.build)"),
    ("gate", "quality gate on that version (pipeline.gate)"),
    ("publish", "publish marts (pipeline.publish_marts)"),
    ("forecast", "forecast + publish_forecast"),
    ("prophet_fit", "one Prophet fit vs the baselines' fits, same series"),
    ("build_incremental", "dbt build for ds + 1 day after the full build"),
    ("build_cosmos", "dbt in revenue_nightly: one dbt build task vs cosmos, one task per model"),
]
STEP_NAMES = [s for s, _ in STEPS]
WHOLE_RUN = [("run_all_cli", "whole run through the CLI (pipeline.run_all)"),
             ("dags_test_airflow", "whole run through Airflow (airflow dags test)")]
ALL_STEP_NAMES = STEP_NAMES + [s for s, _ in WHOLE_RUN]
DEPENDS = {"duckdb_read_csv": ["demo"], "extract_crm": ["demo"], "extract_activity": ["demo"],
           "build_full": ["extract_crm"], "gate": ["build_full"], "publish": ["gate"],
           "forecast": ["publish"], "prophet_fit": ["publish"],
           "build_incremental": ["build_full"], "build_cosmos": ["publish"]}
# ratio name -> (numerator step, denominator step); prophet_vs_baselines is per fit (details)
STEP_RATIOS = {
    "crm_landing_vs_duckdb_read_csv": ("extract_crm", "duckdb_read_csv"),
    "incremental_vs_full_build": ("build_incremental", "build_full"),
    "gate_vs_build": ("gate", "build_full"),
    "airflow_vs_cli": ("dags_test_airflow", "run_all_cli"),
}
THROUGHPUT_STEPS = ("demo", "duckdb_read_csv", "extract_crm", "extract_activity")
# the steps of the ratio bars (#7 nightly vs full build, #9 gate vs build): on a noisy machine
# one run of each can land a ratio either side of its bar, so each is run `--repeats` times and
# its figure is the median run (peak memory: the largest of the runs)
REPEATED_STEPS = ("build_full", "gate", "build_incremental")
ENV_DROP = ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONFIG")

METHOD = (
    "Each step runs in its own subprocess (`python -m benchmarks.step <step>`), started and "
    "reaped by the harness with `os.wait4(pid, 0)`. Wall time is `time.perf_counter()` from "
    "start to reap and includes the interpreter start and imports. CPU time is ru_utime + "
    "ru_stime of that wait4: the step process plus every descendant it waited for (the dbt "
    "subprocess of a build or gate, the `airflow` CLI and its task processes). Peak memory is "
    "ru_maxrss of the same wait4: the largest resident set of the step process or of any "
    "descendant it waited for (a maximum, not a sum). Ratios are of wall times measured in the "
    "same run (the CPU-time ratio is shown next to it). Contention is recorded per step: the "
    "1-min load average before it and the share of its wall time during which some task on the "
    "machine waited for a CPU (Linux PSI `/proc/pressure/cpu`, `some`). The steps of the ratio "
    "bars (build_full, gate, build_incremental) run `--repeats` times in a row (default 3); "
    "their figures are those of the run with the median wall time, and their peak memory the "
    "largest of the runs. Every step uses "
    "REVWH_RETRIES=0 and a "
    "fresh home per scale; the whole-run comparison uses two fresh warehouses over the same "
    "demo data and the same logical date.")


# ---------------------------------------------------------------------------------------------
# machine and versions

def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                      if line.startswith("model name")), platform.processor())
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal:")), 0)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu_model,
            "cpu_count": os.cpu_count(), "cpus_usable": usable,
            "memory_gb": round(mem_kb / 1024 / 1024, 1), "hostname_hidden": True,
            "load_avg_start": [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("duckdb", "dbt-core", "dbt-duckdb", "apache-airflow", "prophet", "cmdstanpy",
                 "dlt", "great-expectations", "pandas", "pyarrow", "revwh"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_commit() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith(("benchmarks/", "tests/benchmarks/"))]
    return {"commit": git("rev-parse", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "uncommitted_paths": len(changed)}


def demo_as_of() -> str:
    probe = subprocess.run([sys.executable, "-c",
                            "from revwh.demo import DEMO_AS_OF; print(DEMO_AS_OF.isoformat())"],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    return probe.stdout.strip() if probe.returncode == 0 and probe.stdout.strip() else DEFAULT_DS


def detect_features() -> dict:
    probe = subprocess.run([sys.executable, "-m", "benchmarks.features"], cwd=ROOT,
                           capture_output=True, text=True, env=_base_env(), check=False)
    try:
        return json.loads(probe.stdout)
    except json.JSONDecodeError:
        return {"error": {"present": False, "reason": (probe.stderr or probe.stdout)[-500:]}}


# ---------------------------------------------------------------------------------------------
# running steps

def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVWH_") and k not in ENV_DROP}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("COLUMNS", "200")
    return env


def step_env(home: Path, **extra: str) -> dict[str, str]:
    return {**_base_env(), "REVWH_HOME": str(home), "REVWH_RETRIES": "0", **extra}


def run_step(name: str, *, home: Path, env: dict[str, str], scale: float, seed: int, ds: str,
             timeout_s: float) -> dict:
    """Run one step in a measured subprocess and turn what it reports into a step record."""
    child = {"dags_test_airflow": "dags_test", "run_all_cli": "run_all"}.get(name, name)
    home.mkdir(parents=True, exist_ok=True)
    result_file = home / "results" / f"{name}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    log_file = home / "logs" / f"bench-{name}.log"
    log_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.step", child, "--result", str(result_file),
            "--scale", repr(scale), "--seed", str(seed), "--ds", ds]
    m = run_measured(argv, env=env, cwd=home, log_file=log_file, timeout_s=timeout_s)
    try:
        reported = json.loads(result_file.read_text())
    except (OSError, json.JSONDecodeError):
        reported = {}
    if m.returncode == EXIT_MISSING and "missing" in reported:
        return {"status": "missing", "reason": reported["missing"], "log": str(log_file)}
    record = {"status": "ok" if m.returncode == 0 else "failed",
              "wall_s": round(m.wall_s, 3), "cpu_s": round(m.cpu_s, 3),
              "user_s": round(m.user_s, 3), "sys_s": round(m.sys_s, 3),
              "peak_rss_mb": round(m.peak_rss_mb, 1), "load_1m_before": round(m.load_before, 2),
              "cpu_pressure_pct": _round(m.cpu_pressure_pct, 1), "log": str(log_file)}
    if m.returncode == 0:
        rows = reported.get("rows")
        record["rows"] = rows
        if rows and name in THROUGHPUT_STEPS:
            record["rows_per_s"] = round(rows / m.wall_s, 1)
            if m.cpu_s:
                record["rows_per_cpu_s"] = round(rows / m.cpu_s, 1)
        record["details"] = reported.get("details", {})
    else:
        error = reported.get("error") or _log_tail(log_file)
        if m.timed_out:
            error = f"timed out after {timeout_s:.0f} s; {error}"
        record["error"] = error or f"exit code {m.returncode}"
    return record


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def not_run(reason: str) -> dict:
    return {"status": "not run", "reason": reason}


def median_run(runs: list[dict]) -> dict:
    """One step's record from repeated runs: the run with the median wall time (of an even
    number, the lower middle one; a failed or missing run is the record instead), with every
    run's figures and the largest peak memory."""
    bad = next((r for r in runs if r["status"] != "ok"), None)
    if bad is not None:
        return bad
    chosen = sorted(runs, key=lambda r: r["wall_s"])[(len(runs) - 1) // 2]
    return {**chosen, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "runs": [{m: r[m] for m in ("wall_s", "cpu_s", "peak_rss_mb")} for r in runs]}


# ---------------------------------------------------------------------------------------------
# ratios and growth

def _ratio(num: dict | None, den: dict | None, num_name: str, den_name: str) -> dict:
    out = {"numerator": f"{num_name} wall_s", "denominator": f"{den_name} wall_s"}
    for name, rec in ((num_name, num), (den_name, den)):
        if rec is None:
            return {**out, "status": "not run", "reason": f"{name} not part of this run"}
        if rec["status"] != "ok":
            status = "missing" if rec["status"] == "missing" else "not run"
            why = rec.get("reason") or rec.get("error") or ""
            return {**out, "status": status, "reason": f"{name}: {why}"}
    value = num["wall_s"] / den["wall_s"] if den["wall_s"] else None
    cpu = num["cpu_s"] / den["cpu_s"] if den["cpu_s"] else None
    return {**out, "status": "ok", "value": _round(value), "cpu_value": _round(cpu)}


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def scale_ratios(steps: dict, features: dict) -> dict:
    ratios = {name: _ratio(steps.get(a), steps.get(b), a, b)
              for name, (a, b) in STEP_RATIOS.items()}
    fit = steps.get("prophet_fit")
    out = {"numerator": "seconds per Prophet fit",
           "denominator": "seconds to fit all baselines once"}
    if fit is None:
        ratios["prophet_vs_baselines"] = {**out, "status": "not run",
                                          "reason": "prophet_fit not part of this run"}
    elif fit["status"] != "ok":
        ratios["prophet_vs_baselines"] = {
            **out, "status": "missing" if fit["status"] == "missing" else "not run",
            "reason": f"prophet_fit {fit['status']}: {fit.get('reason') or fit.get('error')}"}
    elif not fit["details"].get("seconds_all_baselines_fit"):
        reason = features.get("forecast_baselines", {}).get("reason") or "no baselines found"
        ratios["prophet_vs_baselines"] = {**out, "status": "missing", "reason": reason}
    else:
        d = fit["details"]
        prophet_s = d["seconds_per_prophet_fit"]
        per = {name: _round(prophet_s / s, 2) for name, s in d["seconds_per_baseline_fit"].items()
               if s}
        ratios["prophet_vs_baselines"] = {
            **out, "status": "ok", "value": _round(prophet_s / d["seconds_all_baselines_fit"], 2),
            "per_baseline": per,
            "note": f"Prophet {fmt(prophet_s)} s per fit; " + ", ".join(
                f"{name} {fmt(s)} s ({fmt(per.get(name), 'x')})"
                for name, s in d["seconds_per_baseline_fit"].items())}
    return ratios


def growth(scales: dict) -> dict:
    """How cost grows with the data: every step at each larger scale against the smallest."""
    keys = sorted(scales, key=float)
    out = {}
    if len(keys) < 2:
        return out
    base = keys[0]
    for key in keys[1:]:
        entry = {"data_ratio": _round(float(key) / float(base), 3), "steps": {}}
        for name in ALL_STEP_NAMES:
            a, b = scales[base]["steps"].get(name), scales[key]["steps"].get(name)
            if not a or not b or a["status"] != "ok" or b["status"] != "ok":
                continue
            row = {}
            for field in ("wall_s", "cpu_s", "peak_rss_mb", "rows"):
                if a.get(field) and b.get(field) is not None:
                    row[field] = _round(b[field] / a[field], 2)
            entry["steps"][name] = row
        out[f"{key}/{base}"] = entry
    return out


# ---------------------------------------------------------------------------------------------
# the run

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Run the pipeline at several demo scales and measure every step.")
    parser.add_argument("--scales", default=None,
                        help="comma-separated demo scales (default 1,10; --quick: 0.05)")
    parser.add_argument("--steps", default=None,
                        help=f"comma-separated steps (default all): {','.join(ALL_STEP_NAMES)}")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny scale {QUICK_SCALE}, no Airflow run: a smoke run of the "
                             "harness itself")
    parser.add_argument("--whole-run-scale", default=None,
                        help="scale at which the whole run goes through Airflow and the CLI "
                             "(default 1 when S=1 is run, else none; 'none' to skip)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=BENCH_DIR,
                        help="where results.json and RESULTS.md go (default benchmarks/)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work",
                        help="work folder for generated data and warehouses")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per step")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of each of {', '.join(REPEATED_STEPS)} (the median one "
                             "counts; default 3, --quick: 1)")
    parser.add_argument("--note", action="append", default=[],
                        help="a line added to the notes of RESULTS.md (repeatable)")
    args = parser.parse_args(argv)
    scales = args.scales or (str(QUICK_SCALE) if args.quick else "1,10")
    args.scale_list = sorted({float(s) for s in scales.split(",") if s.strip()})
    if not args.scale_list or any(s <= 0 for s in args.scale_list):
        parser.error("--scales needs positive numbers, e.g. 1,10")
    wrs = args.whole_run_scale or ("1" if 1.0 in args.scale_list and not args.quick else "none")
    args.whole_scale = None if wrs.lower() == "none" else float(wrs)
    if args.whole_scale is not None and args.whole_scale not in args.scale_list:
        parser.error(f"--whole-run-scale {wrs} must be one of --scales")
    steps = args.steps.split(",") if args.steps else ALL_STEP_NAMES
    unknown = [s for s in steps if s not in ALL_STEP_NAMES]
    if unknown:
        parser.error(f"unknown steps {unknown}; known: {', '.join(ALL_STEP_NAMES)}")
    args.step_list = [s for s in ALL_STEP_NAMES if s in steps]
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.repeats < 1:
        parser.error("--repeats needs 1 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    args = parse_args(argv)
    console = Console()
    work = args.work.resolve()
    out_dir = args.out.resolve()
    started = datetime.now(UTC)
    ds = demo_as_of()
    console.print(f"[bold]benchmarks[/]: scales {', '.join(scale_key(s) for s in args.scale_list)}"
                  f", ds {ds}, work in {work}")
    features = detect_features()
    results: dict = {
        "schema_version": SCHEMA_VERSION,
        "date": started.isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None
                                                            else sys.argv[1:]),
        "quick": args.quick, "ds": ds, "seed": args.seed,
        "machine": machine_info(), "versions": versions(), "git": git_commit(),
        "method": METHOD, "notes": list(args.note), "features": features,
        "whole_run_scale": None if args.whole_scale is None else scale_key(args.whole_scale),
        "steps_described": dict(STEPS + WHOLE_RUN), "scales": {},
    }
    loads: list[float] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=None)

        def measured(name: str, label: str, **kw) -> dict:
            progress.update(bar, description=f"{label} {name}")
            progress.reset(bar)
            rec = run_step(name, timeout_s=args.timeout, seed=args.seed, ds=ds, **kw)
            if "load_1m_before" in rec:
                loads.append(rec["load_1m_before"])
            progress.console.print(f"  {label:>7} {name:<20} {_line(rec)}")
            return rec

        for scale in args.scale_list:
            key = scale_key(scale)
            home = work / f"s{key}"
            if "demo" in args.step_list and home.exists():
                shutil.rmtree(home)
            home.mkdir(parents=True, exist_ok=True)
            entry = {"scale": scale, "home": str(home), "steps": {}}
            results["scales"][key] = entry
            steps = entry["steps"]
            for name in STEP_NAMES:
                if name not in args.step_list:
                    steps[name] = not_run("not selected (--steps)")
                    continue
                blocked = [d for d in DEPENDS.get(name, [])
                           if d in args.step_list and steps[d]["status"] != "ok"]
                if blocked:
                    steps[name] = not_run(f"{blocked[0]} {steps[blocked[0]]['status']}")
                    continue
                runs = args.repeats if name in REPEATED_STEPS else 1
                records = [measured(name, f"S={key}" + (f" {i + 1}/{runs}" if runs > 1 else ""),
                                    home=home, env=step_env(home), scale=scale)
                           for i in range(runs)]
                steps[name] = median_run(records) if runs > 1 else records[0]
            for name, _ in WHOLE_RUN:
                if args.whole_scale != scale or name not in args.step_list:
                    steps[name] = not_run(
                        "the whole run is compared at S="
                        f"{scale_key(args.whole_scale) if args.whole_scale else '(none)'} only"
                        if name in args.step_list else "not selected (--steps)")
                    continue
                if "demo" in args.step_list and steps["demo"]["status"] != "ok":
                    steps[name] = not_run(f"demo {steps['demo']['status']}")
                    continue
                steps[name] = whole_run(name, home, scale, measured, entry)
            entry["ratios"] = scale_ratios(steps, features)
    results["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["machine"]["load_1m_before_steps"] = ([min(loads), max(loads)] if loads else None)
    results["growth"] = growth(results["scales"])
    results["bars"] = evaluate_all(results)
    results["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out_dir / "RESULTS.md").write_text(render(results))
    summary(console, results)
    console.print(f"results: {out_dir / 'RESULTS.md'} and {out_dir / 'results.json'}")
    return 0


def whole_run(name: str, scale_home: Path, scale: float, measured, entry: dict) -> dict:
    """The whole nightly run on a fresh warehouse over this scale's demo data."""
    demo = scale_home / "demo"
    home = scale_home / name
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    env = step_env(home, REVWH_SALESFORCE_FILE_DROP=str(demo / "crm" / "salesforce"),
                   REVWH_MAIL_DIR=str(demo / "mail"), REVWH_CALENDAR_DIR=str(demo / "calendar"))
    label = f"S={scale_key(scale)}"
    if name == "dags_test_airflow":
        setup = measured("airflow_setup", label, home=home, env=env, scale=scale)
        entry["steps"]["airflow_setup"] = {**setup, "note": "not part of the comparison: "
                                           "`airflow db migrate` + pool, once per Airflow home"}
        if setup["status"] != "ok":
            return not_run(f"airflow setup failed: {setup.get('error')}")
    return measured(name, label, home=home, env=env, scale=scale)


def _line(rec: dict) -> str:
    if rec["status"] == "ok":
        rows = f", {rec['rows']:,} rows" if rec.get("rows") else ""
        return (f"[green]ok[/] {rec['wall_s']:.1f} s wall, {rec['cpu_s']:.1f} s CPU, "
                f"{rec['peak_rss_mb']:.0f} MB{rows}")
    if rec["status"] == "failed":
        return f"[red]failed[/] after {rec['wall_s']:.1f} s: {rec['error'][:150]}"
    return f"[yellow]{rec['status']}[/]: {rec.get('reason', '')[:150]}"


def summary(console, results: dict) -> None:
    from rich.table import Table

    keys = list(results["scales"])
    table = Table(title="wall s / peak MB per step")
    table.add_column("step")
    for key in keys:
        table.add_column(f"S={key}", justify="right")
    names = [n for n in ALL_STEP_NAMES]
    for name in names:
        cells = []
        for key in keys:
            rec = results["scales"][key]["steps"].get(name, {"status": "not run"})
            cells.append(f"{rec['wall_s']:.1f} s / {rec['peak_rss_mb']:.0f} MB"
                         if rec["status"] == "ok" else rec["status"])
        table.add_row(name, *cells)
    console.print(table)
    bars = Table(title="bars")
    for col in ("issue", "bar", "figure", "status"):
        bars.add_column(col)
    colour = {"met": "green", "not met": "red", "missing": "yellow"}
    for b in results["bars"]:
        figure = fmt(b["figure"], b["unit"])
        c = colour.get(b["status"], "white")
        bars.add_row(f"#{b['issue']}", b["text"], figure, f"[{c}]{b['status']}[/]")
    console.print(bars)


if __name__ == "__main__":
    sys.exit(main())
