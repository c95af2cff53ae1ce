"""Salesforce REST connector against a local server that implements the API's contract."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from revwh.extract.salesforce_api import (
    ApiUnavailable,
    RetryPolicy,
    SalesforceAuth,
    SalesforceAuthError,
    extract_salesforce,
    parse_sf_datetime,
)
from revwh.raw.landing import RejectShareExceeded, pipeline_state
from tests.extract.crm.conftest import query, settings_for, sf_auth, table_counts
from tests.extract.crm.sfdata import record_count

DS = "2025-03-01"


def test_full_load_incremental_and_unchanged_rerun(tmp_path, sf_api, sf_drop):
    server, app = sf_api
    settings = settings_for(tmp_path)
    expected = record_count(sf_drop)

    first = extract_salesforce(settings, DS, auth=sf_auth(server))
    assert first.rows == expected and first.rejects == 0
    assert table_counts(settings, "raw_salesforce") == expected
    # Fivetran names, custom fields and objects, deleted rows, batch metadata
    deleted, tiers, sources = query(settings, """
        select count(*) filter (where is_deleted), count(discount_tier_c), string_agg(distinct _source)
        from raw_salesforce.opportunity""")[0]
    assert deleted == sum(1 for k in range(150) if k % 17 == 5) and tiers > 0
    assert sources == "salesforce_api"
    assert query(settings, "select pain_category_c, stage_name, amount from raw_salesforce.opportunity "
                 "where id = '0061'") == [("Manual reporting", "Closed Won", 120000.0)]
    assert query(settings, "select count(*) from raw_salesforce.verifier_status_c "
                 "where verifier_key_c is not null")[0][0] == expected["verifier_status_c"]
    # compound fields are not queried as such (the fake rejects them like the API)
    assert all("BillingAddress" not in r.arg("q", "") for r, _ in server.requests_to("queryAll"))
    assert all(s == 200 for _, s in server.log)

    # unchanged source: nothing lands
    second = extract_salesforce(settings, DS, auth=sf_auth(server))
    assert second.total_rows == 0 and second.rows == {}
    assert table_counts(settings, "raw_salesforce") == expected

    # an update, a delete, a late commit inside the overlap window, new field history
    cursor = pipeline_state(settings, "revwh_salesforce_api", "raw_salesforce",
                            "salesforce_api")["cursors"]["opportunity"]["value"]
    late = (parse_sf_datetime(cursor) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    app.upsert("Opportunity", {**app.record("Opportunity", "0062x0001"),
                               "StageName": "Negotiation", "SystemModstamp": "2026-01-05T10:00:00.000+0000"})
    app.upsert("Opportunity", {**app.record("Opportunity", "0061x0000"), "IsDeleted": True,
                               "SystemModstamp": "2026-01-05T10:00:00.000+0000"})
    # committed late: its stamp is a minute before the cursor, inside the overlap window
    app.upsert("Opportunity", {**app.record("Opportunity", "0061"), "Id": "006LATE",
                               "SystemModstamp": late})
    app.upsert("OpportunityFieldHistory", {**app.record("OpportunityFieldHistory", "0171"),
                                           "Id": "017NEW", "CreatedDate": "2026-01-05T10:00:00.000+0000"})
    third = extract_salesforce(settings, DS, auth=sf_auth(server))
    assert third.rows == {"opportunity": 3, "opportunity_field_history": 1}
    assert query(settings, "select stage_name from raw_salesforce.opportunity where id = '0062x0001' "
                 "order by system_modstamp desc limit 1") == [("Negotiation",)]
    assert query(settings, "select is_deleted from raw_salesforce.opportunity where id = '0061x0000' "
                 "order by system_modstamp desc limit 1") == [(True,)]
    assert extract_salesforce(settings, DS, auth=sf_auth(server)).total_rows == 0


def test_token_refresh_rate_limits_and_retry_after(tmp_path, sf_api, sf_drop):
    server, app = sf_api
    settings = settings_for(tmp_path)
    app.expire_tokens_after = 6  # the session dies mid-run: 401 INVALID_SESSION_ID once
    app.faults = [{"path": "/queryAll", "status": 429, "retry_after": 1},
                  {"path": "/query/", "status": 503, "retry_after": 1}]
    auth = sf_auth(server)
    result = extract_salesforce(settings, DS, auth=auth)
    assert result.rows == record_count(sf_drop)
    assert auth.refreshes == 2  # the first token, then one refresh after the 401
    statuses = [s for _, s in server.log]
    assert statuses.count(401) == 1 and statuses.count(429) == 1 and statuses.count(503) == 1
    for status in (429, 503):  # the client waited as long as Retry-After said
        i = statuses.index(status)
        assert server.log[i + 1][0].at - server.log[i][0].at >= 0.95
    assert table_counts(settings, "raw_salesforce") == record_count(sf_drop)


def test_persistent_outage_fails_bounded_and_lands_nothing(tmp_path, sf_api):
    server, app = sf_api
    settings = settings_for(tmp_path)
    app.faults = [{"path": "/queryAll", "status": 503, "times": 1000}]  # no Retry-After
    started = time.monotonic()
    with pytest.raises(ApiUnavailable):
        extract_salesforce(settings, DS, auth=sf_auth(server),
                           policy=RetryPolicy(max_attempts=3, backoff=0.05))
    assert time.monotonic() - started < 10
    assert not settings.warehouse_path.exists() or table_counts(settings, "raw_salesforce") == {}
    assert pipeline_state(settings, "revwh_salesforce_api", "raw_salesforce", "salesforce_api") == {}


def test_bad_credentials_fail_with_a_clear_message(tmp_path, sf_api):
    server, _ = sf_api
    auth = SalesforceAuth(server.url, "fake-client-id", "wrong-secret-value", None)
    with pytest.raises(SalesforceAuthError) as exc:
        extract_salesforce(settings_for(tmp_path), DS, auth=auth)
    assert "wrong-secret-value" not in str(exc.value) and "SALESFORCE_CLIENT" in str(exc.value)
    with pytest.raises(SalesforceAuthError, match="SALESFORCE_CLIENT_SECRET"):
        SalesforceAuth.from_env(server.url, env={"SALESFORCE_CLIENT_ID": "x"})


def test_bad_rows_go_to_rejects_and_drift_is_tolerated(tmp_path, sf_api, caplog):
    server, app = sf_api
    # schema drift: a contracted field disappears from describe, an object is not installed
    app.missing_objects.add("Verifier_Status__c")
    base = app.record("Opportunity", "0061")
    for rid, change in [("006BAD1", {"Amount": "12k"}),  # non-numeric amount
                        ("006BAD2", {"CloseDate": "2024-02-30"}),  # impossible date
                        ("006BAD3", {"StageName": "Prospecting \udce9 broken"}),  # broken encoding
                        ("006BAD4", {"SystemModstamp": "yesterday"})]:
        app.upsert("Opportunity", {**base, "Id": rid, **change})
    app.data["Opportunity"].append({**base, "Id": None})  # missing id
    app.fields["Opportunity"].pop("ForecastCategoryName")
    settings = settings_for(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = extract_salesforce(settings, DS, auth=sf_auth(server))
    assert "verifier_status_c" in result.skipped and "verifier_status_c" not in result.rows
    assert "forecast_category_name" in caplog.text and "Verifier_Status__c" in caplog.text
    rejects = query(settings, "select origin, reason, raw_text, _source from raw_salesforce._rejects "
                    "order by reason")
    reasons = " | ".join(r[1] for r in rejects)
    assert len(rejects) == 5 and result.rejects == 5
    for text in ("amount: 12k is not a valid double", "close_date: 2024-02-30 is not a valid date",
                 "broken text encoding", "system_modstamp: yesterday", "missing required id"):
        assert text in reasons
    assert all(r[3] == "salesforce_api" and r[2] and r[0].endswith("/Opportunity") for r in rejects)
    # good rows landed; the dropped field is a typed null column
    assert query(settings, "select count(*), count(forecast_category_name) from raw_salesforce.opportunity"
                 ) == [(result.rows["opportunity"], 0)]
    assert query(settings, "select count(*) from raw_salesforce.opportunity where id like '006BAD%'")[0][0] == 0

    # the same input with a strict reject share: the task fails and nothing lands
    strict = settings_for(tmp_path / "strict", REVWH_MAX_REJECT_SHARE="0.001")
    with pytest.raises(RejectShareExceeded, match="max_reject_share"):
        extract_salesforce(strict, DS, auth=sf_auth(server))
    assert pipeline_state(strict, "revwh_salesforce_api", "raw_salesforce", "salesforce_api") == {}
