"""Issue 2: the nightly run end to end, idempotent reruns, a failed gate publishing nothing,
rollback, and clear errors for bad settings and sources."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from revwh import publish
from tests.conftest import MINI_DROP, Home, make_home

DS = "2025-02-01"
DAY_BEFORE = "2025-01-31"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Home:
    """A warehouse after a good `revwh backfill` of the day before DS and DS on the mini drop
    (a copy the tests may change)."""
    root = tmp_path_factory.mktemp("spine")
    drop = root / "drop"
    shutil.copytree(MINI_DROP, drop)
    home = make_home(root / "home", REVWH_SALESFORCE_FILE_DROP=str(drop))
    home.path.mkdir()
    result = home.revwh("backfill", "--from", DAY_BEFORE, "--to", DS)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "backfill of 2 dates published" in result.stdout
    assert "published marts" in result.stdout
    return home


def test_first_run_publishes_every_area(published: Home):
    counts = publish.row_counts(published.settings, "marts")
    assert counts["fct_opportunity"] == 4
    assert counts["fct_win_loss"] == 2  # one won, one lost in the drop
    assert counts["fct_verifier_event"] > 0
    assert publish.row_counts(published.settings, "forecast")["revenue_forecast"] > 0


def test_rerun_same_date_leaves_published_marts_byte_identical(published: Home):
    before = publish.checksums(published.settings)
    version_before = publish.current(published.settings).version
    result = published.revwh("run", "--date", DS)
    assert result.returncode == 0, result.stderr
    assert publish.current(published.settings).version != version_before  # really rebuilt
    assert publish.checksums(published.settings) == before


def test_duplicate_ids_fail_the_gate_and_publish_nothing(published: Home):
    settings = published.settings
    before = publish.checksums(settings)
    version_before = publish.current(settings).version
    drop = Path(published.env["REVWH_SALESFORCE_FILE_DROP"])
    original = (drop / "opportunity.csv").read_text()
    lines = original.splitlines()
    # the same opportunity id twice in one export, with a different amount
    (drop / "opportunity.csv").write_text(
        "\n".join(lines + [lines[1].replace(",120000,", ",999999,")]) + "\n")
    try:
        result = published.revwh("run", "--date", "2025-02-02")
    finally:
        (drop / "opportunity.csv").write_text(original)
    assert result.returncode != 0
    assert "quality gate failed" in result.stderr
    assert "expect_compound_columns_to_be_unique" in result.stderr
    assert "raw__salesforce__opportunity" in result.stderr
    assert publish.current(settings).version == version_before
    assert publish.checksums(settings) == before
    statuses = {v.version: v.status for v in publish.versions(settings)}
    assert "failed" in statuses.values()


def test_rollback_returns_to_the_previous_version(published: Home):
    settings = published.settings
    history = [v for v in publish.versions(settings, "marts") if v.status in ("published", "retired")]
    assert len(history) >= 2
    result = published.revwh("rollback")
    assert result.returncode == 0, result.stderr
    assert publish.current(settings).version == history[1].version
    status = published.revwh("status")
    assert "rolled_back" in status.stdout


def test_bad_setting_is_one_clear_line(tmp_path: Path):
    home = make_home(tmp_path, REVWH_TARGET="oracle")
    result = home.revwh("run", "--date", DS)
    assert result.returncode == 1
    assert "REVWH_TARGET" in result.stderr and "Traceback" not in result.stderr


def test_missing_source_names_the_setting_and_publishes_nothing(tmp_path: Path):
    home = make_home(tmp_path, REVWH_SALESFORCE_FILE_DROP=str(tmp_path / "nowhere"))
    result = home.revwh("run", "--date", DS)
    assert result.returncode == 1
    assert "REVWH_SALESFORCE_FILE_DROP" in result.stderr and "Traceback" not in result.stderr
    assert publish.versions(home.settings) == []


def test_bad_date_is_rejected(tmp_path: Path):
    result = make_home(tmp_path).revwh("run", "--date", "2025-13-01")
    assert result.returncode == 1 and "YYYY-MM-DD" in result.stderr


def test_dagbag_imports_every_dag_without_errors_fast():
    import airflow  # noqa: F401  (Airflow itself loads once; the bar is for our DAG files)
    from airflow.dag_processing.dagbag import DagBag

    from revwh.settings import DAGS_DIR

    started = time.perf_counter()
    bag = DagBag(str(DAGS_DIR))
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    assert "revenue_nightly" in bag.dag_ids
    assert elapsed < 2.0, f"DagBag took {elapsed:.2f} s"
    dag = bag.dags["revenue_nightly"]
    assert dag.max_active_runs == 1 and not dag.catchup
    writers = [t for t in dag.tasks if t.pool == "revwh_warehouse_writer"]
    assert len(writers) == len(dag.tasks)


def test_dag_has_one_extraction_task_per_pipeline_source():
    from airflow.dag_processing.dagbag import DagBag

    from revwh import orchestration, pipeline
    from revwh.settings import DAGS_DIR

    assert orchestration.SOURCES == pipeline.SOURCES
    dag = DagBag(str(DAGS_DIR)).dags["revenue_nightly"]
    extracts = {t.task_id for t in dag.tasks if t.task_id.startswith("extract_")}
    assert extracts == {f"extract_{s}" for s in pipeline.SOURCES}
    assert all(t.downstream_task_ids == {"dbt_build"} for t in dag.tasks
               if t.task_id in extracts)


def test_backfill_publishes_every_date_oldest_first(published: Home):
    marts = publish.versions(published.settings, "marts")
    assert {DAY_BEFORE, DS} <= {v.logical_date for v in marts}
    first = min((v for v in marts if v.logical_date == DAY_BEFORE), key=lambda v: v.version)
    assert first.version < min(v.version for v in marts if v.logical_date == DS)
    backwards = published.revwh("backfill", "--from", DS, "--to", DAY_BEFORE)
    assert backwards.returncode == 1 and "oldest first" in backwards.stderr
