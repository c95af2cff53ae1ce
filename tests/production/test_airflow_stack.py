"""The project's DAGs in a production-shaped Airflow 3 (see conftest.py): metadata on PostgreSQL,
the real scheduler, dag-processor and api-server, tasks on the LocalExecutor and on a Celery
worker with Redis, a PostgreSQL warehouse, failure alerts, the BI role.

Why not `airflow dags test`: it runs every task inside its own process through an in-process
execution API, with no executor at all, so it shows nothing about an executor. With
`--use-executor` it hands tasks to the executor, whose task processes then call the api-server's
execution API, but its own loop replaces the scheduler and the dag-processor. Here the deployed
components run as they would in docker-compose.yml."""

from __future__ import annotations

import json

import psycopg2
import pytest

from revwh import publish
from revwh.orchestration import DAG_ID, FORECAST_DAG_ID, MARTS_URI
from tests.production.conftest import ALERT_TO, DS, Production
from tests.production.receivers import body

NIGHTLY_TASKS = {"extract_salesforce_files", "extract_salesforce_api", "extract_hubspot",
                 "extract_mapped_exports", "extract_mail", "extract_calendars", "dbt_build",
                 "quality_gate", "publish_marts"}


def enqueued_for(log: str, dag_id: str, executor: str) -> set[str]:
    """Task ids the scheduler log shows it handed to `executor`."""
    return {line.split(f"{dag_id}.", 1)[1].split(" ", 1)[0] for line in log.splitlines()
            if "Trying to enqueue tasks" in line and f"for executor: {executor}" in line
            and f"{dag_id}." in line}


def test_nightly_dag_passes_on_local_executor_with_postgres(production: Production,
                                                           nightly: dict[str, str]):
    assert nightly == {"run": "success", **{t: "success" for t in NIGHTLY_TASKS}}, (
        production.stack.log_tail("scheduler"))
    scheduler_log = (production.stack.home / "scheduler.log").read_text()
    assert enqueued_for(scheduler_log, DAG_ID, "LocalExecutor") == NIGHTLY_TASKS

    marts = publish.current(production.settings, "marts")
    assert marts is not None and marts.logical_date == DS
    rows = publish.row_counts(production.settings, "marts")
    assert rows["fct_opportunity"] > 0 and rows["fct_win_loss"] > 0

    # publish_marts recorded the marts Asset event, and the forecast DAG is queued on it
    [(extra,)] = production.stack.query(
        "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.uri = %s",
        (MARTS_URI,))
    extra = extra if isinstance(extra, dict) else json.loads(extra)
    assert extra == {"ds": DS, "version": marts.version}
    assert production.stack.query("select target_dag_id from asset_dag_run_queue") == [
        (FORECAST_DAG_ID,)]


def test_celery_worker_runs_the_forecast_dag(production: Production,
                                             celery_forecast: dict[str, str]):
    stack = production.stack
    assert celery_forecast == {"run": "success", "forecast": "success",
                               "publish_forecast": "success"}, stack.log_tail("celery-worker")
    scheduler_log = (stack.home / "scheduler.log").read_text()
    assert enqueued_for(scheduler_log, FORECAST_DAG_ID, "CeleryExecutor") == {
        "forecast", "publish_forecast"}
    worker_log = (stack.home / "celery-worker.log").read_text()
    for task_id in ("forecast", "publish_forecast"):
        assert f"task_id='{task_id}'" in worker_log or f"{FORECAST_DAG_ID}.{task_id}" in worker_log
    forecast = publish.current(production.settings, "forecast")
    assert forecast is not None and forecast.logical_date == DS
    assert publish.row_counts(production.settings, "forecast")["revenue_forecast"] > 0


def test_failed_task_alerts_slack_and_email(production: Production,
                                            failed_forecast: dict[str, str]):
    assert failed_forecast["run"] == "failed"
    assert failed_forecast["forecast"] == "failed"
    assert failed_forecast["publish_forecast"] == "upstream_failed"

    # one alert per channel: only the task that failed alerts, not the one skipped after it
    [post] = production.slack.posts
    text = post["json"]["text"]
    assert post["path"] == "/services/T000/B000/XXXX"
    assert f"{FORECAST_DAG_ID}.forecast failed" in text
    assert "cause: " in text and "log: http://127.0.0.1:" in text

    [mail] = production.smtp.messages
    assert mail["to"] == [ALERT_TO]
    assert mail["message"]["Subject"].startswith(f"[revwh] {FORECAST_DAG_ID}.forecast failed")
    assert "cause: " in body(mail["message"])


def test_bi_role_reads_published_marts_and_forecast_only(production: Production,
                                                         celery_forecast: dict[str, str]):
    marts = publish.current(production.settings, "marts")
    con = psycopg2.connect(production.bi_dsn)
    con.autocommit = True  # each statement on its own: a denied one leaves the next unaffected
    try:
        cur = con.cursor()
        # both publishes (marts by the nightly run, forecast on the Celery worker) recreated the
        # views after the role was granted: the grants were renewed in the same transaction
        cur.execute("select count(*) from marts.fct_opportunity")
        assert cur.fetchone()[0] > 0
        cur.execute("select count(*) from forecast.revenue_forecast")
        assert cur.fetchone()[0] > 0

        denied = [
            "select * from raw_salesforce.opportunity limit 1",
            f'select * from "{marts.version}".fct_opportunity limit 1',
            "select * from revwh_meta.versions limit 1",
        ]
        for sql in denied:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(sql)

        # sessions start read-only; even with that switched off, no privilege allows a write
        cur.execute("set default_transaction_read_only = off")
        writes = [
            "insert into marts.fct_opportunity select * from marts.fct_opportunity limit 1",
            "delete from forecast.revenue_forecast",
            "update marts.fct_opportunity set amount = 0",
            "create table public.bi_scratch (a int)",
            "create table marts.bi_scratch (a int)",
            "create temporary table bi_scratch (a int)",
            "create schema bi_scratch",
            "drop view marts.fct_opportunity",
        ]
        for sql in writes:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(sql)
    finally:
        con.close()
