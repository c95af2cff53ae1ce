"""Issue "Marts I" on DuckDB: the pipeline and verifier marts reproduce the demo's ground truth,
fct_opportunity_daily built day by day (incremental, carried over between versions) equals a
full refresh row for row, re-extracting a quarter of history changes nothing, and every dbt
data test and unit test passes."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from revwh import pipeline
from revwh.transform import load_manifest, stale_models
from revwh.warehouse import connect
from tests.marts import truth_checks as tc
from tests.marts.conftest import DS, INCREMENTAL, MARTS, Built, landed_rows, marts_settings


def test_closed_won_by_month_matches_the_truth_exactly(built: Built, truth: dict):
    assert tc.closed_won_differences(built.q, built.incremental["version"], truth) == []


def test_stage_conversion_by_cohort_matches_the_truth_exactly(built: Built, truth: dict):
    expected = truth["aggregates"]["stage_conversion_by_cohort"]
    assert tc.stage_conversion(built.q, built.incremental["version"]) == expected


def test_verifier_cycle_times_within_one_percent(built: Built, truth: dict):
    assert tc.cycle_time_differences(built.q, built.incremental["version"], truth) == []
    # the truth has cycles for every object verifier: they are really compared
    assert sum(v["n"] > 0 for v in truth["aggregates"]["verifier_cycle_time"].values()) >= 5


def test_verifier_status_mix_within_one_percent(built: Built, truth: dict):
    assert tc.status_mix_differences(built.q, built.incremental["version"], truth) == []


def test_waterfall_balances_and_lost_in_flight_is_a_rate(built: Built):
    schema = built.incremental["version"]
    unbalanced = built.q(
        f'select count(*) from "{schema}".pipeline_waterfall where abs(start_amount + created_amount '
        f'+ pulled_in_amount - pushed_out_amount - won_amount - lost_amount + amount_change '
        f'- end_amount) >= 0.01')
    assert unbalanced == [(0,)]
    rates = built.q(f'select min(lost_in_flight_rate), max(lost_in_flight_rate), count(*) '
                    f'from "{schema}".verifier_status_mix where lost_deals > 0')
    low, high, n = rates[0]
    assert n > 0 and 0 <= low <= high <= 1 and high > 0


def test_incremental_models_were_carried_over_day_by_day(built: Built):
    first, *later = built.chain
    assert first["carried_over"] == [] and built.full["carried_over"] == []
    for result in later:
        assert set(result["carried_over"]) == INCREMENTAL
        compiled = built.settings.home / "dbt_target" / result["version"] / "compiled"
        # dbt took the incremental paths
        assert "window_start" in next(compiled.rglob("fct_opportunity_daily.sql")).read_text()
        # (the activity window's start, read from int_activity_window, as a literal)
        assert re.search(r"occurred_at >= cast\('\d{4}-\d\d-\d\d",
                         next(compiled.rglob("fct_activity.sql")).read_text())
        # the generation tables the version reads keep their contract's constraints: nulls
        # still fail the build
        not_null = built.q(
            "select g.model, c.column_name from revwh_state.versioned_generations as g "
            "join duckdb_columns() as c on c.schema_name = 'revwh_state' "
            f"and c.table_name = g.generation where g.version = '{result['version']}' "
            "and not c.is_nullable")
        assert {("fct_activity", "activity_id"), ("fct_opportunity_daily", "opportunity_id"),
                ("opportunity_verifier_score", "snapshot_date")} <= set(not_null)


def test_a_changed_model_seed_or_macro_rebuilds_every_incremental_model_downstream(
        built: Built):
    """A change is detected from the previous version's manifest (dbt's file checksums, the
    macros' text): the incremental models built with the changed file, and every one downstream,
    are not carried over."""
    found = load_manifest(built.settings.home / "dbt_target" / built.incremental["version"]
                          / "manifest.json")
    assert stale_models(found) == set()

    def changed(name: str) -> set[str]:
        edited = json.loads(json.dumps(found))
        if name.startswith("macro."):  # as if the macro had been edited since
            edited["macros"][name]["macro_sql"] += "{# edited #}"
        else:  # as if the file had changed since
            node = next(n for n in edited["nodes"].values() if n["name"] == name)
            node["checksum"]["checksum"] = "0" * 64
        return stale_models(edited) & INCREMENTAL

    assert changed("sales_process_map") == {"fct_opportunity_daily", "opportunity_verifier_score",
                                            "int_activity_matches", "int_email_responses",
                                            "int_opportunity_stakeholder_touches", "fct_activity",
                                            "opportunity_engagement", "pipeline_waterfall"}
    assert changed("int_activities") == INCREMENTAL - {
        "stg_activity__emails", "stg_activity__email_recipients", "stg_activity__meetings",
        "stg_activity__meeting_attendees", "int_email_threads", "int_activity_participants",
        "fct_opportunity_daily", "opportunity_verifier_score", "pipeline_waterfall"}
    assert changed("opportunity_verifier_score") == {"opportunity_verifier_score"}
    # a macro called only in the incremental branch (not seen by dbt's parse), one that every
    # window uses, the materialization dbt calls, and a macro the materialization calls
    assert changed("macro.revwh.versioned_changes") == {"opportunity_engagement", "pipeline_waterfall"}
    assert changed("macro.revwh.as_of_date") == INCREMENTAL
    versioned = {"fct_opportunity_daily", "opportunity_verifier_score", "fct_activity",
                 "opportunity_engagement"}
    assert versioned <= changed("macro.revwh.materialization_versioned_incremental_default")
    assert versioned <= changed("macro.revwh.versioned_generation")


@pytest.mark.parametrize("mart", MARTS)
def test_incremental_day_by_day_equals_full_refresh_row_for_row(built: Built, mart: str):
    inc, full = built.incremental["version"], built.full["version"]
    with connect(built.settings, read_only=True) as con:
        n_inc = con.scalar(f'select count(*) from "{inc}"."{mart}"')
        n_full = con.scalar(f'select count(*) from "{full}"."{mart}"')
        only_inc = con.scalar(f'select count(*) from (select * from "{inc}"."{mart}" except all '
                              f'select * from "{full}"."{mart}") as d')
        only_full = con.scalar(f'select count(*) from (select * from "{full}"."{mart}" except all '
                               f'select * from "{inc}"."{mart}") as d')
    assert n_inc > 0 and (n_inc, only_inc, only_full) == (n_full, 0, 0)


def test_every_dbt_data_test_and_unit_test_passes(built: Built):
    result = built.tested
    kinds = {n["unique_id"].split(".")[0] for n in result.nodes}
    assert result.success, result.summary()
    assert {"test", "unit_test"} <= kinds
    units = [n for n in result.nodes if n["unique_id"].startswith("unit_test.")]
    assert len(units) >= 11 and all(n["status"] == "pass" for n in units)


def _requarter(source: Path, target: Path, truth: dict, first: str, last: str) -> int:
    """Copy the rows created in [first, last] of every CRM export into a new drop folder, as
    if those records were extracted again unchanged (malformed rows left out: they were
    rejected the first time)."""
    target.mkdir(parents=True)
    bad = {(m["table"], m["row_number"]) for m in truth["malformed"] if m["row_number"]}
    copied = 0
    for name in ("opportunity", "opportunity_history", "opportunity_field_history",
                 "verifier_status_c", "opportunity_contact_role", "account", "user"):
        with (source / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            col = header.index("created_date")
            rows = [r for i, r in enumerate(reader, start=1)
                    if first <= r[col][:10] <= last and (name, i) not in bad]
        with (target / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        copied += len(rows)
    return copied


def test_reextracting_a_quarter_unchanged_leaves_every_mart_unchanged(
        built: Built, demo_dir: Path, truth: dict, tmp_path: Path):
    drop = tmp_path / "requarter"
    copied = _requarter(demo_dir / "crm" / "salesforce", drop, truth, "2025-04-01", "2025-06-30")
    assert copied > 1000
    again = marts_settings(built.settings.home, drop)
    assert landed_rows(pipeline.extract_crm(again, DS)) == copied
    rebuilt = pipeline.build(again, DS, full_refresh=True)
    before = built.incremental["version"]
    with connect(built.settings, read_only=True) as con:
        for mart in MARTS + ("fct_win_loss",):
            for a, b in ((before, rebuilt["version"]), (rebuilt["version"], before)):
                assert con.scalar(f'select count(*) from (select * from "{a}"."{mart}" except all '
                                  f'select * from "{b}"."{mart}") as d') == 0, mart
