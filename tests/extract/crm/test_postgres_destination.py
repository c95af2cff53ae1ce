"""The CRM connectors on the second destination: PostgreSQL over a real connection. The same
contracts as on DuckDB: Fivetran names, batch metadata, a rerun over unchanged sources lands
nothing."""

from __future__ import annotations

import pytest

from revwh.extract.file_drop import extract_file_drop
from revwh.extract.hubspot_api import HubSpotAuth, extract_hubspot
from revwh.extract.salesforce_api import extract_salesforce
from revwh.warehouse import connect
from tests.conftest import fresh_database
from tests.extract.crm.conftest import settings_for, sf_auth
from tests.extract.crm.fake_hubspot import TOKEN
from tests.extract.crm.fake_hubspot import serve as serve_hubspot
from tests.extract.crm.sfdata import record_count

DS = "2025-03-01"


@pytest.fixture
def pg_settings(tmp_path, sf_drop):
    with fresh_database("revwh_test_crm") as dsn:
        yield settings_for(tmp_path, REVWH_TARGET="postgres", REVWH_POSTGRES_DSN=dsn,
                           REVWH_SALESFORCE_FILE_DROP=str(sf_drop))


def counts(settings, schema: str) -> dict[str, int]:
    with connect(settings, read_only=True) as con:
        return {t: con.scalar(f'select count(*) from {schema}."{t}"')
                for t in con.relations(schema) if not t.startswith("_dlt")}


def test_salesforce_api_and_file_drop_land_in_postgres(pg_settings, sf_api, sf_drop):
    server, _ = sf_api
    expected = record_count(sf_drop)
    first = extract_salesforce(pg_settings, DS, auth=sf_auth(server))
    assert first.rows == expected and first.rejects == 0
    landed = counts(pg_settings, "raw_salesforce")
    assert {t: n for t, n in landed.items() if t in expected} == expected
    with connect(pg_settings, read_only=True) as con:
        assert con.scalar("select count(distinct _batch_id) from raw_salesforce.opportunity") == 1
        assert con.scalar("select string_agg(distinct _source, ',') "
                          "from raw_salesforce.opportunity") == "salesforce_api"
    assert extract_salesforce(pg_settings, DS, auth=sf_auth(server)).total_rows == 0

    drop = extract_file_drop(pg_settings, DS)
    assert drop.rows == expected
    assert extract_file_drop(pg_settings, DS).total_rows == 0  # processed files skipped
    assert counts(pg_settings, "raw_salesforce")["opportunity"] == 2 * expected["opportunity"]


def test_hubspot_lands_in_postgres(pg_settings):
    server, _ = serve_hubspot()
    try:
        run = extract_hubspot(pg_settings, DS, auth=HubSpotAuth(TOKEN), base_url=server.url)
        assert run.rows["deal"] == 60 and run.rejects == 0
        assert counts(pg_settings, "raw_hubspot")["deal"] == 60
        again = extract_hubspot(pg_settings, DS, auth=HubSpotAuth(TOKEN), base_url=server.url)
        # associations are re-pulled every run (snapshots); records themselves do not land again
        assert again.rows.get("deal", 0) == 0
    finally:
        server.stop()
