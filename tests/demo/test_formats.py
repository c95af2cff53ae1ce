"""The files parse with standard readers and follow the raw contracts."""

from __future__ import annotations

import email.header
import email.utils
import json
import mailbox
import re
import shutil
from datetime import UTC, date, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from revwh.contract import SALESFORCE
from revwh.demo import DEMO_AS_OF, DEMO_COMPANY_DOMAIN, api_name, generate, snake_name
from revwh.demo.seeds import load_sales_process

from .conftest import read_csv, read_dicts, truth

TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _valid(value: str, typ: str) -> bool:
    if value == "":
        return True
    try:
        if typ == "timestamp":
            return bool(TS.match(value)) and bool(datetime.strptime(value, "%Y-%m-%d %H:%M:%S"))
        if typ == "date":
            date.fromisoformat(value)
            return len(value) == 10
        if typ == "double":
            float(value)
        elif typ == "bigint":
            int(value)
        elif typ == "boolean":
            return value in ("true", "false")
    except ValueError:
        return False
    return True


# ---- CSV --------------------------------------------------------------------------------------
def test_every_contract_table_is_written_with_contract_columns(small):
    for name, contract in SALESFORCE.items():
        path = small / "crm" / "salesforce" / f"{name}.csv"
        header, rows = read_csv(path)
        assert header[: len(contract.columns)] == contract.column_names, name
        assert rows, name
        assert all(len(r) == len(header) for r in rows), name


def test_csv_values_fit_their_types_except_listed_malformed_rows(small):
    gt = truth(small)
    bad = {(m["table"], m["row_number"], m["column"]) for m in gt["malformed"] if m["row_number"]}
    assert bad, "malformed rows must be planted"
    for name, contract in SALESFORCE.items():
        header, rows = read_csv(small / "crm" / "salesforce" / f"{name}.csv")
        for i, row in enumerate(rows, start=1):
            for col, value in zip(header, row):
                typ = contract.columns.get(col, "string")
                ok = _valid(value, typ) and not (col in contract.required and value == "")
                if (name, i, col) in bad:
                    continue
                assert ok, (name, i, col, value)
    for m in gt["malformed"]:
        if m["table"] == "mail":
            continue
        header, rows = read_csv(small / "crm" / "salesforce" / f"{m['table']}.csv")
        value = rows[m["row_number"] - 1][header.index(m["column"])]
        assert value == m["raw_value"]
        typ = SALESFORCE[m["table"]].columns[m["column"]]
        broken = (not _valid(value, typ)) or (
            value == "" and m["column"] in SALESFORCE[m["table"]].required
        )
        assert broken or "mojibake" in m["reason"], m


def _malformed_rows(root: Path) -> set[tuple[str, int]]:
    return {(m["table"], m["row_number"]) for m in truth(root)["malformed"] if m["row_number"]}


def test_system_modstamp_not_before_created_date(small):
    bad = _malformed_rows(small)
    for name in SALESFORCE:
        for i, r in enumerate(read_dicts(small / "crm" / "salesforce" / f"{name}.csv"), 1):
            if (name, i) in bad:
                continue
            if (
                "system_modstamp" in r
                and TS.match(r["created_date"] or "")
                and r["system_modstamp"]
            ):
                assert r["system_modstamp"] >= r["created_date"], (name, r["id"])
            for col in ("created_date", "system_modstamp"):
                if TS.match(r.get(col) or ""):
                    assert r[col] <= f"{DEMO_AS_OF} 00:00:00", (name, col, r[col])


def test_opportunity_last_modstamp_is_its_last_change(small):
    bad = _malformed_rows(small)
    hist: dict[str, str] = {}
    for i, r in enumerate(read_dicts(small / "crm" / "salesforce" / "opportunity_history.csv"), 1):
        if ("opportunity_history", i) not in bad:
            hist[r["opportunity_id"]] = max(hist.get(r["opportunity_id"], ""), r["created_date"])
    for r in read_dicts(small / "crm" / "salesforce" / "opportunity.csv"):
        if r["id"] and r["is_deleted"] == "false":
            assert r["system_modstamp"] >= hist[r["id"]]


