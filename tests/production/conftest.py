"""One production-shaped deployment for the module: Airflow's metadata on a fresh PostgreSQL
database, the real api-server, dag-processor and scheduler, a PostgreSQL warehouse, the BI role,
failure alerts to a local Slack webhook and SMTP server, and one small demo data set.

The runs happen in a fixed order, each fixture depending on the one before: revenue_forecast
fails while nothing is published yet (the alert), revenue_nightly runs in full on the
LocalExecutor, then the scheduler restarts on the CeleryExecutor and a Celery worker runs
revenue_forecast for the published marts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pytest

from revwh.bi_access import ensure_role
from revwh.demo import DEMO_AS_OF, generate
from revwh.orchestration import DAG_ID, FORECAST_DAG_ID, WRITER_POOL
from revwh.settings import Settings, load_settings
from tests.conftest import PG_SERVER, fresh_database
from tests.production.receivers import SlackWebhook, SmtpServer
from tests.production.stack import AirflowStack, free_port

DS = DEMO_AS_OF.isoformat()
SCALE = 0.05
ALERT_TO = "revops-oncall@example.com"


def require_packages() -> None:
    """What Airflow on PostgreSQL with Celery needs beyond Airflow's own requirements."""
    import importlib.util

    from celery.backends import database

    missing = []
    if importlib.util.find_spec("asyncpg") is None:
        missing.append("asyncpg (Airflow's async metadata engine on PostgreSQL)")
    if not hasattr(database, "retry"):
        missing.append("celery<5.7 (the Celery provider imports celery.backends.database.retry, "
                       "which celery 5.7 removed)")
    if missing:
        pytest.fail("the environment lacks " + "; ".join(missing) + ": add them to "
                    "pyproject.toml and run `make lock`")


def drop_role(role: str) -> None:
    with psycopg2.connect(f"{PG_SERVER}/postgres") as con, con.cursor() as cur:
        cur.execute(f'drop role if exists "{role}"')


@dataclass
class Production:
    stack: AirflowStack
    settings: Settings          # the warehouse, as every Airflow process sees it
    bi_dsn: str                 # how a BI tool logs in
    slack: SlackWebhook
    smtp: SmtpServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, scale=SCALE, seed=42)
    return out


@pytest.fixture(scope="module")
def production(tmp_path_factory, demo: Path) -> Iterator[Production]:
    require_packages()
    root = tmp_path_factory.mktemp("production")
    slack, smtp = SlackWebhook(), SmtpServer()
    role = f"revwh_test_bi_{uuid.uuid4().hex[:8]}"
    try:
        with fresh_database("revwh_test_airflow") as metadata, \
                fresh_database("revwh_test_wh") as warehouse:
            env = {"REVWH_HOME": str(root / "revwh"), "REVWH_TARGET": "postgres",
                   "REVWH_POSTGRES_DSN": warehouse, "REVWH_RETRIES": "0",
                   "REVWH_SALESFORCE_FILE_DROP": str(demo / "crm" / "salesforce"),
                   "REVWH_MAIL_DIR": str(demo / "mail"),
                   "REVWH_CALENDAR_DIR": str(demo / "calendar"),
                   "REVWH_BI_ROLE": role,
                   "REVWH_ALERT_SLACK_WEBHOOK_URL": slack.url,
                   "REVWH_ALERT_SMTP_URL": smtp.url, "REVWH_ALERT_EMAIL_TO": ALERT_TO,
                   "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            settings = load_settings(env=env)
            ensure_role(settings, password="bi-test-password")
            (root / "airflow").mkdir()
            stack = AirflowStack(home=root / "airflow", metadata_dsn=metadata, env_extra=env,
                                 queue=f"revwh_test_{uuid.uuid4().hex[:8]}")
            stack.airflow("db", "migrate")
            for name in ("api-server", "dag-processor", "scheduler"):
                stack.start(name, name)
            try:
                stack.wait_api()
                stack.api("POST", "/pools", {"name": WRITER_POOL, "slots": 1,
                                             "description": "one warehouse writer"})
                stack.wait_dags(DAG_ID, FORECAST_DAG_ID)
                yield Production(stack=stack, settings=settings,
                                 bi_dsn=warehouse.replace("postgres@", f"{role}:bi-test-password@"),
                                 slack=slack, smtp=smtp)
            finally:
                stack.stop_all()
    finally:
        drop_role(role)
        slack.close()
        smtp.close()


@pytest.fixture(scope="module")
def failed_forecast(production: Production) -> dict[str, str]:
    """revenue_forecast before any marts exist: its forecast task fails for good (no retries)."""
    stack = production.stack
    day_before = (date.fromisoformat(DS) - timedelta(days=1)).isoformat()
    return stack.wait_run(FORECAST_DAG_ID, stack.trigger(FORECAST_DAG_ID, day_before), 600)


@pytest.fixture(scope="module")
def nightly(production: Production, failed_forecast) -> dict[str, str]:
    """revenue_nightly for DS on the LocalExecutor: every task, the real sources."""
    stack = production.stack
    return stack.wait_run(DAG_ID, stack.trigger(DAG_ID, DS), 1200)


@pytest.fixture(scope="module")
def celery_forecast(production: Production, nightly) -> dict[str, str]:
    """The scheduler again, now on the CeleryExecutor with Redis, and one Celery worker:
    revenue_forecast for the marts the nightly run published."""
    stack = production.stack
    stack.stop("scheduler")
    stack.start("scheduler", "scheduler", executor="CeleryExecutor")
    stack.start("celery-worker", "celery", "worker", "--queues", stack.queue,
                "--concurrency", "1", "--without-mingle", "--without-gossip",
                "--skip-serve-logs", executor="CeleryExecutor")
    return stack.wait_run(FORECAST_DAG_ID, stack.trigger(FORECAST_DAG_ID, DS), 900)
