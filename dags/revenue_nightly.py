"""revenue_nightly: extract (one task per source) -> raw -> dbt build (candidate) -> quality gate
-> publish marts (the marts Asset; `revenue_forecast` is scheduled on it). Orchestration only:
every task calls a step in revwh.pipeline. API credentials come from the Airflow Connections
`revwh_<source>`."""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task

from revwh.orchestration import DAG_ID, MARTS_URI, SOURCES, WRITES, default_args, run_step
from revwh.settings import load_settings

SETTINGS = load_settings()
MARTS = Asset(MARTS_URI)


@dag(
    dag_id=DAG_ID,
    schedule=SETTINGS.schedule,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(SETTINGS),
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
    def publish_marts(built: dict, gated: dict, ds=None, outlet_events=None):
        published = run_step("publish_marts", ds, built["version"], built["relations"])
        # the forecast DAG reads the as-of date of what was published from the asset event
        outlet_events[MARTS].extra = {"ds": ds, "version": built["version"]}
        return published

    if SETTINGS.dbt_tasks == "cosmos":  # one task per dbt model (revwh.cosmos_dbt)
        from revwh.cosmos_dbt import cosmos_build

        first, built = cosmos_build(SETTINGS)
    else:
        first = built = dbt_build()
    [extract.override(task_id=f"extract_{source}")(source) for source in SOURCES] >> first
    publish_marts(built, quality_gate(built))


revenue_nightly()