def test_stages_come_from_the_seed_and_are_consistent(small):
    proc = load_sales_process()
    by_name = {s.name: s for s in proc.stages}
    for table in ("opportunity", "opportunity_history"):
        for r in read_dicts(small / "crm" / "salesforce" / f"{table}.csv"):
            if not r["stage_name"]:
                continue
            s = by_name[r["stage_name"]]
            assert float(r["probability"]) == pytest.approx(100 * s.probability)
            assert r["forecast_category"] == s.forecast_category.replace(" ", "")
            if table == "opportunity":
                assert r["is_closed"] == str(s.is_closed).lower()
                assert r["is_won"] == str(s.is_won).lower()
                assert r["forecast_category_name"] == s.forecast_category
                assert r["currency_iso_code"] == "USD"
                assert r["type"] in ("New Business", "Expansion", "Renewal")


def test_verifiers_follow_the_catalogue(small):
    proc = load_sales_process()
    objects = {v.key for v in proc.verifiers if v.crm_source == "object"}
    fields = {v.crm_field for v in proc.verifiers if v.crm_source == "field"}
    rows = read_dicts(small / "crm" / "salesforce" / "verifier_status_c.csv")
    assert rows and {r["verifier_key_c"] for r in rows} <= objects
    assert {r["status_c"] for r in rows} <= {"started", "verified", "regressed"}
    fh = read_dicts(small / "crm" / "salesforce" / "opportunity_field_history.csv")
    vf = [r for r in fh if r["field"] in fields]
    assert {r["field"] for r in vf} == fields
    for r in vf:
        for v in (r["old_value"], r["new_value"]):
            assert v == "" or date.fromisoformat(v)
    header, _ = read_csv(small / "crm" / "salesforce" / "opportunity.csv")
    assert fields <= set(header)


def test_accounts_users_and_roles(small):
    acc = read_dicts(small / "crm" / "salesforce" / "account.csv")
    assert {a["segment_c"] for a in acc if a["type"] != "Partner"} <= {
        "SMB",
        "Mid-Market",
        "Enterprise",
    }
    assert {a["region_c"] for a in acc} <= {"NA", "EMEA", "APAC"}
    users = read_dicts(small / "crm" / "salesforce" / "user.csv")
    reps = [u for u in users if u["quota_amount_c"]]
    assert reps and all(float(u["quota_amount_c"]) > 0 and u["segment_c"] for u in reps)
    assert all(u["email"].endswith("@" + DEMO_COMPANY_DOMAIN) for u in users)
    ids = {u["id"] for u in users}
    assert any(u["manager_id"] in ids for u in reps)
    roles = read_dicts(small / "crm" / "salesforce" / "user_role.csv")
    role_ids = {r["id"] for r in roles}
    assert all(r["parent_role_id"] in role_ids for r in roles if r["parent_role_id"])


# ---- REST pages --------------------------------------------------------------------------------
def test_name_mapping_round_trips_every_contract_name():
    for name, contract in SALESFORCE.items():
        assert snake_name(api_name(name)) == name
        for col in contract.columns:
            assert snake_name(api_name(col)) == col
    assert api_name("stage_name") == "StageName"
    assert api_name("pain_category_c") == "Pain_Category__c"
    assert api_name("verifier_status_c") == "Verifier_Status__c"
    assert snake_name("SystemModstamp") == "system_modstamp"
    assert snake_name("CurrencyIsoCode") == "currency_iso_code"


