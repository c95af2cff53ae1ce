"""Glue between Airflow and the pipeline steps: the Airflow environment for local runs, the
writer pool, and the task wrapper that turns permanent failures into no-retry failures.

Nothing here imports Airflow at module level: the DAG file imports this module at parse time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from revwh.settings import DAGS_DIR, Settings

DAG_ID = "revenue_nightly"
FORECAST_DAG_ID = "revenue_forecast"  # scheduled on the marts Asset
MARTS_URI = "revwh://warehouse/marts"
FORECAST_URI = "revwh://warehouse/forecast"
WRITER_POOL = "revwh_warehouse_writer"  # DuckDB has one writer: writing tasks share one slot
WRITES = {"pool": WRITER_POOL}
# one extraction task per source (names as revwh.pipeline.SOURCES; kept here so that parsing
# the DAG imports nothing heavy)
SOURCES = ("salesforce_files", "salesforce_api", "hubspot", "mapped_exports", "mail",
           "calendars")
API_SOURCES = ("salesforce_api", "hubspot")


def default_args(settings: Settings) -> dict:
    """Task defaults of every revwh DAG: retries with exponential backoff, and an alert when a
    task fails for good (revwh.alerting)."""
    from revwh.alerting import on_failure

    return {
        "on_failure_callback": on_failure,
        "retries": settings.retries,
        "retry_delay": timedelta(seconds=settings.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
    }


def marts_as_of(triggering_asset_events, ds: str | None) -> str:
    """The logical date of the marts a forecast run is for: from the newest marts asset event
    that triggered the run, else (a manual or `dags test` run) the run's own date."""
    events = [e for found in (triggering_asset_events or {}).values() for e in found
              if (e.extra or {}).get("ds")]
    if events:
        return max(events, key=lambda e: e.timestamp).extra["ds"]
    if ds is None:
        raise ValueError("revenue_forecast needs the date of the marts: trigger it with a "
                         "logical date or let revenue_nightly's publish_marts schedule it")
    return ds


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for a local Airflow (SQLite metadata) that serves only our DAGs."""
    home = settings.airflow_home
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "REVWH_HOME": str(settings.home),
    }
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    return env


def _airflow(settings: Settings, *args: str, log_file: Path | None = None) -> int:
    env = {**os.environ, **airflow_env(settings)}
    cmd = [str(Path(sys.executable).parent / "airflow"), *args]
    if log_file is None:
        return subprocess.run(cmd, env=env, capture_output=True, text=True).returncode
    with log_file.open("a") as out:
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def ensure_airflow(settings: Settings, log_file: Path) -> None:
    """Migrate the metadata database and create the writer pool, once."""
    marker = settings.airflow_home / ".revwh-initialised"
    if marker.exists():
        return
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    for args in (("db", "migrate"),
                 ("pools", "set", WRITER_POOL, "1", "DuckDB allows one writer at a time")):
        if _airflow(settings, *args, log_file=log_file) != 0:
            raise RuntimeError(f"`airflow {' '.join(args)}` failed: see {log_file}")
    marker.touch()


def dags_test(settings: Settings, logical_date: str, log_file: Path) -> int:
    """Run the nightly DAG for one logical date through Airflow (`airflow dags test`), then the
    forecast DAG that its marts Asset schedules (`dags test` runs one DAG, without the scheduler
    that would trigger the second)."""
    for dag_id in (DAG_ID, FORECAST_DAG_ID):
        code = _airflow(settings, "dags", "test", dag_id, logical_date, log_file=log_file)
        if code != 0:
            return code
    return 0


def source_connection(source: str):
    """The Airflow Connection `revwh_<source>` (API credentials), if one is defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(f"revwh_{source}")
    except AirflowNotFoundException:
        return None


def run_step(step: str, ds: str, *args):
    """Call one pipeline step from an Airflow task. Failures a retry cannot fix (bad settings,
    a failed quality gate...) fail the task at once; anything else is left to Airflow's retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from revwh import pipeline
    from revwh.settings import load_settings

    try:
        settings = load_settings()
        if step == "extract":
            (source,) = args
            connection = source_connection(source) if source in API_SOURCES else None
            return pipeline.extract(settings, ds, source, connection=connection)
        fn = getattr(pipeline, step)
        if step.startswith("publish_"):
            return fn(settings, *args)
        return fn(settings, ds, *args)
    except pipeline.permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
