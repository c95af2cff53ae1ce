"""A CRM export in another shape, loaded through a mapping file, yields correct marts."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from revwh.contract import SALESFORCE
from revwh.extract.mapped_export import MappingError, extract_mapped, load_mapping
from revwh.pipeline import build
from revwh.raw.validate import check_file
from tests.extract.crm.conftest import query, settings_for

EXPORT = Path(__file__).resolve().parent / "fixtures" / "crm_sales_opportunities"
DS = "2026-11-01"

# by hand from sales_pipeline.csv: won deals and their close values per agent
WON = {"Anna Snelling": (4, 10000.0), "Cecily Lampkin": (3, 4500.0),
       "Darcel Schlecht": (5, 25000.0), "Versie Hillebrand": (2, 10550.0)}
LOST = {"Anna Snelling": 2, "Cecily Lampkin": 3, "Darcel Schlecht": 2, "Versie Hillebrand": 1}


def test_mapped_export_lands_and_builds_correct_marts(tmp_path):
    settings = settings_for(tmp_path, REVWH_MAX_REJECT_SHARE="0.05")
    folder = tmp_path / "export"
    shutil.copytree(EXPORT, folder)
    result = extract_mapped(settings, DS, "crm_sales_opportunities", folder)
    assert result.rows == {"opportunity": 29, "account": 7, "user": 6}
    assert result.rejects == 1  # BADDATE1: 2017-02-30
    reject = query(settings, "select reason, raw_text, _source from raw_salesforce._rejects")
    assert reject[0][0] == "close_date: 2017-02-30 is not a valid date"
    assert "BADDATE1" in reject[0][1] and reject[0][2] == "mapped:crm_sales_opportunities"
    assert query(settings, "select stage_name, is_won, amount, owner_id, account_id, product_c "
                 "from raw_salesforce.opportunity where id = '1C1I7A6R'") == [
        ("Closed Won", True, 1000.0, "user-anna-snelling", "acct-cancity", "GTX Plus Basic")]
    assert query(settings, "select annual_revenue, parent_id from raw_salesforce.account "
                 "where id = 'acct-codehow'") == [(2714.9e6, "acct-acme-corporation")]
    # unchanged export: nothing lands
    assert extract_mapped(settings, DS, "crm_sales_opportunities", folder).rows == {}

    built = build(settings, DS)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        schema = built["version"]
        won = {r[0]: (r[1], r[2]) for r in con.execute(
            f"select owner_name, count(*), sum(amount) from {schema}.fct_opportunity "
            "where is_won group by owner_name").fetchall()}
        assert won == WON
        assert con.execute(f"select count(*), count(*) filter (where is_closed) "
                           f"from {schema}.fct_opportunity").fetchone() == (29, 22)
        wl = con.execute(f"""select o.owner_name, count(*) filter (where w.outcome = 'won'),
                                    count(*) filter (where w.outcome = 'lost'),
                                    sum(w.amount) filter (where w.is_won)
                             from {schema}.fct_win_loss w
                             join {schema}.fct_opportunity o using (opportunity_id)
                             group by o.owner_name""").fetchall()
        assert {r[0]: (r[1], r[3]) for r in wl} == WON
        assert {r[0]: r[2] for r in wl} == LOST
        assert con.execute(f"select sum(amount) from {schema}.fct_win_loss where is_won").fetchone() == (50050.0,)
        assert con.execute(f"select cycle_days from {schema}.fct_win_loss "
                           "where opportunity_id = '1C1I7A6R'").fetchone() == (58,)
    finally:
        con.close()


def test_mapping_errors_name_the_fix(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nfiles: {a: a.csv}\ntables:\n  - {table: opportunities, from: a, fields: {id: x}}\n")
    with pytest.raises(MappingError, match="unknown table; use one of"):
        load_mapping(bad)
    bad.write_text("name: x\nfiles: {a: a.csv}\ntables:\n  - {table: opportunity, from: a, fields: {name: x}}\n")
    with pytest.raises(MappingError, match="map the `id` field"):
        load_mapping(bad)


def test_json_and_parquet_file_drops_check_like_csv(tmp_path):
    contract = SALESFORCE["opportunity"]
    ndjson = tmp_path / "opportunity.json"
    ndjson.write_bytes(b'{"id": "1", "stage_name": "Won", "amount": "10"}\n'
                       b'{"id": "2", "stage_name": "Won", "amount": "ten"}\n'
                       b'not json\n'
                       b'{"id": "4", "stage_name": "Bad \xff byte"}\n'
                       b'{"id": "5", "stage_name": "Lost", "close_date": "2024-01-31", "extra_col": "x"}\n')
    checked = check_file(ndjson, contract, source="drop")
    assert checked.good.column("id").to_pylist() == ["1", "5"]
    assert "extra_col" in checked.good.column_names
    assert sorted(checked.rejects.column("line").to_pylist()) == [2, 3, 4]
    page = tmp_path / "page.json"  # a Salesforce REST page: API names become Fivetran's
    page.write_text('{"done": true, "records": [{"attributes": {"type": "Opportunity"}, "Id": "9", '
                    '"StageName": "Won", "Pain_Category__c": "cost", "IsDeleted": false}]}')
    got = check_file(page, contract, source="drop").good.to_pylist()
    assert got[0]["pain_category_c"] == "cost" and got[0]["is_deleted"] is False
    parquet = tmp_path / "opportunity.parquet"
    pq.write_table(pa.table({"Id": ["7", None], "Stage Name": ["Won", "Won"], "amount": [1.5, 2.0]}), parquet)
    checked = check_file(parquet, contract, source="drop")
    assert checked.good.to_pylist()[0]["amount"] == 1.5 and checked.rejects.num_rows == 1
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert "not readable as Parquet" in check_file(broken, contract, source="drop").rejects.to_pylist()[0]["reason"]
