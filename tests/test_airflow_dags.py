"""The README's main job through Airflow itself: `revwh demo` runs revenue_nightly with
`airflow dags test`, then revenue_forecast, which the marts Asset schedules; the asset event
carries the as-of date the forecast run uses."""

from __future__ import annotations

import json
import sqlite3

from revwh import publish
from revwh.demo import DEMO_AS_OF
from revwh.orchestration import MARTS_URI
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