def test_rest_pages_hold_the_same_records(small):
    rest = small / "crm" / "salesforce_rest"
    for name in SALESFORCE:
        header, rows = read_csv(small / "crm" / "salesforce" / f"{name}.csv")
        obj = api_name(name)
        pages = sorted((rest / obj).glob("page-*.json"))
        assert pages, obj
        records = []
        for k, p in enumerate(pages):
            page = json.loads(p.read_text(encoding="utf-8"))
            assert page["done"] == (k == len(pages) - 1)
            assert ("nextRecordsUrl" in page) == (not page["done"])
            records += page["records"]
            assert page["totalSize"] == len(rows)
        assert len(records) == len(rows)
        for rec, row in zip(records, rows):
            assert rec["attributes"]["type"] == obj
            keys = [k for k in rec if k != "attributes"]
            assert [snake_name(k) for k in keys] == header
            assert (
                "IsDeleted" in rec
                or name == "opportunity_field_history"
                or "is_deleted" not in header
            )
            ident = rec.get("Id")
            assert (ident or "") == row[header.index("id")]
    opp = json.loads((rest / "Opportunity" / "page-0001.json").read_text())["records"]
    assert any(r["IsDeleted"] for r in opp)  # queryAll semantics: deleted rows included
    assert "Pain_Category__c" in opp[0] and "StageName" in opp[0]


# ---- calendars ---------------------------------------------------------------------------------
def test_every_calendar_parses_and_expands_to_the_truth(small):
    gt_rows = {
        r["activity_key"]: r
        for r in read_dicts(small / "ground_truth" / "activity_truth.csv")
        if r["kind"] == "meeting"
    }
    got: dict[str, tuple[str, str]] = {}
    files = sorted((small / "calendar").glob("*.ics"))
    assert files
    seen = {"RRULE": 0, "EXDATE": 0, "RECURRENCE-ID": 0, "CANCELLED": 0, "TZID": 0}
    for p in files:
        raw = p.read_bytes()
        assert all(len(line) <= 75 for line in raw.split(b"\r\n")), p
        text = raw.decode("utf-8")
        for k in seen:
            seen[k] += text.count(k)
        cal = icalendar.Calendar.from_ical(raw)
        tzids = {str(t["TZID"]) for t in cal.walk("VTIMEZONE")}
        for ev in cal.walk("VEVENT"):
            st = ev["DTSTART"]
            if "TZID" in st.params:
                assert st.params["TZID"] in tzids
            assert ev.get("ORGANIZER")
        recurring = {str(e["UID"]) for e in cal.walk("VEVENT") if "RRULE" in e}
        for e in recurring_ical_events.of(cal).between(datetime(2023, 1, 1), datetime(2028, 1, 1)):
            uid = str(e["UID"])
            if uid in recurring:
                rid = e["RECURRENCE-ID"].dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
                key = f"{uid}/{rid}"
            else:
                key = uid
            s = e["DTSTART"].dt
            s = (
                s.astimezone(UTC) if isinstance(s, datetime) else datetime(s.year, s.month, s.day)
            ).strftime("%Y-%m-%d %H:%M:%S")
            got[key] = (s, str(e.get("STATUS", "")))
    assert all(v > 0 for v in seen.values()), seen
    assert got.keys() == gt_rows.keys()
    assert all(got[k] == (r["occurred_at"], r["status"]) for k, r in gt_rows.items())


