"""Salesforce-shaped tables (Fivetran names) built from the simulated truth.

Tables are column-oriented with typed values (epoch seconds for timestamps, day numbers for
dates, float, int, bool, str, None); writers format them. Malformed cells are raw strings kept
apart (``Table.malformed``) and written in place of the typed value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import vocab
from .activity import K_DEAL, Emails, Meeting, People
from .constants import AS_OF_DAY, CURRENCY
from .contract_cols import salesforce_contract
from .deals import REGRESSED, STARTED, VERIFIED, Opp
from .ids import sf_ids
from .leads import Leads
from .rand import Rand
from .seeds import SalesProcess
from .timeutil import DAY, HOUR, date_of_day, local_to_utc
from .world import World

AS_OF_TS = AS_OF_DAY * DAY
TASK_CALLS_PER_DAY = 1 / 12
P_EMAIL_LOGGED = 0.15
P_MEETING_LOGGED = 0.6


@dataclass
class Table:
    name: str
    columns: list[str]
    types: list[str]
    data: dict[str, list]
    malformed: dict[int, dict[str, str]] = field(default_factory=dict)  # row -> {col: raw text}
    malformed_reason: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.data[self.columns[0]]) if self.columns else 0


def make_table(name: str, data: dict[str, list], extra: dict[str, str] | None = None) -> Table:
    contract = salesforce_contract()[name]
    cols = list(contract.columns)
    types = [contract.columns[c] for c in cols]
    for c, t in (extra or {}).items():
        if c not in contract.columns:
            cols.append(c)
            types.append(t)
    n = max((len(v) for v in data.values()), default=0)
    full = {}
    for c in cols:
        v = data.get(c)
        if v is None:
            full[c] = [None] * n
        else:
            if len(v) != n:
                raise ValueError(f"{name}.{c}: {len(v)} values, expected {n}")
            full[c] = v
    unknown = set(data) - set(cols)
    if unknown:
        raise ValueError(f"{name}: columns not in the contract: {sorted(unknown)}")
    return Table(name, cols, types, full)


class CrmBuilder:
    def __init__(
        self,
        w: World,
        proc: SalesProcess,
        opps: list[Opp],
        leads: Leads,
        people: People,
        emails: Emails,
        meetings: list[Meeting],
        rng: Rand,
    ):
        self.w, self.proc, self.opps, self.leads = w, proc, opps, leads
        self.people, self.emails, self.meetings, self.rng = people, emails, meetings, rng
        _ids = sf_ids("opportunity", 1, len(opps))
        self.opp_id = {o.idx: _ids[o.idx] for o in opps}
        self.stages = proc.stages  # open..., won, lost (codes = index)
        self.field_cols = proc.field_columns
        self.tables: dict[str, Table] = {}
        self.opp_final: dict[int, dict] = {}

    def build(self) -> dict[str, Table]:
        self._user_role()
        self._user()
        self._account()
        self._contact()
        self._lead()
        self._opportunity()
        self._contact_roles()
        self._task()
        self._event()
        return self.tables

    # ---- org -----------------------------------------------------------------------------------
    def _user_role(self) -> None:
        w = self.w
        ids = sf_ids("user_role", 1, len(w.roles))
        self.role_ids = ids
        self.tables["user_role"] = make_table(
            "user_role",
            {
                "id": ids,
                "name": [r["name"] for r in w.roles],
                "developer_name": [r["developer_name"] for r in w.roles],
                "parent_role_id": [
                    ids[r["parent"]] if r["parent"] is not None else None for r in w.roles
                ],
                "created_date": [r["created"] for r in w.roles],
                "system_modstamp": [r["created"] + 3600 for r in w.roles],
                "is_deleted": [False] * len(w.roles),
            },
        )

    def _user(self) -> None:
        w = self.w
        n = len(w.u_id)
        self.tables["user"] = make_table(
            "user",
            {
                "id": list(w.u_id),
                "name": [w.user_name(u) for u in range(n)],
                "first_name": list(w.u_first),
                "last_name": list(w.u_last),
                "email": list(w.u_email),
                "title": list(w.u_title),
                "user_role_id": [self.role_ids[r] for r in w.u_role],
                "manager_id": [w.u_id[m] if m >= 0 else None for m in w.u_manager],
                "is_active": [True] * n,
                "segment_c": [s or None for s in w.u_segment],
                "region_c": list(w.u_region),
                "quota_amount_c": list(w.u_quota),
                "created_date": list(w.u_created),
                "system_modstamp": [t + 7 * DAY for t in w.u_created],
                "is_deleted": [False] * n,
            },
        )

    def _account(self) -> None:
        w = self.w
        n = len(w.a_id)
        since: dict[int, int] = {}
        churn: dict[int, int] = {}
        for o in self.opps:
            if o.deleted or not o.closed:
                continue
            if o.type == "New Business" and o.won:
                since[o.account] = o.close_ts
            if o.type == "Renewal" and not o.won:
                churn[o.account] = o.close_ts
        types, mod = [], []
        for a in range(n):
            if w.a_is_partner[a]:
                types.append("Partner")
            elif a in churn:
                types.append("Former Customer")
            elif a in since:
                types.append("Customer")
            else:
                types.append("Prospect")
            mod.append(max(w.a_created[a], since.get(a, 0), churn.get(a, 0)) + 600)
        self.customer_since, self.churned_at = since, churn
        self.tables["account"] = make_table(
            "account",
            {
                "id": list(w.a_id),
                "name": list(w.a_name),
                "website": [f"https://www.{d}" for d in w.a_domain],
                "industry": list(w.a_industry),
                "number_of_employees": list(w.a_employees),
                "annual_revenue": list(w.a_revenue),
                "billing_country": list(w.a_country),
                "segment_c": [s or None for s in w.a_segment],
                "region_c": list(w.a_region),
                "type": types,
                "owner_id": [w.u_id[u] for u in w.a_owner],
                "parent_id": [w.a_id[p] if p >= 0 else None for p in w.a_parent],
                "created_date": list(w.a_created),
                "system_modstamp": mod,
                "is_deleted": [False] * n,
            },
        )

    def _contact(self) -> None:
        w = self.w
        n = len(w.c_id)
        mod = []
        for c in range(n):
            t = w.c_created[c] + 3600
            if w.c_deleted[c]:
                t = w.c_created[c] + 20 * DAY
            mod.append(min(t, AS_OF_TS - 60))
        self.tables["contact"] = make_table(
            "contact",
            {
                "id": list(w.c_id),
                "account_id": [w.a_id[a] for a in w.c_account],
                "first_name": list(w.c_first),
                "last_name": list(w.c_last),
                "name": [w.contact_name(c) for c in range(n)],
                "email": list(w.c_email),
                "title": list(w.c_title),
                "lead_source": list(w.c_lead_source),
                "owner_id": [w.u_id[w.a_owner[a]] for a in w.c_account],
                "master_record_id": [w.c_id[m] if m >= 0 else None for m in w.c_master],
                "created_date": [min(t, AS_OF_TS - 3600) for t in w.c_created],
                "system_modstamp": mod,
                "is_deleted": list(w.c_deleted),
            },
        )

    def _lead(self) -> None:
        w, L = self.w, self.leads
        n = len(L)
        conv = [L.converted_opp[i] >= 0 for i in range(n)]
        opp_by_idx = {o.idx: o for o in self.opps}
        self.tables["lead"] = make_table(
            "lead",
            {
                "id": sf_ids("lead", 1, n),
                "first_name": list(L.first),
                "last_name": list(L.last),
                "name": [f"{a} {b}" for a, b in zip(L.first, L.last)],
                "company": list(L.company),
                "email": list(L.email),
                "lead_source": list(L.source),
                "status": list(L.status),
                "is_converted": conv,
                "converted_date": [
                    opp_by_idx[L.converted_opp[i]].created // DAY if conv[i] else None
                    for i in range(n)
                ],
                "converted_account_id": [
                    w.a_id[opp_by_idx[L.converted_opp[i]].account] if conv[i] else None
                    for i in range(n)
                ],
                "converted_contact_id": [
                    w.c_id[L.converted_contact[i]] if conv[i] else None for i in range(n)
                ],
                "converted_opportunity_id": [
                    self.opp_id[L.converted_opp[i]] if conv[i] else None for i in range(n)
                ],
                "owner_id": [w.u_id[u] for u in L.owner],
                "created_date": list(L.created),
                "system_modstamp": list(L.modified),
                "is_deleted": [False] * n,
            },
        )

    # ---- opportunities -------------------------------------------------------------------------
    OPP_COLS = (
        "id",
        "name",
        "account_id",
        "owner_id",
        "amount",
        "currency_iso_code",
        "close_date",
        "stage_name",
        "probability",
        "forecast_category",
        "forecast_category_name",
        "is_closed",
        "is_won",
        "lead_source",
        "type",
        "last_modified_date",
        "pain_category_c",
        "impact_c",
        "impact_amount_c",
        "critical_event_c",
        "critical_event_date_c",
        "decision_criteria_c",
        "win_loss_reason_c",
        "created_date",
        "system_modstamp",
        "is_deleted",
    )
    HIST_COLS = (
        "opportunity_id",
        "stage_name",
        "amount",
        "close_date",
        "probability",
        "forecast_category",
        "expected_revenue",
        "created_by_id",
        "created_date",
        "system_modstamp",
        "is_deleted",
    )
    FH_COLS = (
        "opportunity_id",
        "field",
        "data_type",
        "old_value",
        "new_value",
        "created_by_id",
        "created_date",
        "is_deleted",
    )
    VS_COLS = (
        "opportunity_c",
        "verifier_key_c",
        "status_c",
        "status_date_c",
        "created_date",
        "system_modstamp",
        "is_deleted",
    )

    def _opportunity(self) -> None:
        w, proc, rng = self.w, self.proc, self.rng
        stages = self.stages
        st_prob = [round(st.probability * 100, 2) for st in stages]
        opp_rows: list[tuple] = []
        hist: list[tuple] = []
        fh: list[tuple] = []
        vs: list[tuple] = []
        h_app, f_app, v_app = hist.append, fh.append, vs.append
        verifiers = proc.verifiers
        status_name = {STARTED: "started", VERIFIED: "verified", REGRESSED: "regressed"}
        products = vocab.PRODUCTS
        field_cols = self.field_cols
        for o in sorted(self.opps, key=lambda x: x.idx):
            oid = self.opp_id[o.idx]
            owner = w.u_id[o.owner]
            dele = o.deleted
            short = " ".join(w.a_name[o.account].split(" ")[:2])
            if o.type == "Renewal":
                name = f"{short} - Renewal Y{o.renewal_of_year + 1}"
            elif o.type == "Expansion":
                name = f"{short} - Expansion {rng.pick(products)}"
            else:
                name = f"{short} - {rng.pick(products)}"
            # merged change stream up to DEMO_AS_OF
            evs = (
                [(t, 0, v) for t, v in o.stage_ev if t <= AS_OF_TS]
                + [(t, 1, v) for t, v in o.amount_ev if t <= AS_OF_TS]
                + [(t, 2, v) for t, v in o.close_ev if t <= AS_OF_TS]
            )
            evs.sort(key=lambda e: (e[0], e[1]))
            state = [None, None, None]
            last_ts = o.created
            i = 0
            n = len(evs)
            first = True
            while i < n:
                ts = evs[i][0]
                b0, b1, b2 = state
                while i < n and evs[i][0] == ts:
                    state[evs[i][1]] = evs[i][2]
                    i += 1
                s0, s1, s2 = state
                st = stages[s0]
                h_app(
                    (
                        oid,
                        st.name,
                        s1,
                        s2,
                        st_prob[s0],
                        st.forecast_category_api,
                        round(s1 * st.probability, 2),
                        owner,
                        ts,
                        ts,
                        dele,
                    )
                )
                if first:
                    f_app((oid, "created", "Text", None, None, owner, ts, dele))
                    first = False
                else:
                    if b0 != s0:
                        f_app(
                            (
                                oid,
                                "stage_name",
                                "Picklist",
                                stages[b0].name,
                                st.name,
                                owner,
                                ts,
                                dele,
                            )
                        )
                    if b1 != s1:
                        f_app((oid, "amount", "Currency", _num(b1), _num(s1), owner, ts, dele))
                    if b2 != s2:
                        f_app((oid, "close_date", "Date", _iso(b2), _iso(s2), owner, ts, dele))
                last_ts = ts
            # verifiers: custom object rows, or date fields with field history
            field_val: dict[str, int | None] = {c: None for c in field_cols}
            lags = None
            for j, (ts, vi, s) in enumerate(o.ver_ev):
                if ts > AS_OF_TS:
                    continue
                v = verifiers[vi]
                if v.crm_source == "field":
                    cur = field_val[v.crm_field]
                    if s == VERIFIED:
                        new = ts // DAY
                    elif s == REGRESSED:
                        new = None
                    else:
                        continue
                    if new == cur:
                        continue
                    f_app((oid, v.crm_field, "Date", _iso(cur), _iso(new), owner, ts, dele))
                    field_val[v.crm_field] = new
                    last_ts = max(last_ts, ts)
                else:
                    if lags is None:
                        lags = (
                            (rng.gen.random(len(o.ver_ev)) * (6 * HOUR)).astype(np.int64).tolist()
                        )
                    lag = min(lags[j], AS_OF_TS - ts)
                    v_app((oid, v.key, status_name[s], ts, ts + lag, ts + lag, dele))
            st = stages[state[0]]
            if dele:
                last_ts = o.deleted_ts
            opp_rows.append(
                (
                    oid,
                    name,
                    w.a_id[o.account],
                    owner,
                    state[1],
                    CURRENCY,
                    state[2],
                    st.name,
                    st_prob[state[0]],
                    st.forecast_category_api,
                    st.forecast_category,
                    st.is_closed,
                    st.is_won,
                    o.lead_source,
                    o.type,
                    last_ts,
                    o.pain or None,
                    o.impact or None,
                    o.impact_amount or None,
                    o.ce_text or None,
                    o.ce_day,
                    o.decision or None,
                    o.reason if st.is_closed else None,
                    o.created,
                    last_ts,
                    dele,
                    *[field_val[c] for c in field_cols],
                )
            )
            self.opp_final[o.idx] = {
                "stage": state[0],
                "amount": state[1],
                "close_day": state[2],
                "fields": dict(field_val),
            }

        def cols(names, rows):
            if not rows:
                return {c: [] for c in names}
            return {c: list(v) for c, v in zip(names, zip(*rows))}

        extra = {c: "date" for c in field_cols}
        self.tables["opportunity"] = make_table(
            "opportunity", cols(self.OPP_COLS + tuple(field_cols), opp_rows), extra
        )
        h = cols(self.HIST_COLS, hist)
        h["id"] = sf_ids("opportunity_history", 1, len(hist))
        self.tables["opportunity_history"] = make_table("opportunity_history", h)
        f = cols(self.FH_COLS, fh)
        f["id"] = sf_ids("opportunity_field_history", 1, len(fh))
        self.tables["opportunity_field_history"] = make_table("opportunity_field_history", f)
        v = cols(self.VS_COLS, vs)
        v["id"] = sf_ids("verifier_status_c", 1, len(vs))
        self.tables["verifier_status_c"] = make_table("verifier_status_c", v)

    def _contact_roles(self) -> None:
        w, rng = self.w, self.rng
        cols: dict[str, list] = {
            c: []
            for c in (
                "opportunity_id",
                "contact_id",
                "role",
                "is_primary",
                "created_date",
                "system_modstamp",
                "is_deleted",
            )
        }
        for o in sorted(self.opps, key=lambda x: x.idx):
            if o.deleted:
                continue
            cs = list(o.stakeholders)
            others = [c for c in w.a_contacts[o.account] if c not in cs]
            if others and rng.random() < 0.2:
                cs.append(others[rng.integers(len(others))])
            for j, c in enumerate(cs):
                t = min(o.created + int(rng.uniform(0.0, 10.0) * DAY), AS_OF_TS - 60)
                cols["opportunity_id"].append(self.opp_id[o.idx])
                cols["contact_id"].append(w.c_id[c])
                cols["role"].append(vocab.PERSONAS[w.c_persona[c]][1])
                cols["is_primary"].append(j == 0)
                cols["created_date"].append(t)
                cols["system_modstamp"].append(t)
                cols["is_deleted"].append(False)
        cols["id"] = sf_ids("opportunity_contact_role", 1, len(cols["opportunity_id"]))
        self.tables["opportunity_contact_role"] = make_table("opportunity_contact_role", cols)

    # ---- activities logged in the CRM ----------------------------------------------------------
    def _task(self) -> None:
        w, rng, em, people = self.w, self.rng, self.emails, self.people
        cols: dict[str, list] = {
            c: []
            for c in (
                "who_id",
                "what_id",
                "account_id",
                "owner_id",
                "subject",
                "type",
                "task_subtype",
                "status",
                "activity_date",
                "created_date",
                "system_modstamp",
                "is_deleted",
            )
        }
        opp_by_idx = {o.idx: o for o in self.opps}

        def add(who, what, acc, owner, subject, typ, sub, ts):
            cols["who_id"].append(who)
            cols["what_id"].append(what)
            cols["account_id"].append(acc)
            cols["owner_id"].append(owner)
            cols["subject"].append(subject)
            cols["type"].append(typ)
            cols["task_subtype"].append(sub)
            cols["status"].append("Completed")
            cols["activity_date"].append(ts // DAY)
            cols["created_date"].append(ts)
            cols["system_modstamp"].append(ts)
            cols["is_deleted"].append(False)

        # e-mails the rep logged to the CRM (a sample of rep-sent deal e-mails)
        th = em.threads
        kind = np.frombuffer(th.kind, dtype=np.int8)[em.thread]
        internal = np.array(people.internal)[em.sender]
        sel = np.flatnonzero(
            (kind == K_DEAL)
            & internal
            & (em.time <= AS_OF_TS)
            & (rng.gen.random(len(em)) < P_EMAIL_LOGGED)
        )
        for i, t, s in zip(sel.tolist(), em.time[sel].tolist(), em.sender[sel].tolist()):
            tt = int(em.thread[i])
            o = opp_by_idx[th.opp[tt]]
            buyer = people.contact[th.side_b[tt][0]]
            add(
                w.c_id[buyer] if buyer >= 0 else None,
                self.opp_id[o.idx],
                w.a_id[o.account],
                w.u_id[people.user[s]],
                f"Email: {th.subject(tt)}",
                "Email",
                "Email",
                t,
            )
        # calls (not in mailboxes or calendars)
        for o in sorted(self.opps, key=lambda x: x.idx):
            if o.deleted:
                continue
            span = o.end_ts - o.created
            for _ in range(rng.poisson(span / DAY * TASK_CALLS_PER_DAY)):
                t = o.created + int(rng.random() * span)
                c = o.stakeholders[rng.integers(len(o.stakeholders))]
                add(
                    w.c_id[c],
                    self.opp_id[o.idx],
                    w.a_id[o.account],
                    w.u_id[o.owner],
                    rng.pick(("Call", "Discovery call", "Follow-up call", "Left voicemail")),
                    "Call",
                    "Call",
                    t,
                )
        order = np.argsort(np.array(cols["created_date"], dtype=np.int64), kind="stable").tolist()
        cols = {k: [v[i] for i in order] for k, v in cols.items()}
        n = len(order)
        cols["id"] = sf_ids("task", 1, n)
        dele = [rng.random() < 0.004 for _ in range(n)]
        cols["is_deleted"] = dele
        cols["system_modstamp"] = [
            t + (2 * DAY if d else 0) for t, d in zip(cols["system_modstamp"], dele)
        ]
        cols["system_modstamp"] = [min(t, AS_OF_TS) for t in cols["system_modstamp"]]
        self.tables["task"] = make_table("task", cols)

    def _event(self) -> None:
        w, rng, people = self.w, self.rng, self.people
        cols: dict[str, list] = {
            c: []
            for c in (
                "who_id",
                "what_id",
                "account_id",
                "owner_id",
                "subject",
                "type",
                "start_date_time",
                "end_date_time",
                "duration_in_minutes",
                "created_date",
                "system_modstamp",
                "is_deleted",
            )
        }
        for m in self.meetings:
            if m.kind not in ("deal", "account"):
                continue
            owner = (
                m.organizer
                if people.internal[m.organizer]
                else next((p for p, _, _ in m.attendees if people.internal[p]), -1)
            )
            ext = [
                p for p, _, _ in m.attendees if people.contact[p] >= 0 and not people.internal[p]
            ]
            if not people.internal[m.organizer] and people.contact[m.organizer] >= 0:
                ext.insert(0, m.organizer)
            for _, orig, start, status in m.occurrences():
                if status == "CANCELLED":
                    continue
                ts = local_to_utc(start, m.tz)
                if ts > AS_OF_TS or rng.random() >= P_MEETING_LOGGED:
                    continue
                what = self.opp_id[m.opp] if m.opp >= 0 else w.a_id[m.account]
                cols["who_id"].append(w.c_id[people.contact[ext[0]]] if ext else None)
                cols["what_id"].append(what)
                cols["account_id"].append(w.a_id[m.account] if m.account >= 0 else None)
                cols["owner_id"].append(w.u_id[people.user[owner]] if owner >= 0 else None)
                cols["subject"].append(m.summary)
                cols["type"].append("Meeting")
                cols["start_date_time"].append(ts)
                cols["end_date_time"].append(ts + m.minutes * 60)
                cols["duration_in_minutes"].append(m.minutes)
                created = min(m.created, ts)
                cols["created_date"].append(created)
                cols["system_modstamp"].append(min(max(created, ts + m.minutes * 60), AS_OF_TS))
                cols["is_deleted"].append(False)
        order = np.argsort(
            np.array(cols["start_date_time"], dtype=np.int64), kind="stable"
        ).tolist()
        cols = {k: [v[i] for i in order] for k, v in cols.items()}
        cols["id"] = sf_ids("event", 1, len(order))
        self.tables["event"] = make_table("event", cols)


def _num(x) -> str | None:
    if x is None:
        return None
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"


_ISO: dict[int, str] = {}


def _iso(day) -> str | None:
    if day is None:
        return None
    r = _ISO.get(day)
    if r is None:
        r = _ISO[day] = date_of_day(day).isoformat()
    return r
