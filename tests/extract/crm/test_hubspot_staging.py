"""HubSpot staging runs on Fivetran's own HubSpot tables, loaded as they are, and on what our
connector lands."""

from __future__ import annotations

from pathlib import Path

import duckdb

from revwh.extract.hubspot_api import HubSpotAuth, extract_hubspot
from revwh.transform import run_dbt
from tests.extract.crm.conftest import query, settings_for
from tests.extract.crm.fake_hubspot import TOKEN, serve

FIVETRAN = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "fivetran_hubspot"


def build_staging(settings, schema: str, source_schema: str):
    result = run_dbt(settings, schema, ["build", "--select", "staging.hubspot", "--threads", "2"], "2025-03-01",
                     # revwh enables HubSpot by the deals in raw_hubspot; this schema is elsewhere
                     extra_vars={"hubspot_schema": source_schema, "hubspot_enabled": True})
    assert result.success, result.summary()
    built = {n["name"] for n in result.nodes if n["status"] == "success"}
    assert {"stg_hubspot__deals", "stg_hubspot__deal_stages", "stg_hubspot__owners"} <= built
    return result


def test_staging_runs_on_fivetran_fixtures(tmp_path):
    settings = settings_for(tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema fivetran_hubspot")
    for path in sorted(FIVETRAN.glob("*_data.csv")):
        con.execute(f"create table fivetran_hubspot.{path.name[:-9]} as "
                    f"select * from read_csv(?, header = true)", [str(path)])
    con.close()
    build_staging(settings, "stg_fivetran", "fivetran_hubspot")
    assert query(settings, "select count(*) from stg_fivetran.stg_hubspot__deals") == [(44,)]
    assert query(settings, "select count(*) from stg_fivetran.stg_hubspot__deal_stages") == [(14,)]
    # tables Fivetran's fixture lacks (company, contact) are empty, not errors
    assert query(settings, "select count(*) from stg_fivetran.stg_hubspot__companies") == [(0,)]


def test_staging_on_landed_hubspot_data(tmp_path):
    server, app = serve()
    try:
        settings = settings_for(tmp_path)
        extract_hubspot(settings, "2025-03-01", auth=HubSpotAuth(TOKEN), base_url=server.url)
        app.touch("deals", "1001", dealstage="closedwon", amount="99000")
        extract_hubspot(settings, "2025-03-01", auth=HubSpotAuth(TOKEN), base_url=server.url)
    finally:
        server.stop()
    build_staging(settings, "stg_ours", "raw_hubspot")
    rows = query(settings, "select opportunity_id, stage_name, is_closed, is_won, amount, account_id, "
                 "owner_id from stg_ours.stg_hubspot__deals where opportunity_id = '1001'")
    assert rows == [("1001", "Closed Won", True, True, 99000.0, "5001", "101")]
    assert query(settings, "select count(*) from stg_ours.stg_hubspot__deals") == [(60,)]
    n_history = sum(map(len, app.p["history"].values()))
    assert query(settings, "select count(*) from stg_ours.stg_hubspot__deal_stages") == [(n_history,)]
    assert query(settings, "select count(*) from stg_ours.stg_hubspot__deal_contacts") == [
        (sum(len(v) for v in app.p["assoc"][("deals", "contacts")].values()),)]
