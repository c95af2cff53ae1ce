"""Ground truth: planted effects with expectations and tolerances, and exact aggregates computed
from the generated records (what correct marts compute)."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import activity as act
from . import deals as dl
from . import vocab
from .activity import Emails, Meeting, People
from .constants import AS_OF_DAY, COMPANY_DOMAIN, DEMO_AS_OF
from .crm import Table
from .deals import Opp
from .ics import occurrence_key
from .seeds import SalesProcess
from .timeutil import DAY, date_of_day, fmt_date, fmt_ts, local_to_utc
from .world import World

AS_OF_TS = AS_OF_DAY * DAY
PARTNER_DOMAINS = tuple(d for _, d in vocab.PARTNERS)
VERIFIER_BUCKETS = (
    (0.0, 0.25, "[0,0.25)"),
    (0.25, 0.5, "[0.25,0.5)"),
    (0.5, 0.75, "[0.5,0.75)"),
    (0.75, 1.01, "[0.75,1]"),
)

DEFINITIONS = {
    "scope": (
        "Unless stated otherwise an aggregate uses opportunity rows that are not deleted "
        "(is_deleted=false) and not listed in `malformed`; 'closed' means the row's is_closed=true "
        "and 'won' is_won=true, as written in crm/salesforce/opportunity.csv (state at DEMO_AS_OF). "
        "Win rates = won / closed, by count, over type='New Business' opportunities only. "
        "All instants are UTC; days = seconds / 86400."
    ),
    "closed_won_by_month": (
        "Opportunities (all types) with is_won=true, grouped by the calendar month of close_date: "
        "count and sum(amount)."
    ),
    "activity": (
        "An activity is one e-mail message (key = Message-ID without angle brackets) or one "
        "meeting occurrence (key = UID for a non-recurring event; UID + '/' + the occurrence's "
        "original start as RECURRENCE-ID in UTC 'YYYYMMDDTHHMMSSZ' for occurrences of a recurring "
        "event, EXDATEs removed, overridden occurrences counted once with their override's "
        "status). ground_truth/activity_truth.csv gives each activity's true opportunity and "
        "account. Messages with a malformed Date header (listed in `malformed`) are excluded. "
        "Recurring series may continue after DEMO_AS_OF: their later occurrences are listed too "
        "(occurred_at in the future); every other activity happens on or before DEMO_AS_OF."
    ),
    "participants": (
        "Of an e-mail: the From, To and Cc addresses. Of a meeting occurrence: ORGANIZER and every "
        "ATTENDEE, whatever their PARTSTAT and whether the occurrence is cancelled. Addresses are "
        "compared lower-cased."
    ),
    "stakeholders_engaged": (
        "For an opportunity: the number of distinct lower-cased participant addresses, over all "
        "activities whose true opportunity it is, that equal the lower-cased email of a contact row "
        "(deleted or not; malformed rows excluded) whose account_id is the opportunity's "
        "account_id. Internal, partner and unknown addresses never count. Buckets '<2' and '>=2'."
    ),
    "internal_and_buyer": (
        f"Internal = address domain {COMPANY_DOMAIN}. Partner = a domain in partner_domains. "
        "Buyer = any other sender (customer domains and free-mail)."
    ),
    "response_time": (
        "E-mails are grouped into threads by the first Message-ID of References (the message's own "
        "Message-ID if it has none) and ordered by Date. buyer_to_rep: for every message sent by a "
        "buyer, the hours until the next later message in the same thread sent by an internal "
        "address (none if there is no such message); rep_to_buyer: symmetric, for every internal "
        "message, the hours until the next later buyer message. response_time_median_hours are the "
        "medians over all such pairs of all threads."
    ),
    "response_bucket": (
        "For an opportunity: the median buyer_to_rep hours over pairs in threads whose true "
        "opportunity it is: '<=24h', '>24h', or 'none' without pairs."
    ),
    "critical_event_within_120d": (
        "critical_event_date_c is set and 0 <= critical_event_date_c - date(created_date) <= 120 "
        "days: 'true', otherwise 'false'."
    ),
    "win_rate_by_segment": "By the account's segment_c.",
    "win_rate_by_lead_source": "By opportunity.lead_source.",
    "verifier_events": (
        "CRM-visible verifier history: rows of verifier_status_c (status_c at status_date_c) for "
        "catalogue verifiers with crm_source=object, and opportunity_field_history rows whose "
        "field is a catalogue crm_field (crm_source=field): new_value set = verified at "
        "created_date, new_value empty = regressed. 'started' is only visible for object "
        "verifiers. ground_truth/verifier_history.csv holds the full true history, including "
        "'started' of field verifiers (crm_visible=false)."
    ),
    "verifier_cycle_time": (
        "Per verifier with crm_source=object: over (opportunity, verifier) pairs with both a "
        "'started' and a 'verified' row, days from the first 'started' to the first 'verified' "
        "after it: n, mean, median and p80 (numpy.percentile, linear). Field verifiers: n=0."
    ),
    "verifier_status_mix": (
        "At DEMO_AS_OF, over open opportunities (is_closed=false): each verifier's latest "
        "CRM-visible status ('none' without events), count and sum(amount) per status."
    ),
    "win_rate_by_verified_share": (
        "Closed New Business opportunities by the weight-share of verifiers whose latest "
        "CRM-visible status is 'verified' (weights from the verifier catalogue)."
    ),
    "stage_conversion_by_cohort": (
        "From opportunity_history (rows listed in `malformed` excluded), all opportunity types, "
        "rows ordered by created_date then id. An opportunity enters an open stage at its first "
        "row with that stage_name; cohort = the calendar month of that row's created_date. "
        "entered = opportunities entering the stage; reached_next = those with a later row whose "
        "stage is won or an open stage with a higher stage_order; won = those whose opportunity "
        "row is is_won=true."
    ),
    "stage_transitions": (
        "A transition = consecutive opportunity_history rows (same ordering) whose stage_name "
        "differs. Regression: to a lower stage_order. Skip: to an open or won stage whose "
        "stage_order exceeds the previous one by more than 1 (moves to the lost stage are never "
        "skips)."
    ),
}


@dataclass
class Ctx:
    w: World
    proc: SalesProcess
    opps: list[Opp]
    people: People
    em: Emails
    meetings: list[Meeting]
    tables: dict[str, Table]
    malformed: list[dict]
    malformed_msg: set[int]
    scale: float
    seed: int
    params: dict


def _rate(closed: int, won: int) -> dict:
    return {"closed": closed, "won": won, "win_rate": round(won / closed, 6) if closed else None}


def _median(x) -> float | None:
    return round(float(np.median(x)), 6) if len(x) else None


def _bucket_share(v: float) -> str:
    for lo, hi, name in VERIFIER_BUCKETS:
        if lo <= v < hi:
            return name
    return VERIFIER_BUCKETS[-1][2]


def _spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(float)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _expect(ps: list[float], floor: float = 0.04) -> dict:
    n = len(ps)
    if not n:
        return {"n": 0, "expected": None, "tolerance": None}
    mean = sum(ps) / n
    sd = math.sqrt(sum(p * (1 - p) for p in ps)) / n
    return {"n": n, "expected": round(mean, 6), "tolerance": round(max(floor, 4 * sd), 4)}


class TruthBuilder:
    def __init__(self, ctx: Ctx):
        self.c = ctx
        t = ctx.tables["opportunity"]
        self.opp_t = t
        self.bad_opp = set(t.malformed)  # row index == opp idx
        self.by_idx = {o.idx: o for o in ctx.opps}
        self.valid = [o.idx for o in ctx.opps if not o.deleted and o.idx not in self.bad_opp]
        self.stage_by_name = {s.name: s for s in ctx.proc.stages}
        acc_seg = ctx.tables["account"].data["segment_c"]
        acc_index = {a: i for i, a in enumerate(ctx.tables["account"].data["id"])}
        self.opp_segment = {i: acc_seg[acc_index[t.data["account_id"][i]]] for i in range(len(t))}

    # ---- engagement -----------------------------------------------------------------------
    def engagement(self) -> None:
        """Stakeholders engaged per opportunity (see DEFINITIONS), vectorised over threads."""
        c = self.c
        people, em, th = c.people, c.em, c.em.threads
        ct = c.tables["contact"]
        bad_c = set(ct.malformed)
        acc_index = {a: i for i, a in enumerate(c.tables["account"].data["id"])}
        n_acc = len(acc_index) + 1
        eid_of: dict[str, int] = {}
        p_eid = np.array(
            [eid_of.setdefault(e.lower(), len(eid_of)) for e in people.email], dtype=np.int64
        )
        valid = set()
        for i, (e, a) in enumerate(zip(ct.data["email"], ct.data["account_id"])):
            if i not in bad_c and e.lower() in eid_of:
                valid.add(eid_of[e.lower()] * n_acc + acc_index[a])
        valid_keys = np.array(sorted(valid), dtype=np.int64)
        opp_acc = np.array([acc_index[a] for a in self.opp_t.data["account_id"]], dtype=np.int64)
        # (opportunity, person) pairs: thread participants and meeting participants
        T = len(th)
        has_msg = np.zeros(T, dtype=bool)
        has_msg[em.thread] = True
        t_opp = np.frombuffer(th.opp, dtype=np.int64)
        opps, pids = [], []
        for ptr, dat in ((em.a_ptr, em.a_dat), (em.b_ptr, em.b_dat), (em.p_ptr, em.p_dat)):
            lens = ptr[1:] - ptr[:-1]
            tid = np.repeat(np.arange(T, dtype=np.int64), lens)
            keep = has_msg[tid] & (t_opp[tid] >= 0)
            opps.append(t_opp[tid[keep]])
            pids.append(dat[keep])
        mo, mp_ = [], []
        for m in c.meetings:
            if m.opp < 0 or not m.occurrences():
                continue
            for p in [m.organizer] + [a[0] for a in m.attendees]:
                mo.append(m.opp)
                mp_.append(p)
        opps.append(np.array(mo, dtype=np.int64))
        pids.append(np.array(mp_, dtype=np.int64))
        o = np.concatenate(opps)
        e = p_eid[np.concatenate(pids)]
        ok = np.isin(e * n_acc + opp_acc[o], valid_keys)
        pairs = np.unique(o[ok] * len(eid_of) + e[ok])
        counts = np.bincount(pairs // len(eid_of), minlength=len(self.opp_t))
        self.stakeholders = {i: int(x) for i, x in enumerate(counts.tolist())}

    def responses(self) -> None:
        c = self.c
        people, em, th = c.people, c.em, c.em.threads
        internal = np.array(people.internal)[em.sender]
        dom = [e.rsplit("@", 1)[1].lower() for e in people.email]
        partner = np.array([d in PARTNER_DOMAINS for d in dom])[em.sender]
        ok = np.ones(len(em), dtype=bool)
        if c.malformed_msg:
            ok[np.array(sorted(c.malformed_msg))] = False
        buyer = ~internal & ~partner
        n = len(em)
        idx = np.arange(n)
        thread_end = em.first + np.bincount(em.thread, minlength=len(th))[em.thread]
        big = np.iinfo(np.int64).max

        def next_of(flag: np.ndarray) -> np.ndarray:
            v = np.where(flag & ok, idx, big)
            suf = np.minimum.accumulate(v[::-1])[::-1]
            nxt = np.full(n, big)
            nxt[:-1] = suf[1:]
            return nxt

        nxt_int = next_of(internal)
        nxt_buy = next_of(buyer)
        b = np.flatnonzero(buyer & ok & (nxt_int < thread_end))
        r = np.flatnonzero(internal & ok & (nxt_buy < thread_end))
        b2r = (em.time[nxt_int[b]] - em.time[b]) / 3600.0
        r2b = (em.time[nxt_buy[r]] - em.time[r]) / 3600.0
        self.resp_median = {
            "buyer_to_rep": _median(b2r),
            "rep_to_buyer": _median(r2b),
            "buyer_to_rep_pairs": len(b),
            "rep_to_buyer_pairs": len(r),
        }
        opp_of_msg = np.frombuffer(th.opp, dtype=np.int64)[em.thread]
        per_opp: dict[int, list[float]] = defaultdict(list)
        for o, h in zip(opp_of_msg[b].tolist(), b2r.tolist()):
            if o >= 0:
                per_opp[o].append(h)
        self.resp_opp = {o: float(np.median(v)) for o, v in per_opp.items()}
        # per rep (the owner of the deal) medians, for the response-time effect
        self.b2r_pairs = (opp_of_msg[b], b2r)

    def response_bucket(self, o: int) -> str:
        m = self.resp_opp.get(o)
        if m is None:
            return "none"
        return ">24h" if m > 24.0 else "<=24h"

    # ---- verifiers --------------------------------------------------------------------------
    def verifier_events(self) -> None:
        """CRM-visible events per (opp idx, verifier key): list of (ts, status)."""
        c = self.c
        opp_row = {oid: i for i, oid in enumerate(self.opp_t.data["id"])}
        ev: dict[tuple[int, str], list[tuple[int, int, str]]] = defaultdict(list)
        vs = c.tables["verifier_status_c"]
        for j, (oid, key, st, ts) in enumerate(
            zip(
                vs.data["opportunity_c"],
                vs.data["verifier_key_c"],
                vs.data["status_c"],
                vs.data["status_date_c"],
            )
        ):
            ev[(opp_row[oid], key)].append((ts, j, st))
        field_key = {v.crm_field: v.key for v in c.proc.verifiers if v.crm_source == "field"}
        fh = c.tables["opportunity_field_history"]
        for j, (oid, f, new, ts) in enumerate(
            zip(
                fh.data["opportunity_id"],
                fh.data["field"],
                fh.data["new_value"],
                fh.data["created_date"],
            )
        ):
            if f in field_key:
                ev[(opp_row[oid], field_key[f])].append((ts, j, "verified" if new else "regressed"))
        for lst in ev.values():
            lst.sort()
        self.vev = ev

    def latest_status(self, o: int, key: str) -> str:
        e = self.vev.get((o, key))
        return e[-1][2] if e else "none"

    def verified_share(self, o: int) -> float:
        vs = self.c.proc.verifiers
        tot = sum(v.weight for v in vs)
        got = sum(v.weight for v in vs if self.latest_status(o, v.key) == "verified")
        return got / tot if tot else 0.0

    # ---- aggregates --------------------------------------------------------------------------
    def aggregates(self) -> dict:
        d = self.opp_t.data
        agg: dict = {}
        cw: dict[str, dict] = {}
        for i in self.valid:
            if d["is_won"][i]:
                mth = str(np.datetime64(int(d["close_date"][i]), "D").astype("datetime64[M]"))
                x = cw.setdefault(mth, {"count": 0, "amount": 0.0})
                x["count"] += 1
                x["amount"] += d["amount"][i]
        agg["closed_won_by_month"] = {
            k: {"count": v["count"], "amount": round(v["amount"], 2)} for k, v in sorted(cw.items())
        }
        nb = [i for i in self.valid if d["is_closed"][i] and d["type"][i] == "New Business"]
        self.nb_closed = nb

        def rate_by(keyf) -> dict:
            acc: dict[str, list[int]] = {}
            for i in nb:
                k = keyf(i)
                x = acc.setdefault(k, [0, 0])
                x[0] += 1
                x[1] += int(bool(d["is_won"][i]))
            return {k: _rate(*v) for k, v in sorted(acc.items())}

        agg["win_rate_by_segment"] = rate_by(lambda i: self.opp_segment[i] or "")
        agg["win_rate_by_lead_source"] = rate_by(lambda i: d["lead_source"][i] or "")
        agg["win_rate_by_stakeholder_bucket"] = rate_by(
            lambda i: ">=2" if self.stakeholders[i] >= 2 else "<2"
        )
        agg["win_rate_by_critical_event_within_120d"] = rate_by(
            lambda i: "true" if self.ce_within(i) else "false"
        )
        agg["win_rate_by_response_bucket"] = rate_by(self.response_bucket)
        agg["win_rate_by_verified_share"] = rate_by(lambda i: _bucket_share(self.verified_share(i)))
        all_types: dict[str, list[int]] = {}
        for i in self.valid:
            if d["is_closed"][i]:
                x = all_types.setdefault(d["type"][i], [0, 0])
                x[0] += 1
                x[1] += int(bool(d["is_won"][i]))
        agg["win_rate_by_type"] = {k: _rate(*v) for k, v in sorted(all_types.items())}
        agg["stage_conversion_by_cohort"] = self.stage_conversion()
        agg["verifier_cycle_time"] = self.cycle_times()
        agg["verifier_status_mix"] = self.status_mix()
        agg["response_time_median_hours"] = self.resp_median
        agg["stakeholders_engaged_distribution"] = {
            str(k): v for k, v in sorted(_count(self.stakeholders[i] for i in nb).items())
        }
        return agg

    def ce_within(self, i: int) -> bool:
        d = self.opp_t.data
        ce = d["critical_event_date_c"][i]
        if ce is None:
            return False
        lead = ce - d["created_date"][i] // DAY
        return 0 <= lead <= 120

    def history_rows(self) -> dict[int, list[tuple[int, str, str]]]:
        h = self.c.tables["opportunity_history"]
        opp_row = {oid: i for i, oid in enumerate(self.opp_t.data["id"])}
        rows: dict[int, list] = defaultdict(list)
        for j, (oid, st, ts, hid) in enumerate(
            zip(
                h.data["opportunity_id"], h.data["stage_name"], h.data["created_date"], h.data["id"]
            )
        ):
            if j in h.malformed:
                continue
            rows[opp_row[oid]].append((ts, hid, st))
        for lst in rows.values():
            lst.sort()
        return rows

    def stage_conversion(self) -> dict:
        d = self.opp_t.data
        hist = self.history_rows()
        self.hist = hist
        out: dict[str, dict[str, dict[str, int]]] = {}
        open_names = [s.name for s in self.c.proc.open_stages]
        for i in self.valid:
            rows = hist.get(i, [])
            seen = set()
            for j, (ts, _, st) in enumerate(rows):
                if st not in open_names or st in seen:
                    continue
                seen.add(st)
                order = self.stage_by_name[st].order
                nxt = any(
                    (
                        self.stage_by_name[s2].is_won
                        or (
                            not self.stage_by_name[s2].is_closed
                            and self.stage_by_name[s2].order > order
                        )
                    )
                    for _, _, s2 in rows[j + 1 :]
                )
                mth = str(np.datetime64(int(ts), "s").astype("datetime64[M]"))
                x = out.setdefault(mth, {}).setdefault(
                    st, {"entered": 0, "reached_next": 0, "won": 0}
                )
                x["entered"] += 1
                x["reached_next"] += int(nxt)
                x["won"] += int(bool(d["is_won"][i]))
        return {m: {s: out[m][s] for s in open_names if s in out[m]} for m in sorted(out)}

    def transitions(self, idxs) -> tuple[int, int, int, set[int]]:
        """(forward open/won transitions, skips, regressions count, opps with a regression)."""
        fwd = skips = regs = 0
        reg_opps: set[int] = set()
        for i in idxs:
            rows = self.hist.get(i, [])
            for (_, _, a), (_, _, b) in itertools.pairwise(rows):
                if a == b:
                    continue
                sa, sb = self.stage_by_name[a], self.stage_by_name[b]
                if sb.order < sa.order:
                    regs += 1
                    reg_opps.add(i)
                elif sb.order > sa.order and (sb.is_won or not sb.is_closed):
                    fwd += 1
                    if sb.order > sa.order + 1:
                        skips += 1
        return fwd, skips, regs, reg_opps

    def cycle_times(self) -> dict:
        out = {}
        for v in self.c.proc.verifiers:
            days = []
            if v.crm_source == "object":
                for i in self.valid:
                    e = self.vev.get((i, v.key))
                    if not e:
                        continue
                    s = next((ts for ts, _, st in e if st == "started"), None)
                    if s is None:
                        continue
                    f = next((ts for ts, _, st in e if st == "verified" and ts >= s), None)
                    if f is not None:
                        days.append((f - s) / DAY)
            if days:
                a = np.array(days)
                out[v.key] = {
                    "n": len(days),
                    "mean": round(float(a.mean()), 6),
                    "median": round(float(np.median(a)), 6),
                    "p80": round(float(np.percentile(a, 80)), 6),
                }
            else:
                out[v.key] = {"n": 0, "mean": None, "median": None, "p80": None}
        return out

    def status_mix(self) -> dict:
        d = self.opp_t.data
        open_i = [i for i in self.valid if not d["is_closed"][i]]
        out = {}
        for v in self.c.proc.verifiers:
            mix: dict[str, dict] = {
                s: {"count": 0, "amount": 0.0} for s in ("none", "started", "verified", "regressed")
            }
            for i in open_i:
                s = self.latest_status(i, v.key)
                mix[s]["count"] += 1
                mix[s]["amount"] += d["amount"][i] or 0.0
            for x in mix.values():
                x["amount"] = round(x["amount"], 2)
            out[v.key] = mix
        return {"as_of": str(DEMO_AS_OF), "open_opportunities": len(open_i), "by_verifier": out}

    # ---- effects -----------------------------------------------------------------------------
    def effects(self, agg: dict) -> dict:
        c = self.c
        d = self.opp_t.data
        P = c.params["deals"]
        A = c.params["activity"]
        nb = self.nb_closed
        by = self.by_idx
        eff: dict = {}

        def expected_by(keyf) -> dict:
            groups: dict[str, list[float]] = defaultdict(list)
            for i in nb:
                groups[keyf(i)].append(by[i].p_win)
            return {k: _expect(v) for k, v in sorted(groups.items())}

        eff["stakeholders_engaged"] = {
            "description": "Fewer than two engaged stakeholders means a much lower win rate.",
            "parameters": {
                "logit_stakeholders_ge_2": P["WIN_LOGIT"]["stakeholders_ge_2"],
                "p_one_stakeholder_and_max_by_segment": P["STAKEHOLDER_K"],
            },
            "aggregate": "win_rate_by_stakeholder_bucket",
            "expected_win_rate": expected_by(
                lambda i: ">=2" if self.stakeholders[i] >= 2 else "<2"
            ),
            "min_difference": {"higher": ">=2", "lower": "<2", "at_least": 0.15},
        }
        eff["critical_event_within_120d"] = {
            "description": "A critical event at most 120 days after creation raises the win rate "
            "(and speeds verifiers up).",
            "parameters": {
                "logit": P["WIN_LOGIT"]["critical_event_within_120d"],
                "probabilities_within_further_none": P["CRITICAL_EVENT_PROBS"],
                "verifier_speedup": P["CRITICAL_EVENT_SPEEDUP"],
            },
            "aggregate": "win_rate_by_critical_event_within_120d",
            "expected_win_rate": expected_by(lambda i: "true" if self.ce_within(i) else "false"),
            "min_difference": {"higher": "true", "lower": "false", "at_least": 0.1},
        }
        eff["rep_response_time"] = {
            "description": "Deals whose rep answers buyer e-mails after more than 24 h (median) "
            "win less often.",
            "parameters": {
                "logit_over_24h": P["WIN_LOGIT"]["rep_response_over_24h"],
                "rep_base_hours": "lognormal(median 9 h, sigma 1.0) per rep",
                "deal_factor": "lognormal(0, 0.45)",
                "per_reply_sigma": A["REP_REPLY_SIGMA"],
            },
            "aggregate": "win_rate_by_response_bucket",
            "expected_win_rate": expected_by(self.response_bucket),
            "min_difference": {"higher": "<=24h", "lower": ">24h", "at_least": 0.08},
        }
        eff["segment"] = {
            "description": "Win rate differs by segment.",
            "parameters": {"logit": P["WIN_LOGIT"]["segment"]},
            "aggregate": "win_rate_by_segment",
            "expected_win_rate": expected_by(lambda i: self.opp_segment[i] or ""),
        }
        eff["lead_source"] = {
            "description": "Win rate differs by lead source (Referral best, Outbound worst).",
            "parameters": {
                "logit": P["WIN_LOGIT"]["lead_source"],
                "mix_by_segment": P["LEAD_SOURCE_PROBS"],
            },
            "aggregate": "win_rate_by_lead_source",
            "expected_win_rate": expected_by(lambda i: d["lead_source"][i] or ""),
        }
        vb = agg["win_rate_by_verified_share"]
        lo_b, hi_b = VERIFIER_BUCKETS[0][2], VERIFIER_BUCKETS[-1][2]
        eff["verifiers_verified"] = {
            "description": "Win rate rises with the weight-share of verified verifiers: won deals "
            "verify (almost) every verifier, lost deals stop part-way.",
            "parameters": {
                "p_take_required": P["P_TAKE_REQUIRED"],
                "p_take_optional": P["P_TAKE_OPTIONAL"],
                "loss_depth_decay": P["LOSS_DEPTH_DECAY"],
            },
            "aggregate": "win_rate_by_verified_share",
            "min_difference": {"higher": hi_b, "lower": lo_b, "at_least": 0.5},
            "observed_monotone": _monotone(
                [vb[b]["win_rate"] for _, _, b in VERIFIER_BUCKETS if b in vb]
            ),
        }
        # rep skill -> verifier velocity
        rep_days: dict[int, list[float]] = defaultdict(list)
        owner_row = d["owner_id"]
        uid_index = {u: i for i, u in enumerate(c.w.u_id)}
        for (i, key), e in self.vev.items():
            if i not in self.valid_set:
                continue
            s = next((ts for ts, _, st in e if st == "started"), None)
            f = next(
                (ts for ts, _, st in e if st == "verified" and s is not None and ts >= s), None
            )
            if s is not None and f is not None and by[i].type != "Renewal":
                rep_days[uid_index[owner_row[i]]].append((f - s) / DAY)
        reps = [u for u in c.w.reps if len(rep_days.get(u, [])) >= 10]
        skill = [float(c.w.skill[u]) for u in reps]
        med = [float(np.median(rep_days[u])) for u in reps]
        # segment-normalised: divide by the segment's base cycle
        seg_base = P["VERIFIER_CYCLE_DAYS"]
        norm = [m / seg_base[c.w.u_segment[u]] for m, u in zip(med, reps)]
        eff["rep_skill_verifier_velocity"] = {
            "description": "Reps differ in skill: verifier cycle time = segment base / skill.",
            "parameters": {
                "skill": "lognormal(0, 0.35) clipped to [0.45, 2.2]",
                "verifier_cycle_days_by_segment": seg_base,
                "log_skill_win_logit": P["WIN_LOGIT"]["log_rep_skill"],
                "rep_skill": {c.w.u_id[u]: round(float(c.w.skill[u]), 4) for u in c.w.reps},
            },
            "metric": "Spearman correlation between rep_skill and the rep's median object-verifier "
            "cycle days (verified - started, New Business and Expansion deals, reps with "
            ">= 10 pairs) divided by the rep's segment base cycle days",
            "observed": round(_spearman(skill, norm), 4),
            "expected_max": -0.6,
        }
        # rep response base -> measured per-rep median
        opp_of, hours = self.b2r_pairs
        per_rep: dict[int, list[float]] = defaultdict(list)
        for o, h in zip(opp_of.tolist(), hours.tolist()):
            if o >= 0 and by[o].type != "Renewal":
                per_rep[by[o].owner].append(h)
        reps2 = [u for u in c.w.reps if len(per_rep.get(u, [])) >= 20]
        eff["rep_response_time"]["per_rep"] = {
            "metric": "Spearman correlation between each rep's planted base response hours and the "
            "median buyer_to_rep hours on deal threads of their deals (reps with >= 20 "
            "pairs)",
            "rep_base_hours": {c.w.u_id[u]: round(float(c.w.resp_base[u]), 4) for u in c.w.reps},
            "observed": round(
                _spearman(
                    [float(c.w.resp_base[u]) for u in reps2],
                    [float(np.median(per_rep[u])) for u in reps2],
                ),
                4,
            ),
            "expected_min": 0.8,
        }
        # buying-job revisits and verifier regressions (closed New Business + Expansion)
        closed_ne = [i for i in self.valid if d["is_closed"][i] and by[i].type != "Renewal"]
        redo = sum(1 for i in closed_ne if self._has_redo(i))
        elig = sum(1 for i in closed_ne if by[i].revisit_eligible)
        exp = P["P_REVISIT"] * elig / len(closed_ne) if closed_ne else 0.0
        sd = math.sqrt(elig * P["P_REVISIT"] * (1 - P["P_REVISIT"])) / max(1, len(closed_ne))
        eff["buying_job_revisits"] = {
            "description": "Buyers revisit earlier buying jobs: a verified verifier regresses, is "
            "started again and re-verified later.",
            "parameters": {"p_revisit": P["P_REVISIT"]},
            "metric": "share of closed New Business and Expansion opportunities with a verifier "
            "that is 'regressed' and later 'verified' again (CRM-visible events)",
            "observed": round(redo / len(closed_ne), 6) if closed_ne else None,
            "expected": round(exp, 6),
            "tolerance": round(max(0.03, 4 * sd), 4),
        }
        lost_ne = [i for i in closed_ne if not d["is_won"][i]]
        dec = sum(1 for i in lost_ne if self._has_final_regression(i))
        elig_d = sum(1 for i in lost_ne if by[i].decay_eligible)
        p_d = P["P_DECAY_REGRESS"]
        eff["verifier_regression_on_lost_deals"] = {
            "description": "On lost deals a verified verifier sometimes regresses before the loss.",
            "parameters": {"p_decay_regress": p_d},
            "metric": "share of lost New Business and Expansion opportunities with a verifier whose "
            "latest CRM-visible status is 'regressed'",
            "observed": round(dec / len(lost_ne), 6) if lost_ne else None,
            "expected": round(p_d * elig_d / len(lost_ne), 6) if lost_ne else None,
            "tolerance": round(
                max(0.03, 4 * math.sqrt(elig_d * p_d * (1 - p_d)) / max(1, len(lost_ne))), 4
            ),
        }
        fwd, skips, _, reg_opps = self.transitions(closed_ne)
        elig_r = sum(1 for i in closed_ne if by[i].stage_reg_eligible)
        p_r = P["P_STAGE_REGRESS"]
        eff["stage_regressions"] = {
            "description": "CRM stages regress (back one stage, later forward again).",
            "parameters": {"p_stage_regress_per_deal": p_r},
            "metric": "share of closed New Business and Expansion opportunities with at least one "
            "regression in opportunity_history",
            "observed": round(len(reg_opps) / len(closed_ne), 6) if closed_ne else None,
            "expected": round(p_r * elig_r / len(closed_ne), 6) if closed_ne else None,
            "tolerance": round(
                max(0.03, 4 * math.sqrt(elig_r * p_r * (1 - p_r)) / max(1, len(closed_ne))), 4
            ),
        }
        q = P["P_STAGE_SKIP"]
        won_ne = [i for i in closed_ne if d["is_won"][i]]
        skip_opps = sum(1 for i in won_ne if self.transitions([i])[1] > 0)
        ps = [1 - (1 - q) ** by[i].skip_draws for i in won_ne]
        e_ = _expect(ps, floor=0.03)
        eff["stage_skips"] = {
            "description": "Reps sometimes skip a stage update, so the next update jumps stages.",
            "parameters": {"p_skip_per_advance": q},
            "metric": "share of won New Business and Expansion opportunities whose "
            "opportunity_history has at least one skip (see stage_transitions)",
            "observed": round(skip_opps / len(won_ne), 6) if won_ne else None,
            "expected": e_["expected"],
            "tolerance": e_["tolerance"],
            "skips_per_forward_transition": round(skips / fwd, 6) if fwd else None,
        }
        # quarter-end spike and seasonality (won New Business + Expansion)
        won_ne = [i for i in closed_ne if d["is_won"][i]]
        inwin = [1 if by[i].nat_in_window else by[i].p_snap for i in won_ne]
        obs = sum(1 for i in won_ne if self._in_qe_window(d["close_date"][i])) / max(1, len(won_ne))
        e_ = _expect(inwin, floor=0.03)
        eff["quarter_end_spike"] = {
            "description": "Won deals are signed in the last days of the quarter.",
            "parameters": {"p_snap_by_quarter": P["P_SNAP"], "window_days": P["SNAP_WINDOW_DAYS"]},
            "metric": f"share of won New Business and Expansion opportunities whose close_date is in "
            f"the last {P['SNAP_WINDOW_DAYS']} days of its calendar quarter "
            f"(uniform closing would give about {P['SNAP_WINDOW_DAYS'] / 91:.2f})",
            "observed": round(obs, 6),
            "expected": e_["expected"],
            "tolerance": e_["tolerance"],
        }
        eff["yearly_seasonality"] = self._seasonality(P)
        eff["churn"] = self._churn()
        eff["expansion"] = self._expansion(P)
        eff.update(self._mess())
        return eff

    @property
    def valid_set(self) -> set[int]:
        if not hasattr(self, "_vs"):
            self._vs = set(self.valid)
        return self._vs

    def _has_redo(self, i: int) -> bool:
        for v in self.c.proc.verifiers:
            e = self.vev.get((i, v.key), [])
            seen_reg = False
            for _, _, st in e:
                if st == "regressed":
                    seen_reg = True
                elif st == "verified" and seen_reg:
                    return True
        return False

    def _has_final_regression(self, i: int) -> bool:
        return any(self.latest_status(i, v.key) == "regressed" for v in self.c.proc.verifiers)

    @staticmethod
    def _in_qe_window(day: int) -> bool:
        d = date_of_day(day)
        qm = ((d.month - 1) // 3 + 1) * 3
        from datetime import date as _date

        nxt = _date(d.year + 1, 1, 1) if qm == 12 else _date(d.year, qm + 1, 1)
        return (nxt - d).days <= dl.SNAP_WINDOW_DAYS

    def _seasonality(self, P: dict) -> dict:
        d = self.opp_t.data
        by = self.by_idx
        cnt = {3: 0, 4: 0}
        exp = {3: 0.0, 4: 0.0}
        var = {3: 0.0, 4: 0.0}
        for i in self.valid:
            o = by[i]
            if o.type == "Renewal":
                continue
            # expected: every deal whose won-path close falls in Q3/Q4 2024-2025, weighted by p_win
            yq = _yq(o.won_path_close_ts)
            if yq[0] in (2024, 2025) and yq[1] in (3, 4):
                exp[yq[1]] += o.p_win
                var[yq[1]] += o.p_win * (1 - o.p_win)
            if d["is_won"][i]:
                y, q = _yq(int(d["close_date"][i]) * DAY)
                if y in (2024, 2025) and q in (3, 4):
                    cnt[q] += 1
        ratio = cnt[4] / cnt[3] if cnt[3] else None
        er = exp[4] / exp[3] if exp[3] else None
        sd = er * math.sqrt(var[4] / exp[4] ** 2 + var[3] / exp[3] ** 2) if er else 0.0
        return {
            "description": "Yearly seasonality: more pipeline is created in autumn and deals whose "
            "natural close is in Q4 win more often (budget flush); summer is slow.",
            "parameters": {
                "creation_month_weight": P["CREATION_MONTH_WEIGHT"],
                "creation_growth_per_year": P["CREATION_GROWTH_PER_YEAR"],
                "logit_natural_close_quarter": P["WIN_LOGIT"]["natural_close_quarter"],
            },
            "metric": "closed-won count (New Business + Expansion) with close_date in Q4 divided by "
            "Q3, years 2024 and 2025 together",
            "observed": round(ratio, 6) if ratio else None,
            "counts": {"Q3": cnt[3], "Q4": cnt[4]},
            "expected": round(er, 6) if er else None,
            "tolerance": round(max(0.15, 4 * sd), 4),
        }

    def _churn(self) -> dict:
        d = self.opp_t.data
        ren = [i for i in self.valid if d["type"][i] == "Renewal" and d["is_closed"][i]]
        lost = sum(1 for i in ren if not d["is_won"][i])
        e_ = _expect([1 - self.by_idx[i].p_win for i in ren], floor=0.03)
        return {
            "description": "After the sale some customers churn: churn = a Renewal opportunity that "
            "is Closed Lost; the account's type becomes 'Former Customer'.",
            "parameters": {"p_churn_by_segment": dl.P_CHURN},
            "metric": "closed-lost renewals / closed renewals",
            "observed": round(lost / len(ren), 6) if ren else None,
            "expected": e_["expected"],
            "tolerance": e_["tolerance"],
        }

    def _expansion(self, P: dict) -> dict:
        d = self.opp_t.data
        by = self.by_idx
        nb_won = [i for i in self.valid if d["type"][i] == "New Business" and d["is_won"][i]]
        exp_of = defaultdict(int)
        for o in self.c.opps:
            if o.type == "Expansion" and not o.deleted and o.parent_opp >= 0:
                exp_of[o.parent_opp] += 1
        got = sum(1 for i in nb_won if exp_of.get(i))
        ps = []
        for i in nb_won:
            o = by[i]
            lo, hi = o.close_ts + 60 * DAY, o.close_ts + 300 * DAY
            lim = AS_OF_TS - 3 * DAY
            churn = self._churn_ts(o.account)
            if churn is not None:
                lim = min(lim, churn - 30 * DAY)
            frac = min(1.0, max(0.0, (lim - lo) / (hi - lo)))
            ps.append(P["P_EXPANSION"][o.segment] * frac)
        e_ = _expect(ps, floor=0.03)
        return {
            "description": "After a won New Business deal some customers expand (type='Expansion' "
            "opportunity on the same account, 60-300 days after the win).",
            "parameters": {"p_expansion_by_segment": P["P_EXPANSION"]},
            "metric": "share of won New Business opportunities followed by an Expansion "
            "opportunity on the same account",
            "observed": round(got / len(nb_won), 6) if nb_won else None,
            "expected": e_["expected"],
            "tolerance": e_["tolerance"],
        }

    def _churn_ts(self, a: int) -> int | None:
        if not hasattr(self, "_churn_map"):
            self._churn_map = {}
            for o in self.c.opps:
                if o.type == "Renewal" and o.closed and not o.won:
                    self._churn_map[o.account] = o.close_ts
        return self._churn_map.get(a)

    def _mess(self) -> dict:
        c = self.c
        w = c.w
        d = self.opp_t.data
        n_dup = sum(1 for x in w.c_dup_of if x >= 0)
        n_merged = sum(1 for x in w.c_master if x >= 0)
        free = [e for e in w.c_email if e.rsplit("@", 1)[1].lower() in vocab.FREE_MAIL_DOMAINS]
        h = c.tables["opportunity_history"]
        last: dict[str, tuple] = {}
        push_opps, amt_opps = set(), set()
        order = sorted(
            range(len(h)),
            key=lambda j: (h.data["opportunity_id"][j], h.data["created_date"][j], h.data["id"][j]),
        )
        for j in order:
            if j in h.malformed:
                continue
            oid = h.data["opportunity_id"][j]
            cur = (h.data["close_date"][j], h.data["amount"][j], h.data["stage_name"][j])
            if oid in last:
                pc, pa, _ = last[oid]
                st = self.stage_by_name[cur[2]]
                if cur[0] > pc and not st.is_closed:
                    push_opps.add(oid)
                if cur[1] != pa:
                    amt_opps.add(oid)
            last[oid] = cur
        valid_ids = {d["id"][i] for i in self.valid}
        pushed = len(push_opps & valid_ids)
        amount_changed = len(amt_opps & valid_ids)
        open_i = [i for i in self.valid if not d["is_closed"][i]]
        stale = sum(1 for i in open_i if d["close_date"][i] < AS_OF_DAY)
        deleted = sum(1 for x in d["is_deleted"] if x)
        return {
            "pushed_close_dates": {
                "description": "Reps set optimistic close dates and push them when they pass.",
                "parameters": {
                    "first_close_date_fraction_of_true_length": dl.CLOSE_DATE_OPTIMISM,
                    "push_days": [14, 75],
                },
                "metric": "opportunities with an opportunity_history row whose close_date is later "
                "than the previous row's while the stage is open",
                "observed": pushed,
                "expected": pushed,
                "tolerance": 0,
            },
            "amount_changes": {
                "description": "Amounts change during the deal.",
                "parameters": {"p_one_change_and_second": dl.P_AMOUNT_CHANGE},
                "metric": "opportunities whose amount differs between opportunity_history rows",
                "observed": amount_changed,
                "expected": amount_changed,
                "tolerance": 0,
            },
            "stale_open_pipeline": {
                "description": "Some open deals keep a close date in the past.",
                "parameters": {"p_stale_open": dl.P_STALE_OPEN},
                "metric": "open opportunities with close_date < DEMO_AS_OF",
                "observed": stale,
                "expected": stale,
                "tolerance": 0,
            },
            "duplicate_contacts": {
                "description": "The same person entered twice: e-mail differs only in letter case; "
                "merged duplicates are deleted rows with master_record_id.",
                "parameters": {
                    "share": 0.02,
                    "p_merged": 0.5,
                    "p_writes_from_duplicate_address": act.P_DUPLICATE_ADDRESS,
                },
                "metric": "contact rows whose lower-cased email equals another contact row's",
                "observed": n_dup,
                "expected": n_dup,
                "merged": n_merged,
                "tolerance": 0,
            },
            "free_mail_contacts": {
                "description": "Some buyers use free-mail addresses.",
                "parameters": {"domains": list(vocab.FREE_MAIL_DOMAINS)},
                "metric": "contact rows with a free-mail domain",
                "observed": len(free),
                "expected": len(free),
                "tolerance": 0,
            },
            "partner_domains": {
                "description": "Partner/reseller people are copied on partner-sourced deal threads "
                "and have their own threads; partner domains are never buyers.",
                "parameters": {"domains": list(PARTNER_DOMAINS)},
            },
            "deleted_opportunities": {
                "description": "Duplicate opportunities created by mistake and deleted "
                "(is_deleted=true, also in REST pages: queryAll semantics).",
                "parameters": {"p_deleted_duplicate": dl.P_DELETED_DUPLICATE},
                "observed": deleted,
                "expected": deleted,
                "tolerance": 0,
            },
            "malformed_records": {
                "description": "A few malformed records (listed in `malformed`).",
                "observed": len(c.malformed),
                "expected": len(c.malformed),
                "tolerance": 0,
            },
        }

    # ---- per-row truth files (string columns) ------------------------------------------------
    def opportunity_columns(self) -> tuple[list[str], list[list[str]]]:
        c = self.c
        d = self.opp_t.data
        header = [
            "opportunity_id",
            "type",
            "account_id",
            "owner_id",
            "segment",
            "region",
            "lead_source",
            "created_date",
            "outcome",
            "latent_outcome",
            "is_malformed",
            "p_win",
            "stakeholders_planned",
            "stakeholders_engaged",
            "critical_event_within_120d",
            "rep_response_hours_planned",
            "response_median_hours",
            "response_bucket",
            "rep_skill",
            "verified_share",
            "buying_job_revisit",
            "stage_regressed",
            "close_date_pushes",
            "natural_close_date",
            "quarter_end_snapped",
        ]
        rows = []
        tf = ("false", "true")
        for o in sorted(c.opps, key=lambda x: x.idx):
            i = o.idx
            if o.deleted:
                outcome = "deleted"
            elif not o.closed:
                outcome = "open"
            else:
                outcome = "won" if o.won else "lost"
            rm = self.resp_opp.get(i)
            rows.append(
                [
                    d["id"][i],
                    o.type,
                    c.w.a_id[o.account],
                    c.w.u_id[o.owner],
                    o.segment,
                    o.region,
                    o.lead_source,
                    o.created,
                    outcome,
                    "" if o.deleted else ("won" if o.won else "lost"),
                    tf[i in self.bad_opp],
                    f"{o.p_win:.6f}",
                    str(len(o.stakeholders)),
                    str(self.stakeholders.get(i, 0)),
                    tf[o.ce_kind == "within"],
                    f"{o.resp_hours:.3f}",
                    "" if rm is None else f"{rm:.3f}",
                    self.response_bucket(i),
                    f"{o.skill:.4f}",
                    f"{self.verified_share(i):.6f}",
                    tf[o.revisited],
                    tf[o.stage_regressed],
                    str(o.pushes),
                    o.natural_close_ts // DAY if o.natural_close_ts else None,
                    tf[o.snapped],
                ]
            )
        cols = [list(x) for x in zip(*rows)]
        cols[7] = fmt_ts(cols[7])
        nat = cols[23]
        idx = [j for j, v in enumerate(nat) if v is not None]
        f = fmt_date([nat[j] for j in idx])
        cols[23] = [""] * len(nat)
        for j, v in zip(idx, f):
            cols[23][j] = v
        return header, cols

    def verifier_columns(self) -> tuple[list[str], list[list[str]]]:
        c = self.c
        d = self.opp_t.data
        header = ["opportunity_id", "verifier_key", "status", "at", "crm_visible"]
        oid, key, st, at, visc = [], [], [], [], []
        for o in sorted(c.opps, key=lambda x: x.idx):
            if o.deleted:
                continue
            cur: dict[str, int | None] = {}
            for ts, vi, s in o.ver_ev:
                if ts > AS_OF_TS:
                    continue
                v = c.proc.verifiers[vi]
                if v.crm_source == "field":
                    if s == dl.STARTED:
                        vis = False
                    else:
                        new = ts // DAY if s == dl.VERIFIED else None
                        vis = new != cur.get(v.crm_field)
                        cur[v.crm_field] = new
                else:
                    vis = True
                oid.append(d["id"][o.idx])
                key.append(v.key)
                st.append(dl.STATUS_NAMES[s])
                at.append(ts)
                visc.append("true" if vis else "false")
        return header, [oid, key, st, fmt_ts(at), visc]

    ACTIVITY_HEADER: tuple[str, ...] = (
        "activity_key",
        "kind",
        "opportunity_id",
        "account_id",
        "occurred_at",
        "thread_key",
        "status",
        "is_malformed",
    )

    def activity_chunks(self, chunk: int = 200_000):
        """String columns of ground_truth/activity_truth.csv, in chunks (e-mails, then meetings)."""
        c = self.c
        em, th = c.em, c.em.threads
        d = self.opp_t.data
        acc_ids = c.w.a_id
        opp_ids = d["id"]
        t_opp = [opp_ids[o] if o >= 0 else "" for o in th.opp]
        t_acc = [acc_ids[a] if a >= 0 else "" for a in th.account]
        mid = em.msgid
        bad = c.malformed_msg
        n = len(em)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            tl = em.thread[a:b].tolist()
            k = b - a
            yield [
                mid[a:b],
                ["email"] * k,
                [t_opp[t] for t in tl],
                [t_acc[t] for t in tl],
                fmt_ts(em.time[a:b]),
                [mid[f] for f in em.first[a:b].tolist()],
                [""] * k,
                ["true" if i in bad else "false" for i in range(a, b)],
            ]
        key, kind, opp, acc, ts, thread, status = [], [], [], [], [], [], []
        for m in c.meetings:
            oid = opp_ids[m.opp] if m.opp >= 0 else ""
            aid = acc_ids[m.account] if m.account >= 0 else ""
            for _, orig, start, st in m.occurrences():
                if m.all_day:
                    ts.append((start.toordinal() - 719163) * DAY)
                else:
                    ts.append(local_to_utc(start, m.tz))
                key.append(occurrence_key(m, orig) if not m.all_day else m.uid)
                kind.append("meeting")
                opp.append(oid)
                acc.append(aid)
                thread.append(m.uid)
                status.append(st)
        if key:
            yield [key, kind, opp, acc, fmt_ts(ts), thread, status, ["false"] * len(key)]


def _yq(ts: int) -> tuple[int, int]:
    d = date_of_day(ts // DAY)
    return d.year, (d.month - 1) // 3 + 1


def _count(it) -> dict:
    out: dict = {}
    for x in it:
        out[x] = out.get(x, 0) + 1
    return out


def _monotone(xs: list) -> bool:
    xs = [x for x in xs if x is not None]
    return all(a <= b for a, b in itertools.pairwise(xs))
