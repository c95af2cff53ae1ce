"""Issue 9: the quality gate stops bad batches; publishing is all-or-nothing, for concurrent
readers and across a killed process."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from revwh import gate, pipeline, publish
from revwh.gate import run_expectations
from revwh.settings import load_settings
from revwh.warehouse import connect, connect_published
from tests.conftest import MINI_DROP, make_home

DS = "2025-02-01"
INVARIANT = ("select (select count(*) from marts.fct_win_loss) "
             "- (select count(*) from marts.fct_opportunity where is_closed), "
             "(select count(*) from marts.fct_opportunity)")


def _warehouse_with(tmp_path: Path, schema: str, create_table: str):
    """Settings of a new home whose warehouse has `schema` and the table `create_table` makes."""
    settings = load_settings(env=make_home(tmp_path).env)
    settings.home.mkdir(parents=True, exist_ok=True)
    with connect(settings) as con:
        con.execute(f"create schema {schema}")
        con.execute(create_table)
    return settings


def _edit_opportunities(drop: Path, edit) -> None:
    path = drop / "opportunity.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    rows = edit(rows)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """Version A published from the mini drop; version B built (not published) from the same
    drop plus one more closed opportunity, so A and B differ in every mart."""
    root = tmp_path_factory.mktemp("gate")
    drop = root / "drop"
    shutil.copytree(MINI_DROP, drop)
    home = make_home(root / "home", REVWH_SALESFORCE_FILE_DROP=str(drop))
    settings = home.settings
    pipeline.extract_crm(settings, DS)
    a = pipeline.build(settings, DS)
    pipeline.gate(settings, DS, a["version"])
    pipeline.publish_marts(settings, a["version"], a["relations"])

    def add_closed(rows):
        extra = dict(rows[0], id="0069", name="Acme Freight - Renewal", amount="60000")
        return rows + [extra]

    _edit_opportunities(drop, add_closed)
    pipeline.extract_crm(settings, DS)
    b = pipeline.build(settings, DS)
    pipeline.gate(settings, DS, b["version"])
    return home, drop, a, b


def test_planted_bad_batch_fails_the_gate_naming_each_failure(two_versions):
    home, drop, a, _ = two_versions
    settings = home.settings
    before = publish.checksums(settings)
    original = (drop / "opportunity.csv").read_text()

    def plant(rows):
        rows = [dict(r) for r in rows]
        rows[1]["amount"] = "-250000"                           # negative amount
        rows[2]["stage_name"] = "Verbal Yes"                    # a stage the seed does not know
        for r in rows[1:]:                                      # 4 of 5 opportunities vanish
            r["is_deleted"] = "true"
        return rows + [dict(rows[0], amount="1")]               # duplicate id in one batch

    _edit_opportunities(drop, plant)
    try:
        pipeline.extract_crm(settings, "2025-02-02")
        candidate = pipeline.build(settings, "2025-02-02")
        with pytest.raises(gate.GateFailed) as failed:
            pipeline.gate(settings, "2025-02-02", candidate["version"])
    finally:
        (drop / "opportunity.csv").write_text(original)
    message = str(failed.value)
    assert "expect_compound_columns_to_be_unique" in message             # duplicate ids
    assert "expect_column_values_to_be_between(amount)" in message       # negative amount
    assert "expect_column_values_to_be_in_set(stage_name)" in message    # unknown stage
    assert "expect_table_row_count_to_be_between" in message             # volume drop
    assert publish.checksums(settings) == before
    assert publish.current(settings).version == a["version"]
    with connect(settings, read_only=True) as con:
        run_ok = con.execute("select success from quality.validation_run "
                             "where version = ?", [candidate["version"]])
        failed_rows = con.scalar("select count(*) from quality.validation_result r join "
                                 "quality.validation_run v using (run_id) where v.version = ? "
                                 "and not r.success", [candidate["version"]])
    assert run_ok == [(False,)] and failed_rows >= 5
    assert Path(message.split("Report: ")[1].split(" and ")[0]).is_file()  # Data Docs written


def test_chunked_validation_equals_whole_table_validation(two_versions):
    """Tables larger than gate_chunk_rows are validated in key-partitioned chunks: every
    expectation's result (success and unexpected count) must be the one the whole table
    gives."""
    home, _, _, b = two_versions

    def results(settings):
        outcomes, _ = run_expectations(settings, b["version"])
        return sorted((o["suite"], o["expectation"], o["kwargs"], o["success"],
                       o["unexpected_count"]) for o in outcomes)

    whole = results(home.settings)
    chunked = results(replace(home.settings, gate_chunk_rows=7))
    assert chunked == whole
    with connect(home.settings, read_only=True) as con:  # chunking really happened
        assert con.scalar(f'select count(*) from "{b["version"]}".fct_opportunity_daily') > 7


def test_gate_leaves_dbt_tests_a_suite_repeats_to_gx(two_versions):
    home, _, _, b = two_versions
    with connect(home.settings, read_only=True) as con:
        rows = con.execute("select r.suite, r.table_name, r.expectation, r.column_name "
                           "from quality.validation_result r join quality.validation_run v "
                           "using (run_id) where v.version = ?", [b["version"]])
    dbt_tests = {table for suite, table, _, _ in rows if suite == "dbt test"}
    gx = {(table, expectation, column) for suite, table, expectation, column in rows
          if not suite.startswith("dbt ")}
    # dbt tests a mart's suite repeats are left to GX: the key's uniqueness, a stage that must
    # be in the sales process map seed
    assert "unique_fct_opportunity_opportunity_id" not in dbt_tests
    assert ("fct_opportunity", "expect_column_values_to_be_unique", "opportunity_id") in gx
    assert not any(t.startswith("unique_combination_of_columns_fct_opportunity_daily")
                   for t in dbt_tests)
    assert not any(t.startswith("relationships_fct_opportunity_stage_name") for t in dbt_tests)
    assert ("fct_opportunity", "expect_column_values_to_be_in_set", "stage_name") in gx
    # dbt source tests a raw suite repeats: the id not null, unique within its batch
    assert not any(t.startswith(("source_not_null_salesforce_opportunity_id",
                                 "source_unique_within_batch_salesforce_opportunity_id"))
                   for t in dbt_tests)
    assert ("opportunity", "expect_column_values_to_not_be_null", "id") in gx
    assert ("opportunity", "expect_compound_columns_to_be_unique", None) in gx
    # the dbt tests GX does not repeat still run: relationships between marts, other accepted
    # values, expressions, staging keys
    assert any(t.startswith("relationships_fct_win_loss_opportunity_id") for t in dbt_tests)
    assert any(t.startswith("accepted_values_fct_opportunity_source_system") for t in dbt_tests)
    assert any(t.startswith("expression_is_true_fct_opportunity") for t in dbt_tests)
    assert any(t.startswith("unique_stg_salesforce__opportunities") for t in dbt_tests)


READER = """
import sys, time
from revwh.settings import load_settings
from revwh.warehouse import connect_published
settings = load_settings()
deadline = time.monotonic() + float(sys.argv[1])
queries, errors, mixed, seen = 0, 0, 0, set()
while time.monotonic() < deadline:
    try:
        with connect_published(settings) as con:
            diff, total = con.execute(sys.argv[2])[0]
        queries += 1
        mixed += diff != 0
        seen.add(total)
    except Exception as exc:
        errors += 1
        print("ERROR", type(exc).__name__, exc, file=sys.stderr)
