"""Statistics recomputed from the files recover every planted effect (scale 1).

Everything here is computed independently from the written files (CSV, mbox headers, .ics) and
ground_truth/activity_truth.csv (the true opportunity of each activity), then compared with the
aggregates in ground_truth.json (exactly) and with the planted effects (within tolerance).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from statistics import median

import numpy as np
import pytest

from revwh.demo import DEMO_COMPANY_DOMAIN
from revwh.demo.seeds import load_sales_process

from .conftest import read_dicts, truth

ADDR = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
MAILTO = re.compile(r"mailto:([^\s;:,]+)", re.IGNORECASE)


# ---- readers (independent of the generator's code) ---------------------------------------------
def mbox_headers(path: Path):
    """Yield dicts of the headers we need from an mbox (header blocks only, unfolded)."""
    cur: dict[str, str] | None = None
    last = None
    in_body = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("From ") and (in_body or cur is None):
                if cur is not None:
                    yield cur
                cur, last, in_body = {}, None, False
                continue
            if in_body:
                continue
            if line in ("\n", "\r\n"):
                in_body = True
                continue
            if line[0] in " \t" and last:
                cur[last] += " " + line.strip()
                continue
            name, _, value = line.partition(":")
            last = name.lower()
            cur[last] = value.strip()
    if cur is not None:
        yield cur


def ics_participants(path: Path) -> dict[str, set[str]]:
    text = re.sub(r"\r\n[ \t]", "", path.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = defaultdict(set)
    uid = None
    for line in text.split("\r\n"):
        if line.startswith("UID:"):
            uid = line[4:]
        elif line.startswith(("ORGANIZER", "ATTENDEE")) and uid:
            m = MAILTO.search(line)
            if m:
                out[uid].add(m.group(1).lower())
    return out


@pytest.fixture(scope="module")
def data(full):
    gt = truth(full)
    crm = full / "crm" / "salesforce"
    bad = {(m["table"], m["row_number"]) for m in gt["malformed"] if m["row_number"]}
    opp_rows = read_dicts(crm / "opportunity.csv")
    bad_opp_ids = {m["intended_id"] for m in gt["malformed"] if m["table"] == "opportunity"}
    opps = {
        r["id"]: r
        for i, r in enumerate(opp_rows, 1)
        if ("opportunity", i) not in bad and r["is_deleted"] == "false"
    }
    accounts = {r["id"]: r for r in read_dicts(crm / "account.csv")}
    contact_acc: dict[str, set[str]] = defaultdict(set)
    for i, r in enumerate(read_dicts(crm / "contact.csv"), 1):
        if ("contact", i) not in bad:
            contact_acc[r["email"].lower()].add(r["account_id"])
    act = read_dicts(full / "ground_truth" / "activity_truth.csv")
    true_opp = {r["activity_key"]: r["opportunity_id"] for r in act}
    # e-mails: participants and thread order from the mbox headers
    msgs: dict[str, dict] = {}
    for p in sorted((full / "mail").glob("*.mbox")):
        for h in mbox_headers(p):
            mid = h["message-id"].strip("<>")
            if mid in msgs:
                continue
            try:
                when = parsedate_to_datetime(h["date"]).astimezone(UTC)
            except (TypeError, ValueError):
                when = None
            refs = h.get("references", "").split()
            msgs[mid] = {
                "from": ADDR.findall(h["from"])[0].lower(),
                "all": [
                    a.lower() for k in ("from", "to", "cc") for a in ADDR.findall(h.get(k, ""))
                ],
                "when": when,
                "root": refs[0].strip("<>") if refs else mid,
            }
    meetings: dict[str, set[str]] = defaultdict(set)
    for p in sorted((full / "calendar").glob("*.ics")):
        for uid, people in ics_participants(p).items():
            meetings[uid] |= people
    return {
        "gt": gt,
        "opps": opps,
        "accounts": accounts,
        "contact_acc": contact_acc,
        "act": act,
        "true_opp": true_opp,
        "msgs": msgs,
        "meetings": meetings,
        "bad_opp_ids": bad_opp_ids,
    }


@pytest.fixture(scope="module")
def derived(data):
    opps, msgs = data["opps"], data["msgs"]
    partner = set(data["gt"]["partner_domains"])
    # stakeholders engaged per opportunity
    stake: dict[str, set[str]] = defaultdict(set)
    for r in data["act"]:
        oid = r["opportunity_id"]
        if not oid or oid not in opps:
            continue
        acc = opps[oid]["account_id"]
        people = (
            msgs[r["activity_key"]]["all"]
            if r["kind"] == "email"
            else data["meetings"][r["thread_key"]]
        )
        for a in people:
            if acc in data["contact_acc"].get(a, ()):
                stake[oid].add(a)
    # buyer -> rep response hours per opportunity (thread = References root, ordered by Date)
    threads: dict[str, list] = defaultdict(list)
    for mid, m in msgs.items():
        if m["when"] is not None:
            threads[m["root"]].append((m["when"], mid, m))
    internal = "@" + DEMO_COMPANY_DOMAIN
    b2r_all, r2b_all = [], []
    per_opp: dict[str, list[float]] = defaultdict(list)
    for items in threads.values():
        items.sort(key=lambda x: (x[0], x[1]))
        kinds = []
        for _, _, m in items:
            dom = m["from"].split("@")[1]
            kinds.append(
                "rep" if m["from"].endswith(internal) else "partner" if dom in partner else "buyer"
            )
        for i, (t, mid, _) in enumerate(items):
            want = {"buyer": "rep", "rep": "buyer"}.get(kinds[i])
            if not want:
                continue
            nxt = next(
                (
                    items[j][0]
                    for j in range(i + 1, len(items))
                    if kinds[j] == want and items[j][0] > t
                ),
                None,
            )
            if nxt is None:
                continue
            h = (nxt - t).total_seconds() / 3600
            if kinds[i] == "buyer":
                b2r_all.append(h)
                o = data["true_opp"][mid]
                if o:
                    per_opp[o].append(h)
            else:
                r2b_all.append(h)
    nb = {
        oid: r
        for oid, r in opps.items()
        if r["type"] == "New Business" and r["is_closed"] == "true"
    }
    return {"stake": stake, "b2r": b2r_all, "r2b": r2b_all, "resp": per_opp, "nb": nb}


def _rates(nb: dict, key) -> dict:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for oid, r in nb.items():
        x = out[key(oid, r)]
        x[0] += 1
        x[1] += r["is_won"] == "true"
    return {k: v for k, v in out.items()}


def _spearman(a: list[float], b: list[float]) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _check_effect(data, name: str, observed: dict) -> None:
    """observed {bucket: [closed, won]} == the aggregate, within tolerance of the expectation,
    and in the planted direction."""
    eff = data["gt"]["effects"][name]
    agg = data["gt"]["aggregates"][eff["aggregate"]]
    assert {k: [v["closed"], v["won"]] for k, v in agg.items()} == {
        k: list(v) for k, v in observed.items()
    }
    for bucket, exp in eff["expected_win_rate"].items():
        closed, won = observed[bucket]
        if closed >= 30:
            assert abs(won / closed - exp["expected"]) <= exp["tolerance"], (name, bucket)
    if "min_difference" in eff:
        md = eff["min_difference"]
        hi, lo = observed[md["higher"]], observed[md["lower"]]
        assert hi[1] / hi[0] - lo[1] / lo[0] >= md["at_least"], (name, hi, lo)


def test_scale_one_size(data):
    gt = data["gt"]
    assert 1700 <= gt["counts"]["opportunities"] <= 2400
    reps = [
        r for r in data["gt"]["effects"]["rep_skill_verifier_velocity"]["parameters"]["rep_skill"]
    ]
    assert 35 <= len(reps) <= 45
    c = gt["counts"]
    assert 170_000 <= c["emails"] + c["meeting_occurrences"] <= 240_000


def test_stakeholders_engaged(data, derived):
    obs = _rates(derived["nb"], lambda oid, r: ">=2" if len(derived["stake"][oid]) >= 2 else "<2")
    _check_effect(data, "stakeholders_engaged", obs)
    assert obs["<2"][1] / obs["<2"][0] < 0.6 * obs[">=2"][1] / obs[">=2"][0]  # "much lower"


def test_critical_event_within_120_days(data, derived):
    def ce(oid, r):
        if not r["critical_event_date_c"]:
            return "false"
        lead = (
            date.fromisoformat(r["critical_event_date_c"])
            - date.fromisoformat(r["created_date"][:10])
        ).days
        return "true" if 0 <= lead <= 120 else "false"

    _check_effect(data, "critical_event_within_120d", _rates(derived["nb"], ce))


def test_rep_response_time(data, derived):
    def bucket(oid, r):
        h = derived["resp"].get(oid)
        return "none" if not h else (">24h" if median(h) > 24 else "<=24h")

    _check_effect(data, "rep_response_time", _rates(derived["nb"], bucket))
    agg = data["gt"]["aggregates"]["response_time_median_hours"]
    assert median(derived["b2r"]) == pytest.approx(agg["buyer_to_rep"], abs=1e-4)
    assert median(derived["r2b"]) == pytest.approx(agg["rep_to_buyer"], abs=1e-4)
    per_rep = data["gt"]["effects"]["rep_response_time"]["per_rep"]
    assert per_rep["observed"] >= per_rep["expected_min"]
    # independently: each rep's planted base response time vs the measured median
    hours: dict[str, list[float]] = defaultdict(list)
    for oid, h in derived["resp"].items():
        if oid in data["opps"] and data["opps"][oid]["type"] != "Renewal":
            hours[data["opps"][oid]["owner_id"]] += h
    reps = sorted(u for u in hours if len(hours[u]) >= 20)
    assert len(reps) >= 30
    assert (
        _spearman([per_rep["rep_base_hours"][u] for u in reps], [median(hours[u]) for u in reps])
        >= per_rep["expected_min"]
    )


def test_segment_and_lead_source(data, derived):
    acc = data["accounts"]
    _check_effect(
        data, "segment", _rates(derived["nb"], lambda oid, r: acc[r["account_id"]]["segment_c"])
    )
    obs = _rates(derived["nb"], lambda oid, r: r["lead_source"])
    _check_effect(data, "lead_source", obs)
    rate = {k: w / n for k, (n, w) in obs.items()}
    assert rate["Referral"] > rate["Outbound"] + 0.15


def test_closed_won_by_month(data):
    got: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for r in data["opps"].values():
        if r["is_won"] == "true":
            x = got[r["close_date"][:7]]
            x[0] += 1
            x[1] += float(r["amount"])
    agg = data["gt"]["aggregates"]["closed_won_by_month"]
    assert {k: (v["count"], round(v["amount"], 2)) for k, v in agg.items()} == {
        k: (v[0], round(v[1], 2)) for k, v in got.items()
    }


def _qe_window(d: date, days: int) -> bool:
    q_end_month = ((d.month - 1) // 3 + 1) * 3
    nxt = date(d.year + 1, 1, 1) if q_end_month == 12 else date(d.year, q_end_month + 1, 1)
    return (nxt - d).days <= days


def test_quarter_end_spike_and_yearly_seasonality(data):
    eff = data["gt"]["effects"]["quarter_end_spike"]
    days = eff["parameters"]["window_days"]
    won = [r for r in data["opps"].values() if r["is_won"] == "true" and r["type"] != "Renewal"]
    share = sum(_qe_window(date.fromisoformat(r["close_date"]), days) for r in won) / len(won)
    assert share == pytest.approx(eff["observed"], abs=1e-6)
    assert abs(share - eff["expected"]) <= eff["tolerance"]
    assert share > 2.5 * days / 91  # a spike, far above uniform closing
    season = data["gt"]["effects"]["yearly_seasonality"]
    q = defaultdict(int)
    for r in won:
        d = date.fromisoformat(r["close_date"])
        if d.year in (2024, 2025):
            q[(d.month - 1) // 3 + 1] += 1
    ratio = q[4] / q[3]
    assert ratio == pytest.approx(season["observed"], abs=1e-6)
    assert abs(ratio - season["expected"]) <= season["tolerance"]
    assert ratio > 1.25


def test_churn_and_expansion(data, full):
    ren = [r for r in data["opps"].values() if r["type"] == "Renewal" and r["is_closed"] == "true"]
    churn = sum(r["is_won"] == "false" for r in ren) / len(ren)
    eff = data["gt"]["effects"]["churn"]
    assert churn == pytest.approx(eff["observed"], abs=1e-6)
    assert abs(churn - eff["expected"]) <= eff["tolerance"] and churn > 0.05
    churned = {r["account_id"] for r in ren if r["is_won"] == "false"}
    assert churned and all(data["accounts"][a]["type"] == "Former Customer" for a in churned)
    exp = [r for r in data["opps"].values() if r["type"] == "Expansion"]
    all_rows = read_dicts(full / "crm" / "salesforce" / "opportunity.csv")  # malformed rows too
    won_nb = {
        r["account_id"] for r in all_rows if r["type"] == "New Business" and r["is_won"] == "true"
    }
    assert exp and all(r["account_id"] in won_nb for r in exp)
    e = data["gt"]["effects"]["expansion"]
    assert abs(e["observed"] - e["expected"]) <= e["tolerance"]


def _verifier_events(full: Path, opps: dict) -> dict[tuple[str, str], list[tuple[str, str]]]:
    proc = load_sales_process()
    field_key = {v.crm_field: v.key for v in proc.verifiers if v.crm_source == "field"}
    ev: dict[tuple[str, str], list] = defaultdict(list)
    crm = full / "crm" / "salesforce"
    for r in read_dicts(crm / "verifier_status_c.csv"):
        if r["opportunity_c"] in opps:
            ev[(r["opportunity_c"], r["verifier_key_c"])].append(
                (r["status_date_c"], r["status_c"])
            )
    for r in read_dicts(crm / "opportunity_field_history.csv"):
        if r["field"] in field_key and r["opportunity_id"] in opps:
            ev[(r["opportunity_id"], field_key[r["field"]])].append(
                (r["created_date"], "verified" if r["new_value"] else "regressed")
            )
    for v in ev.values():
        v.sort()
    return ev


def test_verifiers_win_rate_cycle_time_and_regressions(data, full):
    proc = load_sales_process()
    opps = data["opps"]
    ev = _verifier_events(full, opps)
    weights = {v.key: v.weight for v in proc.verifiers}
    total = sum(weights.values())

    # win rate by verified weight-share
    def share(oid):
        got = sum(
            w for k, w in weights.items() if ev.get((oid, k)) and ev[(oid, k)][-1][1] == "verified"
        )
        return got / total

    nb = {o: r for o, r in opps.items() if r["type"] == "New Business" and r["is_closed"] == "true"}
    lo = [r["is_won"] == "true" for o, r in nb.items() if share(o) < 0.25]
    hi = [r["is_won"] == "true" for o, r in nb.items() if share(o) >= 0.75]
    assert sum(hi) / len(hi) - sum(lo) / len(lo) >= 0.5
    # cycle time of one object verifier
    key = next(v.key for v in proc.verifiers if v.crm_source == "object")
    days = []
    for (oid, k), e in ev.items():
        if k != key:
            continue
        s = next((t for t, st in e if st == "started"), None)
        f = next((t for t, st in e if st == "verified" and s and t >= s), None)
        if s and f:
            days.append(
                (datetime.fromisoformat(f) - datetime.fromisoformat(s)).total_seconds() / 86400
            )
    agg = data["gt"]["aggregates"]["verifier_cycle_time"][key]
    assert agg["n"] == len(days) and agg["median"] == pytest.approx(median(days), abs=1e-5)
    # revisits: regressed then verified again
    closed = [o for o, r in opps.items() if r["is_closed"] == "true" and r["type"] != "Renewal"]
    by_opp: dict[str, list] = defaultdict(list)
    for (o, k), e in ev.items():
        by_opp[o].append(e)
    redo = 0
    for o in closed:
        for e in by_opp.get(o, []):
            sts = [st for _, st in e]
            if "regressed" in sts and "verified" in sts[sts.index("regressed") :]:
                redo += 1
                break
    eff = data["gt"]["effects"]["buying_job_revisits"]
    assert redo / len(closed) == pytest.approx(eff["observed"], abs=1e-6)
    assert abs(eff["observed"] - eff["expected"]) <= eff["tolerance"] and redo > 0
    for name in ("verifier_regression_on_lost_deals", "stage_regressions", "stage_skips"):
        e = data["gt"]["effects"][name]
        assert abs(e["observed"] - e["expected"]) <= e["tolerance"], name
    v = data["gt"]["effects"]["rep_skill_verifier_velocity"]
    assert v["observed"] <= v["expected_max"]
    # independently: planted skill vs each rep's median object-verifier cycle days
    base = v["parameters"]["verifier_cycle_days_by_segment"]
    users = {r["id"]: r for r in read_dicts(full / "crm" / "salesforce" / "user.csv")}
    obj = {x.key for x in proc.verifiers if x.crm_source == "object"}
    per_rep: dict[str, list[float]] = defaultdict(list)
    for (oid, k), e in ev.items():
        if k not in obj or opps[oid]["type"] == "Renewal":
            continue
        s = next((t for t, st in e if st == "started"), None)
        f = next((t for t, st in e if st == "verified" and s and t >= s), None)
        if s and f:
            per_rep[opps[oid]["owner_id"]].append(
                (datetime.fromisoformat(f) - datetime.fromisoformat(s)).total_seconds() / 86400
            )
    reps = sorted(u for u in per_rep if len(per_rep[u]) >= 10)
    skill = [v["parameters"]["rep_skill"][u] for u in reps]
    speed = [median(per_rep[u]) / base[users[u]["segment_c"]] for u in reps]
    assert len(reps) >= 30 and _spearman(skill, speed) <= -0.6


def test_stage_history_shows_regressions_skips_pushes_and_amount_changes(data, full):
    proc = load_sales_process()
    order = {s.name: s.order for s in proc.stages}
    won_names = {s.name for s in proc.stages if s.is_won}
    rows = defaultdict(list)
    for r in read_dicts(full / "crm" / "salesforce" / "opportunity_history.csv"):
        if (
            r["opportunity_id"] in data["opps"]
            and r["created_date"][:2] == "20"
            and r["created_date"][5:7] <= "12"
        ):
            rows[r["opportunity_id"]].append(r)
    regress = skip = push = amount = 0
    for hs in rows.values():
        hs.sort(key=lambda r: (r["created_date"], r["id"]))
        for a, b in itertools.pairwise(hs):
            if a["stage_name"] != b["stage_name"]:
                if order[b["stage_name"]] < order[a["stage_name"]]:
                    regress += 1
                elif order[b["stage_name"]] > order[a["stage_name"]] + 1 and (
                    b["stage_name"] in won_names or order[b["stage_name"]] < max(order.values())
                ):
                    skip += 1
            push += b["close_date"] > a["close_date"]
            amount += b["amount"] != a["amount"]
    assert regress > 50 and skip > 50 and push > 300 and amount > 200


def test_malformed_rows_are_listed_and_excluded(data, full):
    mal = data["gt"]["malformed"]
    tables = {m["table"] for m in mal}
    assert {"opportunity", "account", "contact", "opportunity_history", "task", "mail"} <= tables
    n_opp = sum(1 for m in mal if m["table"] == "opportunity")
    assert 4 <= n_opp <= 10
    # excluded from the aggregates: totals match the clean opportunities only
    agg = data["gt"]["aggregates"]["win_rate_by_segment"]
    assert sum(v["closed"] for v in agg.values()) == len(
        [
            r
            for r in data["opps"].values()
            if r["type"] == "New Business" and r["is_closed"] == "true"
        ]
    )
    assert all(i not in data["opps"] for i in data["bad_opp_ids"])
