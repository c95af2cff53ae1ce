"""The Salesforce-shaped file drop on DuckDB: checked in DuckDB and appended in one transaction
(revwh.raw.direct). Real files, a real warehouse; what the raw contract promises: Fivetran
names, typed columns as dlt creates them, batch columns, rejects, processed files, crash safety.
(PostgreSQL, where dlt lands the rows: test_postgres_destination.)"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from revwh.extract.file_drop import DATASET, PIPELINE, SOURCE, extract_file_drop
from revwh.raw.landing import RejectShareExceeded, land
from tests.conftest import MINI_DROP, ROOT
from tests.extract.crm.conftest import query, settings_for, table_counts
from tests.extract.crm.sfdata import make_drop, record_count

DS = "2026-11-01"

HEADER = ("Id,Name,Account Id,Amount,Close Date,Stage Name,Is Won,Created Date,System Modstamp,"
          "Discount Tier C\n")
GOOD = [
    "o1,First,a1,1000.5,2026-10-01,Closed Won,true,2026-09-01 10:00:00,2026-10-01T12:00:00Z,gold",
    ('o2,"Second, with a comma",a1,,2026-11-15,Prospecting,false,2026-09-02 10:00:00,'
     "2026-10-02 08:00:00+0200,"),
]
BAD = [
    "o3,Bad amount,a2,lots,2026-11-15,Prospecting,false,2026-09-03 10:00:00,2026-10-03 10:00:00,",
    "o4,No stage,a2,10,2026-11-15,,false,2026-09-04 10:00:00,2026-10-04 10:00:00,",
    "o5,Too,many,columns,here,x,y,z,w,v,u",
]


def drop_with(folder, lines, name="opportunity.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_rows_rejects_new_and_missing_fields(tmp_path, caplog):
    drop = drop_with(tmp_path / "drop", GOOD + BAD)
    shutil.copy(MINI_DROP / "account.csv", drop / "account.csv")
    settings = settings_for(tmp_path / "home", REVWH_SALESFORCE_FILE_DROP=str(drop),
                            REVWH_MAX_REJECT_SHARE="0.9")
    with caplog.at_level(logging.WARNING):
        result = extract_file_drop(settings, DS)
    assert result.rows == {"opportunity": 2, "account": record_count(MINI_DROP)["account"]}
    assert result.rejects == 3
    # contracted columns the file lacks land as typed nulls, with a warning naming them
    assert "probability" in caplog.text and "loaded as null" in caplog.text

    rows = query(settings, "select id, name, account_id, amount, close_date::varchar, "
                 "stage_name, is_won, system_modstamp::varchar, probability, discount_tier_c "
                 "from raw_salesforce.opportunity order by id")
    assert rows == [
        ("o1", "First", "a1", 1000.5, "2026-10-01", "Closed Won", True,
         "2026-10-01 12:00:00+00", None, "gold"),
        ("o2", "Second, with a comma", "a1", None, "2026-11-15", "Prospecting", False,
         "2026-10-02 06:00:00+00", None, None),  # offsets honoured, stored as UTC
    ]
    batch = query(settings, "select distinct _batch_id, _source, _extracted_at is not null, "
                  "_dlt_load_id is not null from raw_salesforce.opportunity")
    assert batch == [(result.batch_id, "salesforce_files", True, True)]
    types = dict(query(settings, "select column_name, data_type from information_schema.columns "
                       "where table_schema = 'raw_salesforce' and table_name = 'opportunity'"))
    assert types["amount"] == "DOUBLE" and types["close_date"] == "DATE"
    assert types["discount_tier_c"] == "VARCHAR"  # a field the contract does not know: text

    rejects = query(settings, "select table_name, line, reason, raw_text, source, _batch_id "
                    "from raw_salesforce._rejects order by line")
    assert [(r[0], r[1]) for r in rejects] == [("opportunity", 4), ("opportunity", 5),
                                               ("opportunity", 6)]
    assert "amount: lots is not a valid double" in rejects[0][2]
    assert json.loads(rejects[0][3])["amount"] == "lots"
    assert rejects[1][2] == "missing required stage_name"
    assert "o5,Too,many" in rejects[2][3]
    assert {r[4] for r in rejects} == {"salesforce_files"}
    assert {r[5] for r in rejects} == {result.batch_id}


def test_rerun_lands_nothing_and_a_changed_file_lands_again(tmp_path):
    drop = make_drop(tmp_path / "drop", clones=5, opportunity_clones=20)
    settings = settings_for(tmp_path / "home", REVWH_SALESFORCE_FILE_DROP=str(drop))
    first = extract_file_drop(settings, DS)
    assert first.rows == record_count(drop) and first.rejects == 0
    again = extract_file_drop(settings, DS)
    assert again.total_rows == 0 and sorted(again.skipped) == sorted(p.name for p in
                                                                     drop.glob("*.csv"))
    opportunity = drop / "opportunity.csv"
    lines = opportunity.read_text(encoding="utf-8").splitlines()
    lines.append("o-new" + lines[-1][lines[-1].index(","):])
    opportunity.write_text("\n".join(lines) + "\n", encoding="utf-8")
    changed = extract_file_drop(settings, DS)
    # the changed file lands again, whole, as a new batch (staging keeps the latest versions)
    assert changed.rows == {"opportunity": first.rows["opportunity"] + 1}
    assert changed.batch_id != first.batch_id
    assert table_counts(settings, "raw_salesforce")["opportunity"] == (
        2 * first.rows["opportunity"] + 1)


def test_reject_share_above_the_limit_lands_nothing(tmp_path):
    drop = drop_with(tmp_path / "drop", GOOD + BAD)
    home = tmp_path / "home"
    strict = settings_for(home, REVWH_SALESFORCE_FILE_DROP=str(drop),
                          REVWH_MAX_REJECT_SHARE="0.1")
    with pytest.raises(RejectShareExceeded, match="3 of 5 rows"):
        extract_file_drop(strict, DS)
    assert not (home / "warehouse.duckdb").exists() or not query(
        strict, "select table_name from information_schema.tables "
        "where table_schema = 'raw_salesforce' and table_name = 'opportunity'")
    # the files were not recorded as processed: a run with a higher limit lands them once
    lenient = settings_for(home, REVWH_SALESFORCE_FILE_DROP=str(drop),
                           REVWH_MAX_REJECT_SHARE="0.9")
    assert extract_file_drop(lenient, DS).rows == {"opportunity": 2}
    assert table_counts(lenient, "raw_salesforce") == {"_landed_files": 1, "_rejects": 3,
                                                       "opportunity": 2}


def test_a_file_that_is_not_csv_is_one_reject(tmp_path):
    drop = make_drop(tmp_path / "drop", clones=5, opportunity_clones=5)
    opportunities = record_count(drop)["opportunity"]
    (drop / "task.csv").write_bytes(b"")
    (drop / "event.csv").write_bytes(random.Random(1).randbytes(3000))  # binary, named .csv
    settings = settings_for(tmp_path / "home", REVWH_SALESFORCE_FILE_DROP=str(drop),
                            REVWH_MAX_REJECT_SHARE="0.5")
    result = extract_file_drop(settings, DS)
    assert result.rejects == 2 and "task" not in result.rows and "event" not in result.rows
    assert result.rows["opportunity"] == opportunities
    assert query(settings, "select table_name, line, reason like 'file is not readable%' "
                 "from raw_salesforce._rejects order by 1") == [("event", 0, True),
                                                                ("task", 0, True)]
    assert extract_file_drop(settings, DS).total_rows == 0


RUN = ("from revwh.settings import load_settings\n"
       "from revwh.extract.file_drop import extract_file_drop\n"
       f"extract_file_drop(load_settings(), {DS!r})\n")


def versions(settings) -> dict[str, Counter]:
    out = {}
    for table in table_counts(settings, "raw_salesforce"):
        if not table.startswith("_"):
            out[table] = Counter(query(settings, f'select * exclude (_batch_id, _extracted_at, '
                                       f'_dlt_load_id) from raw_salesforce."{table}"'))
    return out


def run_and_kill(settings, drop, cwd, after: float) -> bool:
    """Run the extraction in a subprocess and SIGKILL it `after` seconds in; True if it was
    still running then."""
    env = {**os.environ, "REVWH_HOME": str(settings.home), "PYTHONPATH": str(ROOT),
           "REVWH_SALESFORCE_FILE_DROP": str(drop)}
    proc = subprocess.Popen([sys.executable, "-c", RUN], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return True


def test_kill_mid_extract_then_rerun_equals_uninterrupted_run(tmp_path):
    drop = make_drop(tmp_path / "drop", clones=3000, opportunity_clones=3000)
    clean = settings_for(tmp_path / "clean", REVWH_SALESFORCE_FILE_DROP=str(drop))
    started = time.monotonic()
    assert not run_and_kill(clean, drop, tmp_path, after=300)
    whole = time.monotonic() - started
    want = versions(clean)
    assert {t: sum(c.values()) for t, c in want.items()} == record_count(drop)

    killed = 0
    # kill at several points of the run (start-up, checks, the landing transaction)
    for i, share in enumerate((0.4, 0.6, 0.8, 0.95)):
        crashed = settings_for(tmp_path / f"crashed{i}", REVWH_SALESFORCE_FILE_DROP=str(drop))
        killed += run_and_kill(crashed, drop, tmp_path, after=whole * share)
        extract_file_drop(crashed, DS)
        assert versions(crashed) == want, f"killed at {share:.0%} of the run"
        assert extract_file_drop(crashed, DS).total_rows == 0
    assert killed, "no run was still going when it was killed"


def test_a_warehouse_landed_by_dlt_keeps_its_processed_files(tmp_path):
    """Warehouses whose file drop dlt landed (the list of processed files in the dlt pipeline's
    state) do not land those files again."""
    drop = make_drop(tmp_path / "drop", clones=2, opportunity_clones=2)
    settings = settings_for(tmp_path / "home", REVWH_SALESFORCE_FILE_DROP=str(drop))
    from revwh.extract.file_drop import discover

    landed = {f.key: f.sha256 for f in discover(drop) if f.key != "task.csv"}
    land(settings, pipeline_name=PIPELINE, dataset=DATASET, source=SOURCE, batch_id="old",
         batches=[], state_update={"processed_files": landed})
    result = extract_file_drop(settings, DS)
    assert set(result.rows) == {"task"} and sorted(result.skipped) == sorted(landed)
    assert extract_file_drop(settings, DS).total_rows == 0


def test_file_drop_and_salesforce_api_share_the_raw_tables(tmp_path, sf_api, sf_drop):
    """The API's dlt pipeline appends to tables the file drop created, and the other way round:
    same columns, both batches kept."""
    from revwh.extract.salesforce_api import extract_salesforce
    from tests.extract.crm.conftest import sf_auth

    server, _ = sf_api
    expected = record_count(sf_drop)
    for order in ("files_first", "api_first"):
        settings = settings_for(tmp_path / order, REVWH_SALESFORCE_FILE_DROP=str(sf_drop))
        runs = [lambda s: extract_file_drop(s, DS),
                lambda s: extract_salesforce(s, DS, auth=sf_auth(server))]
        for run in runs if order == "files_first" else runs[::-1]:
            assert run(settings).rows == expected
        counts = table_counts(settings, "raw_salesforce")
        assert {t: counts[t] for t in expected} == {t: 2 * n for t, n in expected.items()}
        api, files = query(settings, "select _source, count(*), count(discount_tier_c), "
                           "count(_dlt_load_id) from raw_salesforce.opportunity group by 1 "
                           "order by 1")
        assert (api[0], files[0]) == ("salesforce_api", "salesforce_files")
        assert api[1:] == files[1:] and files[1] == files[3] == expected["opportunity"]
        assert files[2] > 0  # the custom field the contract does not know, from both
