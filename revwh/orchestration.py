"""Glue between Airflow and the pipeline steps: the Airflow environment for local runs, the
writer pool, and the task wrapper that turns permanent failures into no-retry failures.

Nothing here imports Airflow at module level: the DAG file imports this module at parse time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from revwh.settings import DAGS_DIR, Settings

DAG_ID = "revenue_nightly"
WRITER_POOL = "revwh_warehouse_writer"  # DuckDB has one writer: writing tasks share one slot
# one extraction task per source (names as revwh.pipeline.SOURCES; kept here so that parsing
# the DAG imports nothing heavy)
SOURCES = ("salesforce_files", "salesforce_api", "hubspot", "mapped_exports", "mail",
           "calendars")
API_SOURCES = ("salesforce_api", "hubspot")


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
    """Run the nightly DAG for one logical date through Airflow (`airflow dags test`)."""
    return _airflow(settings, "dags", "test", DAG_ID, logical_date, log_file=log_file)


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
    except pipeline.PERMANENT_ERRORS as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
