"""Fixtures for the CRM connector tests: local fake APIs and fresh warehouses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from revwh.settings import load_settings
from tests.extract.crm.fake_salesforce import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, serve
from tests.extract.crm.sfdata import make_drop


@pytest.fixture(scope="session")
def sf_drop(tmp_path_factory) -> Path:
    return make_drop(tmp_path_factory.mktemp("sf") / "drop")


@pytest.fixture
def sf_api(sf_drop):
    server, app = serve(sf_drop, page_size=25)
    yield server, app
    server.stop()


def sf_auth(server):
    from revwh.extract.salesforce_api import SalesforceAuth

    return SalesforceAuth(server.url, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)


def settings_for(home: Path, **env: str):
    return load_settings(env={"REVWH_HOME": str(home), **env})


def query(settings, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def table_counts(settings, dataset: str) -> dict[str, int]:
    tables = [r[0] for r in query(settings, "select table_name from information_schema.tables "
                                  "where table_schema = ? and table_name not like '\\_dlt%' escape '\\'",
                                  [dataset])]
    return {t: query(settings, f'select count(*) from {dataset}."{t}"')[0][0] for t in sorted(tables)}
