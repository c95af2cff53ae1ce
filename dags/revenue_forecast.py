"""revenue_forecast: forecast -> publish forecast, scheduled on the marts Asset: it runs whenever
revenue_nightly publishes new marts, for the date those marts are as of. Orchestration only."""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from revwh.orchestration import (
    FORECAST_DAG_ID,
    FORECAST_URI,
    MARTS_URI,
    WRITES,
    default_args,
    marts_as_of,
    run_step,
)
from revwh.settings import load_settings

SETTINGS = load_settings()
MARTS = Asset(MARTS_URI)
FORECAST = Asset(FORECAST_URI)


@dag(
    dag_id=FORECAST_DAG_ID,
    schedule=[MARTS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(SETTINGS),
    tags=["revwh"],
    doc_md=__doc__,
)
def revenue_forecast():
    @task(**WRITES)
    def forecast(ds=None, triggering_asset_events=None):
        return run_step("forecast", marts_as_of(triggering_asset_events, ds))

    @task(outlets=[FORECAST], **WRITES)
    def publish_forecast(forecasted: dict, ds=None):
        return run_step("publish_forecast", ds, forecasted["version"], forecasted["relations"])

    publish_forecast(forecast())


revenue_forecast()
