"""The demo data, served by the fake API as Salesforce would, lands exactly as the file drop of
the same data does; the fake's records match the demo generator's own REST pages."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from revwh.contract import SALESFORCE
from revwh.extract.salesforce_api import extract_salesforce
from tests.extract.crm.conftest import query, settings_for, sf_auth
from tests.extract.crm.fake_salesforce import serve

generator = pytest.importorskip("revwh.demo.generator")


def test_demo_data_through_the_api_equals_the_file_drop(tmp_path):
    from revwh.extract.file_drop import extract_file_drop

    demo = tmp_path / "demo"
    generator.generate(demo, scale=0.02, seed=3, rest_pages=True)
    drop = demo / "crm" / "salesforce"
    server, app = serve(drop, page_size=40)
    try:
        via_api = settings_for(tmp_path / "api")
        extract_salesforce(via_api, "2026-11-01", auth=sf_auth(server))
    finally:
        server.stop()
    via_files = settings_for(tmp_path / "files", REVWH_SALESFORCE_FILE_DROP=str(drop))
    extract_file_drop(via_files, "2026-11-01")

    # the fake answers with the records the generator writes as REST pages
    for obj_dir in sorted((demo / "crm" / "salesforce_rest").iterdir()):
        page = json.loads(min(obj_dir.glob("page-*.json")).read_text())
        for rec in page["records"][:5]:
            served = app.record(obj_dir.name, rec["Id"])
            assert {k: v for k, v in served.items() if k != "attributes"} == \
                   {k: v for k, v in rec.items() if k != "attributes"}, obj_dir.name

    for table, contract in SALESFORCE.items():
        cols = [c for c in contract.columns if c not in ("last_modified_date",)]
        sql = f'select {", ".join(cols)} from raw_salesforce."{table}"'
        assert Counter(query(via_api, sql)) == Counter(query(via_files, sql)), table