# ---- mailboxes ---------------------------------------------------------------------------------
def test_every_mbox_parses_and_matches_the_truth(small):
    gt_rows = {
        r["activity_key"]: r
        for r in read_dicts(small / "ground_truth" / "activity_truth.csv")
        if r["kind"] == "email"
    }
    malformed = {m["id"] for m in truth(small)["malformed"] if m["table"] == "mail"}
    seen: dict[str, set[str]] = {}
    encoded = external = 0
    files = sorted((small / "mail").glob("*.mbox"))
    assert len(files) == len(list((small / "calendar").glob("*.ics")))
    # every mailbox through mailbox.mbox (headers parsed by the email package; one mailbox is
    # also parsed completely, bodies included)
    full = mailbox.mbox(files[0])
    assert all(m.get_payload() for m in full)
    headers_only = BytesHeaderParser(policy=compat32).parse
    for p in files:
        box = p.name[: -len(".mbox")]
        for msg in mailbox.mbox(p, factory=headers_only):
            mid = msg["Message-ID"].strip("<>")
            assert mid in gt_rows
            seen.setdefault(mid, set()).add(box)
            try:
                when = email.utils.parsedate_to_datetime(msg["Date"])
            except (TypeError, ValueError):
                assert mid in malformed
                continue
            assert when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") == gt_rows[mid]["occurred_at"]
            addrs = [
                a.lower()
                for _, a in email.utils.getaddresses([msg[h] or "" for h in ("From", "To", "Cc")])
            ]
            assert box in addrs  # each copy sits in the mailbox of a participant
            external += any(not a.endswith("@" + DEMO_COMPANY_DOMAIN) for a in addrs)
            for h in ("From", "To", "Cc", "Subject"):
                if msg[h] and "=?" in msg[h]:
                    encoded += 1
                    str(email.header.make_header(email.header.decode_header(msg[h])))
            refs = (msg["References"] or "").split()
            if msg["In-Reply-To"]:
                assert msg["In-Reply-To"] == refs[-1]
                assert refs[0].strip("<>") == gt_rows[mid]["thread_key"]
            else:
                assert gt_rows[mid]["thread_key"] == mid
    assert seen.keys() == gt_rows.keys()
    assert encoded > 0 and external > 0
    assert any(len(v) > 1 for v in seen.values())  # internal-to-internal mail is in both boxes
    assert malformed and malformed <= seen.keys()


def test_free_mail_partner_and_duplicate_contacts_are_present(small):
    gt = truth(small)
    contacts = read_dicts(small / "crm" / "salesforce" / "contact.csv")
    emails = [c["email"] for c in contacts]
    assert any(e.split("@")[1] in gt["free_mail_domains"] for e in emails)
    assert any(e.split("@")[1] in gt["partner_domains"] for e in emails)
    lower = [e.lower() for e in emails]
    dups = [e for e in emails if lower.count(e.lower()) > 1]
    assert dups and any(e != e.lower() for e in dups)
    assert any(c["master_record_id"] and c["is_deleted"] == "true" for c in contacts)


# ---- seeds are read at generation time ------------------------------------------------------------
def test_edited_seeds_change_the_generated_data(tmp_path):
    src = (
        Path(load_sales_process.__code__.co_filename).resolve().parents[2] / "dbt_project" / "seeds"
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    spm = (src / "sales_process_map.csv").read_text().replace("Discovery,", "Deep Dive,")
    (seeds / "sales_process_map.csv").write_text(spm)
    cat = (
        (src / "verifier_catalogue.csv")
        .read_text()
        .replace("pain_acknowledged,", "pain_confirmed,")
    )
    cat = cat.replace(",object,\neconomic_buyer_engaged", ",object,\neconomic_buyer_engaged")
    cat = cat.replace(
        "shortlist_confirmed,supplier_selection,4,Shortlist confirmed,"
        "Buyer confirms we are on the shortlist,1.0,object,",
        "shortlist_confirmed,supplier_selection,4,Shortlist confirmed,"
        "Buyer confirms we are on the shortlist,1.0,field,shortlist_date_c",
    )
    (seeds / "verifier_catalogue.csv").write_text(cat)
    out = tmp_path / "out"
    generate(out, scale=0.03, seed=3, seeds_dir=seeds)
    opp = read_dicts(out / "crm" / "salesforce" / "opportunity.csv")
    stages = {r["stage_name"] for r in opp} | {
        r["stage_name"] for r in read_dicts(out / "crm" / "salesforce" / "opportunity_history.csv")
    }
    assert "Deep Dive" in stages and "Discovery" not in stages
    keys = {
        r["verifier_key_c"]
        for r in read_dicts(out / "crm" / "salesforce" / "verifier_status_c.csv")
    }
    assert "pain_confirmed" in keys and "pain_acknowledged" not in keys
    assert "shortlist_confirmed" not in keys
    assert "shortlist_date_c" in opp[0]
    fields = {
        r["field"] for r in read_dicts(out / "crm" / "salesforce" / "opportunity_field_history.csv")
    }
    assert "shortlist_date_c" in fields
    shutil.rmtree(out)
