"""With var hubspot_enabled, HubSpot deals (staging by the HubSpot models) join Salesforce
opportunities in the canonical intermediate layer and flow into every pipeline mart; stages
map through the same sales process map seed."""

from __future__ import annotations

from pathlib import Path

from revwh import pipeline
from revwh.transform import run_dbt
from revwh.warehouse import connect
from tests.conftest import MINI_DROP
from tests.marts.conftest import marts_settings, query

AS_OF = "2025-02-01"

RAW_HUBSPOT = [
    """create table raw_hubspot.deal_pipeline_stage as select * from (values
        ('qualify', 'default', 'Qualification', 1, 0.1, false, false),
        ('won', 'default', 'Closed Won', 2, 1.0, true, true))
        as t(stage_id, pipeline_id, label, display_order, probability, is_closed, closed_won)""",
    """create table raw_hubspot.deal as select * from (values
        ('9001', false, 'default', 'qualify', '77', 'Initech - Platform', 5000.0,
         timestamp '2025-03-31 00:00:00', timestamp '2025-01-10 09:00:00', timestamp '2025-01-10 09:00:00'),
        ('9002', false, 'default', 'won', '77', 'Hooli - Platform', 8000.0,
         timestamp '2025-01-25 00:00:00', timestamp '2025-01-05 09:00:00', timestamp '2025-01-25 15:00:00'),
        ('9003', true, 'default', 'qualify', '77', 'Hooli - duplicate', 1.0,
         timestamp '2025-03-31 00:00:00', timestamp '2025-01-06 09:00:00', timestamp '2025-01-07 09:00:00'))
        as t(deal_id, is_deleted, deal_pipeline_id, deal_pipeline_stage_id, owner_id,
             property_dealname, property_amount, property_closedate, property_createdate,
             property_hs_lastmodifieddate)""",
    """create table raw_hubspot.deal_stage as select * from (values
        ('9002', 'qualify', timestamp '2025-01-05 09:00:00', 'CRM_UI', 'u1'),
        ('9002', 'won', timestamp '2025-01-25 15:00:00', 'CRM_UI', 'u1'))
        as t(deal_id, value, date_entered, source, source_id)""",
]


BUILD = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def test_hubspot_deals_flow_into_the_pipeline_marts(tmp_path: Path):
    """HubSpot's models are enabled by its landed deals (revwh sets var hubspot_enabled): a
    Salesforce-only warehouse builds none of them, and once raw_hubspot has deals they join."""
    settings = marts_settings(tmp_path / "home", MINI_DROP)
    pipeline.extract_crm(settings, AS_OF)
    salesforce_only = run_dbt(settings, "marts_sf", BUILD, AS_OF)
    assert salesforce_only.success, salesforce_only.summary()
    assert not [n for n in salesforce_only.nodes if "hubspot" in n["name"]]
    assert "fct_opportunity" in {n["name"] for n in salesforce_only.nodes}
    with connect(settings) as con:
        con.execute("create schema raw_hubspot")
        for sql in RAW_HUBSPOT:
            con.execute(sql)
    result = run_dbt(settings, "marts_hs", BUILD, AS_OF)
    assert result.success, result.summary()
    assert "stg_hubspot__deals" in {n["name"] for n in result.nodes}

    def q(sql: str) -> list[tuple]:
        return query(settings, sql)

    assert q("select opportunity_id, stage_name, stage_order, is_closed, is_won, amount "
             "from marts_hs.fct_opportunity where source_system = 'hubspot' order by 1") == [
        ("9001", "Qualification", 2, False, False, 5000.0),
        ("9002", "Closed Won", 7, True, True, 8000.0)]
    assert q("select count(*) from marts_hs.fct_opportunity where source_system = 'salesforce'") \
        == q("select count(*) from marts_hs.stg_salesforce__opportunities where not is_deleted")
    assert q("select opportunity_id, count(*), min(snapshot_date), max(snapshot_date) "
             "from marts_hs.fct_opportunity_daily where opportunity_id in ('9001', '9002') "
             "group by 1 order by 1") == [
        ("9001", 23, *q("select date '2025-01-10', date '2025-02-01'")[0]),
        ("9002", 21, *q("select date '2025-01-05', date '2025-01-25'")[0])]
    assert q("select from_stage, to_stage, transition_type, is_skip from marts_hs.fct_stage_transition "
             "where opportunity_id = '9002'") == [("Qualification", "Closed Won", "forward", True)]
