"""The same models build and pass their dbt tests on PostgreSQL (the second dbt target), with the
same numbers as on DuckDB and the same agreement with the ground truth. The build at DS continues
the incremental models of the version published the day before (carried over on PostgreSQL)."""

from __future__ import annotations

import math
from pathlib import Path

from revwh import pipeline
from revwh.transform import run_dbt
from tests.marts import truth_checks as tc
from tests.marts.conftest import DS, INCREMENTAL, day, demo_activity, marts_settings, query
from tests.marts.test_activity_marts import activity_rows
from tests.marts.test_win_loss import mart_rows, same_rows


def test_postgres_builds_passes_every_test_and_matches_duckdb(
        tmp_path: Path, demo_dir: Path, truth: dict, pg_dsn: str, built):
    settings = marts_settings(tmp_path / "home", demo_dir / "crm" / "salesforce",
                              REVWH_TARGET="postgres", REVWH_POSTGRES_DSN=pg_dsn,
                              **demo_activity(demo_dir))
    pipeline.extract_crm(settings, DS)
    pipeline.extract_activity(settings, DS)
    before = pipeline.build(settings, day(DS, -1))
    pipeline.publish_marts(settings, before["version"], before["relations"])
    result = pipeline.build(settings, DS)
    assert set(result["carried_over"]) == INCREMENTAL
    version = result["version"]
    tested = run_dbt(settings, version, ["test"], DS)
    assert tested.success, tested.summary()
    assert any(n["unique_id"].startswith("unit_test.") for n in tested.nodes)

    def q(sql: str) -> list[tuple]:
        return query(settings, sql)

    assert tc.closed_won_differences(q, version, truth) == []
    assert tc.stage_conversion(q, version) == truth["aggregates"]["stage_conversion_by_cohort"]
    assert tc.cycle_time_differences(q, version, truth) == []
    assert tc.status_mix_differences(q, version, truth) == []

    on_postgres = tc.headline_numbers(q, version, DS)
    on_duckdb = tc.headline_numbers(built.q, built.incremental["version"], DS)
    assert on_postgres["rows"] == on_duckdb["rows"]
    for name, value in on_duckdb.items():
        if name != "rows":
            assert math.isclose(on_postgres[name], value, rel_tol=1e-9), name
    win_loss_pg = mart_rows(q, version)
    for mart, rows in mart_rows(built.q, built.incremental["version"]).items():
        assert rows and same_rows(win_loss_pg[mart], rows), mart
    activity_pg = activity_rows(q, version)
    for mart, rows in activity_rows(built.q, built.incremental["version"]).items():
        assert rows and same_rows(activity_pg[mart], rows), mart
