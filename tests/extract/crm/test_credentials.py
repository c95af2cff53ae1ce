"""Credentials are never printed, logged, landed or kept in dlt's files."""

from __future__ import annotations

import base64
import logging
import zlib

import duckdb
import pytest

from revwh.extract.hubspot_api import HubSpotAuth, HubSpotAuthError, extract_hubspot
from revwh.extract.salesforce_api import SalesforceAuth, SalesforceAuthError, extract_salesforce
from tests.conftest import MINI_DROP
from tests.extract.crm import fake_hubspot, fake_salesforce
from tests.extract.crm.conftest import settings_for

SECRETS = {"client_secret": "cs-Zebra-7731-Quartz", "refresh_token": "rt-Okapi-5512-Basalt",
           "access_token": "at-Lynx-9904-Marble", "hubspot_token": "pat-na1-Ibex-3318-Slate"}


def warehouse_text(path) -> str:
    """Every text value of every table, and dlt's stored state decoded."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = []
        cols = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                           "where data_type = 'VARCHAR'").fetchall()
        for schema, table, column in cols:
            for (value,) in con.execute(f'select "{column}" from "{schema}"."{table}"').fetchall():
                if value is None:
                    continue
                out.append(value)
                if table == "_dlt_pipeline_state" and column == "state":
                    try:
                        out.append(zlib.decompress(base64.b64decode(value)).decode())
                    except Exception:  # noqa: BLE001, S110 - not compressed
                        pass
        return "\n".join(out)
    finally:
        con.close()


def test_secrets_never_leak(tmp_path, caplog, capsys):
    sf_server, sf = fake_salesforce.serve(MINI_DROP, page_size=3)
    hs_server, hs = fake_hubspot.serve(fake_hubspot.make_portal(deals=6, companies=3, contacts=4, meetings=3))
    sf.client_secret, sf.refresh_token = SECRETS["client_secret"], SECRETS["refresh_token"]
    sf.token_prefix = SECRETS["access_token"]
    sf.expire_tokens_after = 4  # forces a refresh: 401, then the token endpoint again
    sf.faults = [{"path": "/queryAll", "status": 429, "retry_after": 0}]
    hs.token = SECRETS["hubspot_token"]
    hs.faults = [{"path": "/search", "status": 429, "retry_after": 0}]
    settings = settings_for(tmp_path)
    env = {"SALESFORCE_INSTANCE_URL": sf_server.url, "SALESFORCE_CLIENT_ID": "fake-client-id",
           "SALESFORCE_CLIENT_SECRET": SECRETS["client_secret"],
           "SALESFORCE_REFRESH_TOKEN": SECRETS["refresh_token"],
           "HUBSPOT_ACCESS_TOKEN": SECRETS["hubspot_token"]}
    errors = []
    try:
        with caplog.at_level(logging.DEBUG):
            auth = SalesforceAuth.from_env(env=env)
            assert extract_salesforce(settings, "2025-03-01", auth=auth).total_rows > 0
            assert auth.refreshes == 2
            hs_auth = HubSpotAuth.from_env(env=env)
            assert extract_hubspot(settings, "2025-03-01", auth=hs_auth,
                                   base_url=hs_server.url).total_rows > 0
            errors += [repr(auth), str(auth), repr(hs_auth)]
            # failures: refused credentials, in messages and tracebacks
            sf.refresh_token = "something-else"
            with pytest.raises(SalesforceAuthError) as exc:
                extract_salesforce(settings, "2025-03-02", auth=SalesforceAuth.from_env(env=env))
            errors.append(str(exc.getrepr()))
            hs.token = "another-token"
            with pytest.raises(HubSpotAuthError) as exc:
                extract_hubspot(settings, "2025-03-02", auth=HubSpotAuth.from_env(env=env),
                                base_url=hs_server.url)
            errors.append(str(exc.value))
    finally:
        sf_server.stop()
        hs_server.stop()
    captured = capsys.readouterr()
    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "salesforce" in logs and "hubspot" in logs  # the logs were captured
    files = [p for p in settings.home.rglob("*") if p.is_file()]
    assert any(p.is_relative_to(settings.dlt_dir) for p in files)
    data = warehouse_text(settings.warehouse_path)
    assert "Acme Freight" in data  # the warehouse text was read
    for name, secret in SECRETS.items():
        for where, text in (("logs", logs), ("stdout", captured.out), ("stderr", captured.err),
                            ("errors", "\n".join(errors)), ("warehouse", data)):
            assert secret not in text, f"{name} found in {where}"
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"{name} found in {path}"
