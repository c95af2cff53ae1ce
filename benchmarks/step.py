"""One benchmark step, run in its own process so that the parent can measure it with wait4:

    python -m benchmarks.step <step> --result FILE [--scale S --seed N --ds YYYY-MM-DD]

Settings come from the environment the parent sets (REVWH_HOME, REVWH_RETRIES=0, ...). The step
writes a JSON result to FILE: `{"rows": n, "details": {...}}` on success (exit 0),
`{"missing": reason}` when the step does not exist yet (exit 3), `{"error": text}` on failure.
Steps that follow a build read its version from `<home>/bench_state.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from datetime import date, timedelta
from pathlib import Path

EXIT_MISSING = 3
PROPHET_FITS = 3
BASELINE_FITS = 5


class Missing(Exception):
    """The step does not exist in the package yet."""


def _state_file(settings) -> Path:
    return settings.home / "bench_state.json"


def _state(settings) -> dict:
    path = _state_file(settings)
    if not path.exists():
        raise RuntimeError(f"{path} not found: run the build_full step first")
    return json.loads(path.read_text())


def _save_state(settings, **values) -> None:
    path = _state_file(settings)
    state = json.loads(path.read_text()) if path.exists() else {}
    state.update(values)
    path.write_text(json.dumps(state, indent=1))


def landed_rows(result, primary_only: bool = False) -> int:
    """Rows landed according to a step's returned summary, however it nests its sources: every
    `{"rows": {table: n}, "rejects": n}` found in it counts. `primary_only` leaves out child
    tables (`*_recipient`, `*_attendee`), so an email or a meeting counts once."""
    if not isinstance(result, dict):
        return 0
    if isinstance(result.get("rows"), dict):
        return (sum(n for table, n in result["rows"].items()
                    if not (primary_only and table.endswith(("_recipient", "_attendee"))))
                + int(result.get("rejects") or 0))
    return sum(landed_rows(v, primary_only) for v in result.values())


def step_demo(settings, args) -> dict:
    from revwh.demo import generate

    summary = generate(settings.demo_dir, scale=args.scale, seed=args.seed)
    crm = sum(summary.get("tables", {}).values())
    emails = int(summary.get("emails", 0))
    meetings = int(summary.get("meeting_occurrences", 0))
    size = sum(p.stat().st_size for p in settings.demo_dir.rglob("*") if p.is_file())
    return {"rows": crm + emails + meetings,
            "details": {"crm_rows": crm, "emails": emails, "meeting_occurrences": meetings,
                        "mailbox_messages": summary.get("mailbox_messages"),
                        "calendar_events": summary.get("calendar_events"),
                        "files": summary.get("files"), "bytes": size,
                        "tables": summary.get("tables")}}


def step_duckdb_read_csv(settings, args) -> dict:
    """The baseline for raw landing: DuckDB's own read_csv of the same files into tables of a
    scratch database file (auto-detected types, DuckDB's default threads)."""
    import duckdb

    from revwh.contract import SALESFORCE

    files = [p for p in sorted(settings.file_drop_dir.glob("*.csv"))
             if p.stem.lower() in SALESFORCE]
    if not files:
        raise RuntimeError(f"no CSV of a known table in {settings.file_drop_dir}")
    scratch = settings.home / "duckdb_read_csv.duckdb"
    scratch.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    con = duckdb.connect(str(scratch))
    try:
        for path in files:
            literal = str(path).replace("'", "''")
            con.execute(f'create table "{path.stem}" as select * from read_csv(\'{literal}\')')
            rows[path.stem] = con.execute(f'select count(*) from "{path.stem}"').fetchone()[0]
    finally:
        con.close()
    size = sum(p.stat().st_size for p in files)
    scratch.unlink(missing_ok=True)
    return {"rows": sum(rows.values()), "details": {"files": len(files), "bytes": size,
                                                    "rows": rows}}


def step_extract_crm(settings, args) -> dict:
    from revwh import pipeline

    result = pipeline.extract_crm(settings, args.ds)
    return {"rows": landed_rows(result), "details": result}


def step_extract_activity(settings, args) -> dict:
    try:
        from revwh.extract.activity import extract_calendars, extract_mail  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (absent or half-landed: the step is missing)
        raise Missing(f"email/calendar extraction not importable yet ({type(exc).__name__}: "
                      f"{exc})") from None
    from revwh import pipeline

    result = pipeline.extract_activity(settings, args.ds)
    return {"rows": landed_rows(result, primary_only=True),
            "details": {"rows_all_tables": landed_rows(result), "result": result,
                        "rows_counted": "email and meeting rows (+ rejects); recipient and "
                                        "attendee rows not counted"}}


def step_build_full(settings, args) -> dict:
    from revwh import pipeline

    result = pipeline.build(settings, args.ds)
    _save_state(settings, version=result["version"], relations=result["relations"])
    return {"rows": None, "details": {**result, **_dbt_counts(settings, result["version"]),
                                      "marts_note": _marts_note(result["relations"])}}


def _marts_note(relations: list[str]) -> str:
    return f"{len(relations)} mart models built: {', '.join(relations)}"


def _dbt_counts(settings, version: str) -> dict:
    path = settings.home / "dbt_target" / version / "run_results.json"
    if not path.exists():
        return {}
    run_results = json.loads(path.read_text())
    results = run_results.get("results", [])
    kinds: dict[str, int] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    # dbt's own run time: the rest of the step's wall time is process start, dbt's import and
    # parse, carry-over preparation and exit
    return {"dbt_nodes": kinds, "dbt_seconds": round(run_results.get("elapsed_time") or 0, 3),
            "dbt_node_seconds": round(sum(r.get("execution_time") or 0 for r in results), 3)}


def step_gate(settings, args) -> dict:
    from revwh import pipeline

    version = _state(settings)["version"]
    return {"rows": None, "details": pipeline.gate(settings, args.ds, version)}


def step_publish(settings, args) -> dict:
    from revwh import pipeline

    state = _state(settings)
    result = pipeline.publish_marts(settings, state["version"], state["relations"])
    return {"rows": sum(result["rows"].values()), "details": result}


def step_forecast(settings, args) -> dict:
    from revwh import pipeline
    from revwh.warehouse import connect

    started = time.perf_counter()
    fc = pipeline.forecast(settings, args.ds)
    middle = time.perf_counter()
    pub = pipeline.publish_forecast(settings, fc["version"], fc["relations"])
    ended = time.perf_counter()
    with connect(settings, read_only=True) as con:
        found = con.execute("select distinct model from forecast.revenue_forecast order by 1")
        models = [r[0] for r in (found.fetchall() if hasattr(found, "fetchall") else found)]
    return {"rows": sum(pub["rows"].values()),
            "details": {"forecast_s": round(middle - started, 3),
                        "publish_forecast_s": round(ended - middle, 3),
                        "version": fc["version"], "models": models, "rows": pub["rows"]}}


def step_prophet_fit(settings, args) -> dict:
    """Seconds per Prophet fit and per baseline fit, on the same monthly series (the company's
    bookings from the published marts); imports are done before timing."""
    from benchmarks.features import baseline_fitters, prophet_fitter

    name, fit = prophet_fitter()
    if fit is None:
        raise Missing("no Prophet fitting function in the forecasting package")
    import prophet  # noqa: F401  (import cost is not part of a fit)

    from forecasting.revenue import monthly_bookings

    history = monthly_bookings(settings, args.ds)
    horizon = settings.forecast_horizon_months
    fit(history, horizon)  # warm-up: Stan model load, first-call caches

    def per_fit(fn, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            fn(history, horizon)
        return (time.perf_counter() - started) / n

    prophet_s = per_fit(fit, PROPHET_FITS)
    baselines = {bname: round(per_fit(fn, BASELINE_FITS), 6)
                 for bname, fn in baseline_fitters().items()}
    return {"rows": len(history),
            "details": {"prophet_function": name, "history_months": len(history),
                        "prophet_fits": PROPHET_FITS,
                        "seconds_per_prophet_fit": round(prophet_s, 4),
                        "seconds_per_baseline_fit": baselines,
                        "seconds_all_baselines_fit": (round(sum(baselines.values()), 6)
                                                      if baselines else None)}}


def step_build_incremental(settings, args) -> dict:
    from benchmarks.features import incremental_models

    models = incremental_models()
    if not models:
        raise Missing("no incremental dbt model in dbt_project/models yet")
    from revwh import pipeline

    next_day = (date.fromisoformat(args.ds) + timedelta(days=1)).isoformat()
    result = pipeline.build(settings, next_day)
    return {"rows": None, "details": {**result, "ds": next_day, "incremental_models": models,
                                      **_dbt_counts(settings, result["version"])}}


def step_run_all(settings, args) -> dict:
    from revwh import pipeline

    summary = pipeline.run_all(settings, args.ds)
    return {"rows": None, "details": {"steps": list(summary)}}


def step_airflow_setup(settings, args) -> dict:
    from revwh.orchestration import ensure_airflow

    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ensure_airflow(settings, log_dir / "airflow-setup.log")
    return {"rows": None, "details": {}}


def step_dags_test(settings, args) -> dict:
    from revwh import publish
    from revwh.orchestration import dags_test

    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "dags-test.log"
    code = dags_test(settings, args.ds, log_file)
    latest = publish.current(settings, "marts")
    if code != 0 or latest is None or latest.logical_date != args.ds:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-15:]
        raise RuntimeError(f"airflow dags test exited {code}, nothing published for {args.ds}. "
                           f"Log {log_file}: " + " | ".join(tail))
    return {"rows": None, "details": {"version": latest.version, "log": str(log_file)}}



def step_build_cosmos(settings, args) -> dict:
    """The nightly DAG's dbt part through Airflow (`dag.test()`: tasks in this process, dbt in
    subprocesses), once as the one `dbt_build` task and once as cosmos tasks (`dbt_tasks =
    cosmos`: one per seed and model), on the raw data and published marts of the steps before;
    the other tasks are marked successful. Both builds continue the published incremental
    models, as a nightly run does."""
    import os
    import resource

    import pendulum

    from revwh.cosmos_dbt import write_manifest
    from revwh.orchestration import DAG_ID, airflow_env, ensure_airflow
    from revwh.settings import DAGS_DIR

    def cpu_s() -> float:
        own, children = (resource.getrusage(resource.RUSAGE_SELF),
                         resource.getrusage(resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ensure_airflow(settings, log_dir / "airflow-setup.log")
    os.environ.update(airflow_env(settings))
    write_manifest(settings)
    from airflow.dag_processing.dagbag import DagBag

    runs = {}
    for mode in ("build", "cosmos"):
        os.environ["REVWH_DBT_TASKS"] = mode  # the DAG file reads it when parsed
        dag = DagBag(dag_folder=str(DAGS_DIR / "revenue_nightly.py")).dags[DAG_ID]
        started, cpu = time.perf_counter(), cpu_s()
        run = dag.test(logical_date=pendulum.parse(args.ds),
                       mark_success_pattern=r"extract_.*|quality_gate|publish_marts")
        if run.state != "success":
            raise RuntimeError(f"revenue_nightly with dbt_tasks={mode}: run {run.state}")
        runs[mode] = {"wall_s": round(time.perf_counter() - started, 3),
                      "cpu_s": round(cpu_s() - cpu, 3),
                      "dbt_tasks": sum(1 for t in dag.task_ids
                                       if t == "dbt_build" or t.startswith("dbt."))}
    ratio = runs["cosmos"]["wall_s"] / runs["build"]["wall_s"]
    return {"rows": None, "details": {
        "runs": runs, "cosmos_vs_build": round(ratio, 2),
        "cosmos_vs_build_cpu": round(runs["cosmos"]["cpu_s"] / runs["build"]["cpu_s"], 2),
        "note": (f"{runs['cosmos']['dbt_tasks']} cosmos tasks {runs['cosmos']['wall_s']:.0f} s "
                 f"vs one dbt build task {runs['build']['wall_s']:.0f} s, tasks in-process; "
                 "an executor adds a task process start-up per task")}}

STEPS = {name[len("step_"):]: fn for name, fn in globals().items() if name.startswith("step_")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step")
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ds", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("revwh", "forecasting", "benchmarks"):
        logging.getLogger(name).setLevel(logging.INFO)
    from revwh.settings import load_settings

    try:
        settings = load_settings()
        out = STEPS[args.step](settings, args)
    except Missing as exc:
        args.result.write_text(json.dumps({"missing": str(exc)}))
        return EXIT_MISSING
    except BaseException as exc:  # noqa: BLE001 (every failure is reported to the parent)
        traceback.print_exc()
        args.result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000]}))
        return 1
    args.result.write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
