"""HubSpot connector against a local server that implements the CRM v3/v4 contract."""

from __future__ import annotations

import pytest

from revwh.extract.hubspot_api import HubSpotAuth, HubSpotAuthError, extract_hubspot
from tests.extract.crm.conftest import query, settings_for, table_counts
from tests.extract.crm.fake_hubspot import TOKEN, serve

DS = "2025-03-01"


@pytest.fixture
def hs_api():
    server, app = serve()
    yield server, app
    server.stop()


def run(settings, server, **kw):
    return extract_hubspot(settings, DS, auth=HubSpotAuth(TOKEN), base_url=server.url, **kw)


def test_full_incremental_history_associations_and_rate_limits(tmp_path, hs_api):
    server, app = hs_api
    settings = settings_for(tmp_path)
    app.faults = [{"path": "/crm/v3/objects/deals/search", "status": 429, "retry_after": 1}]
    first = run(settings, server)
    assert first.rows == {"deal": 60, "company": 15, "contact": 30, "engagement": 50,
                          "engagement_meeting": 40, "deal_stage": sum(map(len, app.p["history"].values())),
                          "owner": 4, "deal_pipeline": 1, "deal_pipeline_stage": 7,
                          "deal_company": 60, "deal_contact": 60, "engagement_deal": 50}
    statuses = [s for _, s in server.log]
    i = statuses.index(429)  # the client waited as long as Retry-After said
    assert server.log[i + 1][0].at - server.log[i][0].at >= 0.95
    # search paged with `after` (20 a page), Fivetran column names, all properties kept
    searches = [r.json() for r, _ in server.requests_to("/deals/search")]
    assert [s.get("after") for s in searches] == [None, None, "20", "40"]
    assert query(settings, "select deal_pipeline_stage_id, owner_id, property_dealname, property_amount, "
                 "property_pain_category from raw_hubspot.deal where deal_id = '1000'")[0][2] == "Deal 0"
    assert query(settings, "select count(*) from raw_hubspot.deal_pipeline_stage "
                 "where is_closed and closed_won") == [(1,)]
    # meeting bodies are never requested or stored
    assert all("hs_meeting_body" not in r.json()["properties"]
               for r, _ in server.requests_to("/meetings/search"))
    assert "CONFIDENTIAL BODY" not in str(query(settings, "select * from raw_hubspot.engagement"))

    # unchanged portal: associations are re-read, nothing lands
    n_assoc = len(server.requests_to("/crm/v4/associations"))
    assert run(settings, server).rows == {}
    assert len(server.requests_to("/crm/v4/associations")) == 2 * n_assoc
    before = table_counts(settings, "raw_hubspot")

    # a stage change, a deleted deal, a new association
    app.touch("deals", "1003", dealstage="closedwon")
    app.archive("deals", "1004")
    app.p["assoc"][("deals", "contacts")]["1005"].append(("7029", 4))
    third = run(settings, server)
    assert third.rows["deal"] == 2
    assert third.rows["deal_stage"] == len(app.p["history"]["1003"])
    # the new snapshot: one association more, and none of the deleted deal's
    gone = len(app.p["assoc"][("deals", "contacts")]["1004"])
    assert third.rows["deal_contact"] == before["deal_contact"] + 1 - gone
    assert third.rows["deal_company"] == 59 and "engagement_deal" not in third.rows
    assert query(settings, "select is_deleted from raw_hubspot.deal where deal_id = '1004' "
                 "order by property_hs_lastmodifieddate desc limit 1") == [(True,)]
    assert run(settings, server).rows == {}


def test_bad_token_fails_clearly(tmp_path, hs_api):
    server, _ = hs_api
    with pytest.raises(HubSpotAuthError, match="HUBSPOT_ACCESS_TOKEN") as exc:
        extract_hubspot(settings_for(tmp_path), DS, auth=HubSpotAuth("pat-wrong-0000"),
                        base_url=server.url)
    assert "pat-wrong-0000" not in str(exc.value)
    with pytest.raises(HubSpotAuthError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotAuth.from_env(env={})


def test_search_restarts_past_the_result_window(hs_api, monkeypatch):
    from revwh.extract import hubspot_api

    server, app = hs_api
    monkeypatch.setattr(hubspot_api, "SEARCH_WINDOW", 40)  # HubSpot's is 10,000
    client = hubspot_api.HubSpotClient(server.url, HubSpotAuth(TOKEN))
    found = hubspot_api.search_changed(client, "deals", "hs_lastmodifieddate", ["dealname"], None)
    assert sorted(r["id"] for r in found) == sorted(app.p["objects"]["deals"])
    bodies = [r.json() for r, _ in server.requests_to("/deals/search")]
    assert [b.get("after") for b in bodies] == [None, "20", None, "20"]  # a second query
    assert "filterGroups" in bodies[2]  # ... that starts at the last modified date seen
