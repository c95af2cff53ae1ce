"""The README's main job through Airflow itself: `revwh demo` runs revenue_nightly with
`airflow dags test`, then revenue_forecast, which the marts Asset schedules; the asset event
carries the as-of date the forecast run uses."""

from __future__ import annotations

import json
import sqlite3

import pytest

from revwh import publish
from revwh.demo import DEMO_AS_OF
from revwh.orchestration import MARTS_URI, marts_as_of
from tests.conftest import AirflowDemo


def test_demo_runs_both_dags_through_airflow(airflow_demo: AirflowDemo):
    home, result = airflow_demo.home, airflow_demo.result
    assert "revenue_nightly and revenue_forecast succeeded" in result.stdout
    ds = DEMO_AS_OF.isoformat()
    settings = home.settings
    assert publish.current(settings, "marts").logical_date == ds
    assert publish.current(settings, "forecast").logical_date == ds

    log = settings.airflow_home / "airflow.db"
    with sqlite3.connect(log) as db:
        extras = [json.loads(extra) for (extra,) in db.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id "
            "where a.uri = ?", (MARTS_URI,))]
        ran = {dag_id: state for dag_id, state in db.execute(
            "select dag_id, state from dag_run")}
    assert extras and extras[-1]["ds"] == ds
    assert extras[-1]["version"] == publish.current(settings, "marts").version
    assert ran == {"revenue_nightly": "success", "revenue_forecast": "success"}


def _marts_event(ds: str, minute: int):
    from datetime import datetime, timezone

    from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult

    return AssetEventDagRunReferenceResult(
        asset=AssetReferenceAssetEventDagRun(name=MARTS_URI, uri=MARTS_URI, extra={}),
        extra={"ds": ds, "version": f"marts_v{ds}"}, source_task_id="publish_marts",
        source_dag_id="revenue_nightly", source_run_id=f"run_{ds}", source_map_index=-1,
        source_aliases=[], timestamp=datetime(2026, 11, 2, 6, minute, tzinfo=timezone.utc))


def test_forecast_runs_for_the_newest_marts_event_else_its_own_date():
    """What Airflow hands the forecast task (its own accessor and event types): runs queued
    while one was running arrive as several events, and the newest marts win."""
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    events = TriggeringAssetEventsAccessor.build(
        [_marts_event("2026-11-01", 10), _marts_event("2026-11-02", 30),
         _marts_event("2026-10-31", 20)])
    assert marts_as_of(events, None) == "2026-11-02"
    assert marts_as_of(TriggeringAssetEventsAccessor.build([]), "2026-10-31") == "2026-10-31"
    with pytest.raises(ValueError, match="logical date"):
        marts_as_of(TriggeringAssetEventsAccessor.build([]), None)
