"""Marts on the demo data: generated once per session, landed with the real extractor, built
with the real pipeline steps (dbt in a subprocess), on DuckDB and on PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from revwh import pipeline
from revwh.demo import DEMO_AS_OF, generate
from revwh.settings import Settings, load_settings
from revwh.transform import DbtResult, run_dbt
from revwh.warehouse import connect
from tests.conftest import fresh_database

DS = str(DEMO_AS_OF)
SCALE = 0.3  # ~600 opportunities: every aggregate of the ground truth is populated

# the marts checked: pipeline, verifier, win/loss, activity
MARTS = ("fct_opportunity", "fct_opportunity_daily", "fct_stage_transition", "stage_conversion",
         "pipeline_waterfall", "pipeline_coverage", "fct_verifier_event", "fct_verifier_cycle",
         "verifier_cycle_time", "verifier_velocity", "verifier_status_mix",
         "opportunity_verifier_score",
         "fct_win_loss", "fct_win_loss_verifier", "win_loss_patterns", "win_rate", "bowtie",
         "rep_scorecard", "fct_activity", "opportunity_engagement")
# the activity models recompute a window (dbt_project/macros/activity_window.sql); all but
# fct_activity live in the state schema, continued in place by each build
STATE_SCHEMA = "revwh_state"
ACTIVITY_INCREMENTAL = {"stg_activity__emails", "stg_activity__email_recipients",
                        "stg_activity__meetings", "stg_activity__meeting_attendees",
                        "int_email_threads", "int_activities", "int_activity_participants",
                        "int_activity_matches", "int_email_responses",
                        "int_opportunity_stakeholder_touches", "fct_activity"}
INCREMENTAL = ({"fct_opportunity_daily", "opportunity_verifier_score", "opportunity_engagement",
                "pipeline_waterfall"}
               | ACTIVITY_INCREMENTAL)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, scale=SCALE, seed=42)
    return out


@pytest.fixture(scope="session")
def truth(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "ground_truth" / "ground_truth.json").read_text())


def demo_activity(demo_dir: Path) -> dict[str, str]:
    """Settings that point the mail and calendar readers at the demo's mailboxes and calendars."""
    return {"REVWH_MAIL_DIR": str(demo_dir / "mail"), "REVWH_CALENDAR_DIR": str(demo_dir / "calendar")}


def marts_settings(home: Path, drop: Path, **extra: str) -> Settings:
    env = {"REVWH_HOME": str(home), "REVWH_SALESFORCE_FILE_DROP": str(drop), "REVWH_RETRIES": "0",
           "REVWH_MAIL_DIR": str(home / "no-mail"), "REVWH_CALENDAR_DIR": str(home / "no-calendar")}
    env.update(extra)
    return load_settings(env=env)


def query(settings: Settings, sql: str, params=()) -> list[tuple]:
    with connect(settings, read_only=True) as con:
        return [tuple(r) for r in con.execute(sql, params)]


@pytest.fixture(scope="session")
def pg_dsn():
    """A fresh PostgreSQL database for this session: the marts must build on both targets."""
    with fresh_database("revwh_test_marts") as dsn:
        yield dsn


def day(ds: str, delta: int) -> str:
    return (date.fromisoformat(ds) + timedelta(days=delta)).isoformat()


def landed_rows(extracted: dict) -> int:
    """Rows the Salesforce file drop landed, from pipeline.extract_crm's summary."""
    found = extracted.get("salesforce_files", extracted)
    return sum((found.get("rows") or {}).values())


@dataclass
class Built:
    settings: Settings
    chain: list[dict]       # published day by day: DS-2 (first, full), DS-1, DS (incremental)
    full: dict              # one full refresh at DS, with every dbt test (not published)
    tested: DbtResult

    @property
    def incremental(self) -> dict:
        return self.chain[-1]

    def q(self, sql: str) -> list[tuple]:
        return query(self.settings, sql)


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_dir: Path) -> Built:
    root = tmp_path_factory.mktemp("marts_duckdb")
    settings = marts_settings(root / "home", demo_dir / "crm" / "salesforce",
                              **demo_activity(demo_dir))
    pipeline.extract_crm(settings, DS)
    pipeline.extract_activity(settings, DS)
    chain = []
    for ds in (day(DS, -2), day(DS, -1), DS):
        result = pipeline.build(settings, ds)
        pipeline.publish_marts(settings, result["version"], result["relations"])
        chain.append(result)
    # the full refresh and all dbt tests (data and unit) in one dbt invocation: dbt's start-up and
    # parse dominate at this scale (pipeline.build(full_refresh=True) is run by the
    # re-extraction test)
    full = {"version": "marts_full_refresh_check", "carried_over": []}
    tested = run_dbt(settings, full["version"], ["build", "--full-refresh"], DS)
    return Built(settings=settings, chain=chain, full=full, tested=tested)
