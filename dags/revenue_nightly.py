"""revenue_nightly: extract (one task per source) -> raw -> dbt build (candidate) -> quality gate
-> publish marts -> forecast -> publish forecast. Orchestration only: every task calls a step in
revwh.pipeline. API credentials come from the Airflow Connections `revwh_<source>`."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, task

from revwh.orchestration import DAG_ID, SOURCES, WRITER_POOL, run_step
from revwh.settings import load_settings

SETTINGS = load_settings()
MARTS = Asset("revwh://warehouse/marts")
FORECAST = Asset("revwh://warehouse/forecast")
WRITES = {"pool": WRITER_POOL}


@dag(
    dag_id=DAG_ID,
    schedule=SETTINGS.schedule,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.retries,
        "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
    },
    tags=["revwh"],
    doc_md=__doc__,
    params={"full_refresh": Param(False, type="boolean",
                                  description="rebuild incremental marts from scratch")},
)
def revenue_nightly():
    @task(**WRITES)
    def extract(source: str, ds=None):
        return run_step("extract", ds, source)

    @task(**WRITES)
    def dbt_build(ds=None, params=None):
        return run_step("build", ds, bool(params["full_refresh"]))

    @task(**WRITES)
    def quality_gate(built: dict, ds=None):
        return run_step("gate", ds, built["version"])

    @task(outlets=[MARTS], **WRITES)
    def publish_marts(built: dict, gated: dict, ds=None):
        return run_step("publish_marts", ds, built["version"], built["relations"])

    @task(**WRITES)
    def forecast(published: dict, ds=None):
        return run_step("forecast", ds)

    @task(outlets=[FORECAST], **WRITES)
    def publish_forecast(forecasted: dict, ds=None):
        return run_step("publish_forecast", ds, forecasted["version"], forecasted["relations"])

    built = dbt_build()
    [extract.override(task_id=f"extract_{source}")(source) for source in SOURCES] >> built
    published = publish_marts(built, quality_gate(built))
    publish_forecast(forecast(published))


revenue_nightly()