print(queries, errors, mixed, len(seen))
"""


def test_reader_never_sees_an_error_or_a_mix_during_20_publishes(two_versions):
    home, _, a, b = two_versions
    settings = home.settings
    reader = subprocess.Popen([sys.executable, "-c", READER, "25", INVARIANT],
                              env={**os.environ, **home.env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # the reader is up and querying
    for i in range(20):
        v = (a, b)[i % 2]
        publish.publish(settings, "marts", v["version"], v["relations"])
        time.sleep(0.5)
    out, err = reader.communicate(timeout=120)
    queries, errors, mixed, versions_seen = map(int, out.split())
    assert errors == 0, err
    assert mixed == 0
    assert queries > 20 and versions_seen == 2  # it read throughout, and saw both versions


KILLED_PUBLISHER = """
from revwh import publish
from revwh.settings import load_settings
import sys
publish.publish(load_settings(), "marts", sys.argv[1], sys.argv[2].split(","))
"""


def _consistent(settings, versions) -> int:
    """Both the warehouse views and the reader replica show one whole version."""
    with connect(settings, read_only=True) as con:
        diff, total = con.execute(INVARIANT)[0]
        views = {re.search(r"marts_v\d+", con.scalar(
            "select view_definition from information_schema.views where "
            "table_schema = 'marts' and table_name = ?", [n])).group(0)
            for n in con.relations("marts")}
    assert diff == 0 and len(views) == 1 and views <= versions
    with connect_published(settings) as con:
        assert con.execute(INVARIANT)[0][0] == 0
    return total


def test_killing_publish_leaves_a_whole_version_and_the_rerun_publishes(two_versions):
    home, _, a, b = two_versions
    settings = home.settings
    publish.publish(settings, "marts", a["version"], a["relations"])
    versions = {a["version"], b["version"]}
    rng = random.Random(7)
    env = {**os.environ, **home.env}
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISHER, b["version"],
                                 ",".join(b["relations"])], env=env)
        time.sleep(rng.uniform(0.3, 2.5))  # interpreter start-up, then the publish itself
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _consistent(settings, versions)
        publish.publish(settings, "marts", a["version"], a["relations"])  # back to A
    # the rerun after a kill publishes the new version completely
    subprocess.run([sys.executable, "-c", KILLED_PUBLISHER, b["version"],
                    ",".join(b["relations"])], env=env, check=True)
    assert publish.current(settings).version == b["version"]
    assert _consistent(settings, versions) == 5


def test_a_failing_dbt_test_fails_the_gate_by_name(two_versions):
    """Checks only dbt makes fail the gate and are named: a relationship between marts, and
    duplicate keys in tables (dbt's `unique` and the project's `unique_combination_of_columns`,
    which group a DuckDB table's keys by hash first: macros/duplicate_keys.sql). The dbt results
    are recorded (tests and source freshness) though the gate's dbt writes no artifacts but its
    results files."""
    home, _, _, _ = two_versions
    settings = home.settings
    published = publish.current(settings).version
    candidate = pipeline.build(settings, DS)
    version = candidate["version"]
    with connect(settings) as con:
        con.execute(f'update "{version}".fct_win_loss set opportunity_id = '
                    f"'0060-missing' where opportunity_id = (select min(opportunity_id) "
                    f'from "{version}".fct_win_loss)')
        for table in ("metricflow_time_spine", "fct_win_loss_verifier"):
            con.execute(f'insert into "{version}".{table} select * from "{version}".{table} '
                        "limit 1")
    with pytest.raises(gate.GateFailed) as failed:
        pipeline.gate(settings, DS, version)
    message = str(failed.value)
    assert "dbt test relationships_fct_win_loss_opportunity_id" in message
    assert re.search(r"dbt test unique_metricflow_time_spine_date_day: Got 1 result", message)
    assert re.search(r"dbt test unique_combination_of_columns_fct_win_loss_verifier_opportunity_id"
                     r"__verifier_key: Got 1 result", message)
    assert "fct_win_loss on fct_win_loss" not in message  # the GX suite passes: a dbt-only check
    assert publish.current(settings).version == published
    with connect(settings, read_only=True) as con:
        rows = con.execute("select r.suite, r.table_name, r.success from "
                           "quality.validation_result r join quality.validation_run v "
                           "using (run_id) where v.version = ?", [candidate["version"]])
    assert ("dbt source", "opportunity", True) in rows
    assert any(suite == "dbt test" and name.startswith("relationships_fct_win_loss_opportunity")
               and not ok for suite, name, ok in rows)


def test_string_checks_catch_nulls_duplicates_and_unknown_values(tmp_path):
    """GX sees string columns as Arrow strings: nulls, duplicate keys (alone and in a
    combination) and values outside the set are still found and counted, whole and chunked."""
    settings = _warehouse_with(
        tmp_path, "cand",
        "create table cand.deals as select * from (values "
        "('a', 'x', 'open'), ('b', 'x', 'won'), ('b', 'x', 'lost'), "
        "(null, 'y', 'Verbal Yes'), ('c', null, 'won')) t(id, owner, status)")
    suite = {"name": "deals", "meta": {"table": "deals", "layer": "marts", "key": "id"},
             "expectations": [
                 {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
                 {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
                 {"type": "expect_compound_columns_to_be_unique",
                  "kwargs": {"column_list": ["id", "owner"]}},
                 {"type": "expect_column_values_to_be_in_set",
                  "kwargs": {"column": "status", "value_set": ["open", "won", "lost"]}}]}
    for chunk_rows in (1_000, 2):
        outcomes, _ = run_expectations(replace(settings, gate_chunk_rows=chunk_rows), "cand",
                                       [suite])
        found = {o["expectation"]: (o["success"], o["unexpected_count"]) for o in outcomes}
        assert found == {"expect_column_values_to_not_be_null": (False, 1),
                         "expect_column_values_to_be_unique": (False, 2),
                         "expect_compound_columns_to_be_unique": (False, 2),
                         "expect_column_values_to_be_in_set": (False, 1)}, chunk_rows


def test_a_raw_table_missing_a_contract_column_fails_naming_it(tmp_path):
    """A raw suite checks that the contract's columns are all there (more may be added). A
    missing one fails the suite, named, and so does any check on it; the others still run."""
    settings = _warehouse_with(
        tmp_path, "raw_x",
        "create table raw_x.deal as select * from (values "
        "('d1', 10, 'x'), ('d2', 20, 'y')) t(id, amount, added_later)")
    columns = {"type": "expect_table_columns_to_match_set",
               "kwargs": {"column_set": ["id", "amount"], "exact_match": False}}
    suite = {"name": "raw__x__deal", "meta": {"table": "deal", "layer": "raw",
                                              "schema": "raw_x", "key": "id"},
             "expectations": [
                 columns,
                 {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
                 {"type": "expect_column_values_to_be_in_set",
                  "kwargs": {"column": "stage_name", "value_set": ["Won"]}}]}
    for chunk_rows in (1_000, 1):
        settings = replace(settings, gate_chunk_rows=chunk_rows)
        columns["kwargs"]["column_set"] = ["id", "amount"]
        outcomes, _ = run_expectations(settings, "cand", [suite])
        found = {o["expectation"]: o for o in outcomes}
        assert found["expect_table_columns_to_match_set"]["success"]  # an added column is fine
        assert found["expect_column_values_to_not_be_null"]["success"]
        assert not found["expect_column_values_to_be_in_set"]["success"]  # no such column
        columns["kwargs"]["column_set"] = ["id", "amount", "stage_name"]
        outcomes, _ = run_expectations(settings, "cand", [suite])
        found = {o["expectation"]: o for o in outcomes}
        schema = found["expect_table_columns_to_match_set"]
        assert not schema["success"]
        assert json.loads(schema["detail"])["details"]["mismatched"]["missing"] == ["stage_name"]
        assert found["expect_column_values_to_not_be_null"]["success"]


def test_checks_of_columns_with_nulls_on_a_large_table_are_validated_apart(tmp_path):
    """GX copies the whole frame to drop a column's nulls, so on a large table those checks get
    a frame of that column alone; they find and count the same values."""
    rows = gate.NULLABLE_APART_ROWS + 10
    settings = _warehouse_with(
        tmp_path, "cand",
        "create table cand.touches as select 't' || i as id, "
        "case when i % 3 = 0 then null when i % 1000 = 1 then 7.5 else 0.5 end "
        "as confidence, case when i = 5 then 'fax' else 'email' end as kind, "
        f"'x' || i as note from range({rows}) r(i)")
    suite = {"name": "touches", "meta": {"table": "touches", "layer": "marts", "key": "id"},
             "expectations": [
                 {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
                 {"type": "expect_column_values_to_be_between",
                  "kwargs": {"column": "confidence", "min_value": 0, "max_value": 1}},
                 {"type": "expect_column_values_to_be_in_set",
                  "kwargs": {"column": "kind", "value_set": ["email"]}}]}
    with connect(settings, read_only=True) as con:
        batches = gate._duckdb_batches(con, suite, "cand.touches", "", [], {}, 10 * rows)
    assert [[e["kwargs"]["column"] for e in b.expectations] for b in batches] == [
        ["id", "kind"], ["confidence"]]
    assert '"confidence" from' in batches[1].sql and '"note"' not in batches[1].sql
    outcomes, _ = run_expectations(settings, "cand", [suite])
    found = {o["expectation"]: (o["success"], o["unexpected_count"]) for o in outcomes}
    bad_confidence = sum(1 for i in range(rows) if i % 3 and i % 1000 == 1)
    assert found == {"expect_column_values_to_be_unique": (True, 0),
                     "expect_column_values_to_be_between": (False, bad_confidence),
                     "expect_column_values_to_be_in_set": (False, 1)}


def test_uniqueness_of_columns_without_the_key_is_checked_on_the_whole_table(tmp_path):
    """Chunks are partitioned by the key, so a combination of columns without it is checked for
    uniqueness over the whole table: duplicates with different keys are still found."""
    settings = _warehouse_with(
        tmp_path, "cand",
        "create table cand.quota as select 'q' || i as id, "
        "case when i in (1, 6) then 'emea' else 'r' || i end as region, "
        "'2025' as year from range(8) r(i)")
    unique_pair = {"type": "expect_compound_columns_to_be_unique",
                   "kwargs": {"column_list": ["region", "year"]}}
    suite = {"name": "quota", "meta": {"table": "quota", "layer": "marts", "key": "id"},
             "expectations": [unique_pair]}
    with connect(settings, read_only=True) as con:
        batches = gate._duckdb_batches(con, suite, "cand.quota", "", [], {}, 2)
    assert [(b.part, b.expectations) for b in batches] == [("table", [unique_pair])]
    for chunk_rows in (1_000, 2):
        outcomes, _ = run_expectations(replace(settings, gate_chunk_rows=chunk_rows), "cand",
                                       [suite])
        assert [(o["success"], o["unexpected_count"]) for o in outcomes] == [(False, 2)]


def test_the_suites_run_in_a_process_of_their_own_that_reports_its_failure(tmp_path):
    """The gate validates its suites in a subprocess: it returns what run_expectations returns
    in-process, and a process that cannot open the warehouse, or that is killed, fails the run
    with a message that says so."""
    settings = _warehouse_with(
        tmp_path, "cand",
        "create table cand.deals as select * from (values "
        "('a', 1.0), ('b', -2.0), ('b', 3.0)) t(id, amount)")
    suite = {"name": "deals", "meta": {"table": "deals", "layer": "marts", "key": "id"},
             "expectations": [
                 {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
                 {"type": "expect_column_values_to_be_between",
                  "kwargs": {"column": "amount", "min_value": 0}}]}
    outcomes, docs = gate.start_expectations(settings, "cand", [suite]).results()
    assert outcomes == run_expectations(settings, "cand", [suite])[0]
    assert [o["unexpected_count"] for o in outcomes] == [2, 1] and docs.is_file()
    missing = replace(settings, duckdb_path=tmp_path / "elsewhere.duckdb")
    with pytest.raises(gate.ExpectationsFailed, match="could not run: WarehouseError: no "
                                                      "warehouse at"):
        gate.start_expectations(missing, "cand", [suite]).results()
    killed = gate.start_expectations(settings, "cand", [suite])
    killed.proc.kill()
    with pytest.raises(gate.ExpectationsFailed, match="exit code -9 and no results"):
        killed.results()


def test_the_worker_loads_what_it_deferred_when_a_suite_uses_it(tmp_path):
    """The worker defers scipy.stats and altair past GX's import; a suite whose expectation needs
    them (KL divergence) still validates, with the same outcome as in-process."""
    deferred = subprocess.run(
        [sys.executable, "-c",
         ("import sys\n"
          "from revwh.expectations_runner import DEFERRED_IMPORTS, defer_imports\n"
          "defer_imports(DEFERRED_IMPORTS)\n"
          "import great_expectations\n"
          "print(sorted(m for m in sys.modules if m.startswith(('scipy.stats.', 'altair.'))))")],
        capture_output=True, text=True, check=True)
    assert deferred.stdout.strip() == "[]"
    settings = _warehouse_with(
        tmp_path, "cand",
        "create table cand.deals as select * from (values "
        "('a', 'won'), ('b', 'lost'), ('c', 'lost'), ('d', 'lost')) t(id, outcome)")
    suite = {"name": "deals", "meta": {"table": "deals", "layer": "marts", "key": "id"},
             "expectations": [{"type": "expect_column_kl_divergence_to_be_less_than",
                               "kwargs": {"column": "outcome", "threshold": 0.1,
                                          "partition_object": {"values": ["won", "lost"],
                                                               "weights": [0.5, 0.5]}}}]}
    outcomes, _ = gate.start_expectations(settings, "cand", [suite]).results()
    assert outcomes == run_expectations(settings, "cand", [suite])[0]
    assert outcomes[0]["success"] is False and outcomes[0]["observed_value"] > 0.1
