"""Opportunities: latent drivers, outcomes, stage / verifier / close-date / amount histories.

Everything here is the *truth*; crm.py turns it into Salesforce-shaped records.
Times are epoch seconds (UTC); simulation works in days relative to the creation instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import vocab
from .constants import AS_OF_DAY, HISTORY_START_DAY
from .rand import Rand
from .seeds import SalesProcess
from .timeutil import DAY, HOUR, civil, date_of_day, day_of
from .world import SEGMENT_WEIGHT, World

STARTED, VERIFIED, REGRESSED = 0, 1, 2
STATUS_NAMES = ("started", "verified", "regressed")
AS_OF_TS = AS_OF_DAY * DAY

# ---- planted parameters (all written to the ground truth) -------------------------------------
N_NEW_BUSINESS_PER_SCALE = 1450
CREATION_MONTH_WEIGHT = (1.0, 1.05, 1.1, 1.0, 1.0, 0.9, 0.75, 0.75, 1.05, 1.15, 1.15, 0.8)
CREATION_GROWTH_PER_YEAR = 1.25
LEAD_SOURCE_PROBS = {  # by segment, order of vocab.LEAD_SOURCES
    "SMB": (0.40, 0.20, 0.10, 0.12, 0.18),
    "Mid-Market": (0.30, 0.27, 0.14, 0.12, 0.17),
    "Enterprise": (0.18, 0.35, 0.17, 0.12, 0.18),
}
STAKEHOLDER_K = {  # P(k=1), then k uniform on [2, max]
    "SMB": (0.42, 3),
    "Mid-Market": (0.28, 5),
    "Enterprise": (0.18, 7),
}
CRITICAL_EVENT_PROBS = (0.35, 0.25, 0.40)  # within 120 days / further out / none
WIN_LOGIT = {
    "intercept": {"New Business": -2.05, "Expansion": -0.8},
    "segment": {"SMB": 0.35, "Mid-Market": 0.0, "Enterprise": -0.45},
    "lead_source": {
        "Inbound": 0.0,
        "Outbound": -0.65,
        "Partner": 0.35,
        "Referral": 0.8,
        "Event": -0.2,
    },
    "stakeholders_ge_2": 1.7,
    "critical_event_within_120d": 1.0,
    "rep_response_over_24h": -1.1,
    "log_rep_skill": 0.6,
    "natural_close_quarter": {"Q1": 0.0, "Q2": 0.0, "Q3": -0.3, "Q4": 0.6},
}
VERIFIER_CYCLE_DAYS = {"SMB": 5.0, "Mid-Market": 9.0, "Enterprise": 15.0}  # / rep skill
CRITICAL_EVENT_SPEEDUP = 0.75
P_TAKE_REQUIRED, P_TAKE_OPTIONAL = 0.97, 0.82  # verifier weight >= 1 is "required"
LOSS_DEPTH_DECAY = 0.8
P_REVISIT = 0.30  # buyer revisits an earlier buying job: a verified verifier regresses, is redone
P_DECAY_REGRESS = 0.25  # lost deal: a verified verifier regresses before the loss
P_STAGE_SKIP = 0.10  # per stage advance: the rep skips the update (next advance jumps stages)
P_STAGE_REGRESS = 0.15  # per deal with >= 2 advances: stage moves back one, then returns
P_SNAP = {
    "Q1": 0.33,
    "Q2": 0.33,
    "Q3": 0.33,
    "Q4": 0.5,
}  # won: signed in the quarter's last 10 days
SNAP_WINDOW_DAYS = 10
AMOUNT_MEDIAN = {"SMB": 14_000, "Mid-Market": 48_000, "Enterprise": 150_000}
P_AMOUNT_CHANGE = (0.35, 0.10)  # one change, a second one
CLOSE_DATE_OPTIMISM = (0.45, 0.95)  # first close date = created + true length x U(a, b)
P_STALE_OPEN = 0.06  # open deal whose close date is left in the past
P_CHURN = {"SMB": 0.20, "Mid-Market": 0.12, "Enterprise": 0.07}
P_EXPANSION = {"SMB": 0.20, "Mid-Market": 0.35, "Enterprise": 0.50}
EXPANSION_CYCLE_FACTOR = 0.6
P_DELETED_DUPLICATE = 0.012
MIN_DELETED_DUPLICATES = 2
P_SE = {"SMB": 0.3, "Mid-Market": 0.8, "Enterprise": 1.0}


def params() -> dict:
    return {
        k: v
        for k, v in globals().items()
        if k.isupper()
        and not k.startswith("_")
        and k not in ("STARTED", "VERIFIED", "REGRESSED", "STATUS_NAMES", "AS_OF_TS")
    }


@dataclass(slots=True)
class Opp:
    idx: int
    type: str
    account: int
    owner: int
    created: int
    segment: str
    region: str
    lead_source: str
    amount0: float = 0.0
    se: int = -1
    stakeholders: list[int] = field(default_factory=list)
    partner_contact: int = -1
    ce_kind: str = "none"
    ce_day: int | None = None
    resp_hours: float = 0.0
    skill: float = 1.0
    p_win: float = 0.0
    won: bool = False  # latent outcome (also for deals still open at DEMO_AS_OF)
    close_ts: int = 0  # simulated close instant (may lie after DEMO_AS_OF)
    natural_close_ts: int = 0
    won_path_close_ts: int = 0  # close of the deal's won scenario (before quarter-end snap)
    p_snap: float = 0.0
    nat_in_window: bool = False
    snapped: bool = False
    stage_ev: list[tuple[int, int]] = field(default_factory=list)  # (ts, stage code)
    amount_ev: list[tuple[int, float]] = field(default_factory=list)
    close_ev: list[tuple[int, int]] = field(default_factory=list)  # (ts, close day)
    ver_ev: list[tuple[int, int, int]] = field(default_factory=list)  # (ts, verifier, status)
    job_start: list[int] = field(default_factory=list)
    job_done: list[int] = field(default_factory=list)
    deleted: bool = False
    deleted_ts: int = 0
    duplicate_of: int = -1
    revisit_eligible: bool = False
    revisited: bool = False
    decay_eligible: bool = False
    decayed: bool = False
    stage_reg_eligible: bool = False
    skip_draws: int = 0  # stage updates the rep could have skipped
    stage_regressed: bool = False
    pushes: int = 0
    stale: bool = False
    pain: str = ""
    impact: str = ""
    impact_amount: float = 0.0
    ce_text: str = ""
    decision: str = ""
    reason: str = ""
    parent_opp: int = -1  # renewal/expansion: the new-business deal it follows
    renewal_of_year: int = 0

    @property
    def closed(self) -> bool:
        return (not self.deleted) and self.close_ts <= AS_OF_TS

    @property
    def end_ts(self) -> int:
        return min(self.close_ts, AS_OF_TS)


def quarter_of_ts(ts: int) -> int:
    return (date_of_day(ts // DAY).month - 1) // 3 + 1


def quarter_end_day(ts: int) -> int:
    d = date_of_day(ts // DAY)
    qm = ((d.month - 1) // 3 + 1) * 3
    nxt = date(d.year + 1, 1, 1) if qm == 12 else date(d.year, qm + 1, 1)
    return day_of(nxt) - 1


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class DealSimulator:
    def __init__(self, world: World, process: SalesProcess, scale: float, rng: Rand):
        self.w = world
        self.p = process
        self.scale = scale
        self.rng = rng
        self.opps: list[Opp] = []
        n_acc = len(world.a_name)
        self.acc_busy_until = np.zeros(n_acc, dtype=np.int64)
        self.acc_customer = np.zeros(n_acc, dtype=bool)
        self.acc_customer_since = np.full(n_acc, -1, dtype=np.int64)
        self.acc_churned_at = np.full(n_acc, -1, dtype=np.int64)
        self.n_open = len(process.open_stages)
        self.WON, self.LOST = self.n_open, self.n_open + 1
        self.job_of = [0] * len(process.verifiers)
        for j, vis in enumerate(process.job_verifiers):
            for vi in vis:
                self.job_of[vi] = j

    # ---- top level ------------------------------------------------------------------------
    def run(self) -> list[Opp]:
        rng, w = self.rng, self.w
        n_nb = max(10, round(N_NEW_BUSINESS_PER_SCALE * self.scale))
        created = self._creation_times(n_nb)
        reps = np.array(w.reps)
        wts = np.array([SEGMENT_WEIGHT[w.u_segment[u]] for u in w.reps], dtype=float)
        owners = reps[rng.gen.choice(len(reps), size=n_nb, p=wts / wts.sum())]
        for t, owner in zip(created.tolist(), owners.tolist()):
            a = self._pick_account(owner, t)
            o = self._new_deal("New Business", a, owner, t)
            if o.won and o.closed:
                self._after_sale(o)
            if rng.random() < P_DELETED_DUPLICATE:
                self._deleted_duplicate(o)
        # at every scale a few deleted duplicates exist
        nb = [o for o in self.opps if o.type == "New Business" and not o.deleted]
        n_del = sum(1 for o in self.opps if o.deleted)
        for o in nb[: max(0, MIN_DELETED_DUPLICATES - n_del)]:
            self._deleted_duplicate(o)
        # stable order: by creation time, then index
        self.opps.sort(key=lambda o: (o.created, o.idx))
        return self.opps

    def _creation_times(self, n: int) -> np.ndarray:
        rng = self.rng
        y0, m0, _ = civil(np.array([HISTORY_START_DAY]))
        months = []
        y, m = int(y0[0]), int(m0[0])
        while True:
            start = int(np.datetime64(f"{y:04d}-{m:02d}-01", "D").astype(np.int64))
            if start >= AS_OF_DAY:
                break
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            end = min(
                int(np.datetime64(f"{ny:04d}-{nm:02d}-01", "D").astype(np.int64)), AS_OF_DAY - 2
            )
            years = (start - HISTORY_START_DAY) / 365.25
            months.append(
                (start, end, CREATION_MONTH_WEIGHT[m - 1] * CREATION_GROWTH_PER_YEAR**years)
            )
            y, m = ny, nm
        wts = np.array([x[2] * (x[1] - x[0]) for x in months])
        pick = rng.gen.choice(len(months), size=n, p=wts / wts.sum())
        starts = np.array([x[0] for x in months])[pick]
        ends = np.array([x[1] for x in months])[pick]
        days = starts + np.floor(rng.gen.random(n) * (ends - starts)).astype(np.int64)
        # business hours, roughly 13:00-22:00 UTC (mornings in the Americas, afternoons in Europe)
        secs = days * DAY + rng.gen.integers(12 * HOUR, 22 * HOUR, size=n)
        return np.sort(secs, kind="stable")

    def _pick_account(self, owner: int, t: int) -> int:
        accs = self.w.rep_accounts[owner]
        rng = self.rng
        for _ in range(12):
            a = accs[int(rng.integers(len(accs)))]
            if not self.acc_customer[a] and self.acc_busy_until[a] < t:
                return a
        free = [a for a in accs if not self.acc_customer[a] and self.acc_busy_until[a] < t]
        if free:
            return free[int(rng.integers(len(free)))]
        prospects = [a for a in accs if not self.acc_customer[a]]
        pool = prospects or accs
        return pool[int(rng.integers(len(pool)))]

    # ---- one deal (new business or expansion) ---------------------------------------------------
    def _new_deal(
        self,
        typ: str,
        a: int,
        owner: int,
        t: int,
        parent: int = -1,
        base_amount: float | None = None,
    ) -> Opp:
        rng, w, p = self.rng, self.w, self.p
        seg, region = w.a_segment[a], w.a_region[a]
        ls = vocab.LEAD_SOURCES[rng.choice(5, LEAD_SOURCE_PROBS[seg])]
        if typ == "Expansion":
            ls = (
                "Referral"
                if rng.random() < 0.3
                else "Inbound"
                if rng.random() < 0.5
                else "Outbound"
            )
        o = Opp(
            idx=len(self.opps),
            type=typ,
            account=a,
            owner=owner,
            created=int(t),
            segment=seg,
            region=region,
            lead_source=ls,
            parent_opp=parent,
        )
        self.opps.append(o)
        o.skill = float(w.skill[owner])
        # stakeholders the deal will engage (distinct people on the buyer side)
        p1, kmax = STAKEHOLDER_K[seg]
        k = 1 if rng.random() < p1 else int(rng.integers(2, kmax + 1))
        contacts = w.a_contacts[a]
        k = min(k, len(contacts))
        order = sorted(contacts, key=lambda c: (w.c_persona[c] != 1, rng.random()))
        o.stakeholders = order[:k]
        if ls == "Partner":
            pa = int(rng.integers(len(w.partner_contacts)))
            pcs = w.partner_contacts[pa]
            o.partner_contact = pcs[int(rng.integers(len(pcs)))]
        if rng.random() < P_SE[seg] and w.ses:
            same = [s for s in w.ses if w.u_region[s] == region] or w.ses
            o.se = same[int(rng.integers(len(same)))]
        # critical event
        r = rng.random()
        created_day = o.created // DAY
        if r < CRITICAL_EVENT_PROBS[0]:
            o.ce_kind, o.ce_day = "within", created_day + int(rng.integers(20, 121))
        elif r < CRITICAL_EVENT_PROBS[0] + CRITICAL_EVENT_PROBS[1]:
            o.ce_kind, o.ce_day = "far", created_day + int(rng.integers(150, 420))
        if o.ce_day is not None:
            o.ce_text = vocab.CRITICAL_EVENTS[int(rng.integers(len(vocab.CRITICAL_EVENTS)))]
        o.resp_hours = float(w.resp_base[owner] * rng.lognormal(0.0, 0.45))
        # full path as if the deal were won
        cyc = VERIFIER_CYCLE_DAYS[seg] / o.skill
        if o.ce_kind == "within":
            cyc *= CRITICAL_EVENT_SPEEDUP
        if typ == "Expansion":
            cyc *= EXPANSION_CYCLE_FACTOR
        ev0, js0, jd0 = self._full_path(cyc)
        n_jobs = len(p.jobs)
        # the won scenario (with a possible revisit) gives the natural close
        ev, job_start, job_done, end_d, rv = self._maybe_revisit(
            list(ev0),
            list(js0),
            list(jd0),
            max(jd0 + [e[0] for e in ev0]) + rng.uniform(2.0, 10.0),
            cyc,
        )
        nat_ts = o.created + int(end_d * DAY)
        o.won_path_close_ts = nat_ts
        q = quarter_of_ts(nat_ts)
        lg = (
            WIN_LOGIT["intercept"][typ]
            + WIN_LOGIT["segment"][seg]
            + WIN_LOGIT["lead_source"][ls]
            + (WIN_LOGIT["stakeholders_ge_2"] if k >= 2 else 0.0)
            + (WIN_LOGIT["critical_event_within_120d"] if o.ce_kind == "within" else 0.0)
            + (WIN_LOGIT["rep_response_over_24h"] if o.resp_hours > 24.0 else 0.0)
            + WIN_LOGIT["log_rep_skill"] * math.log(o.skill)
            + WIN_LOGIT["natural_close_quarter"][f"Q{q}"]
        )
        o.p_win = sigmoid(lg)
        o.won = bool(rng.random() < o.p_win)
        if o.won:
            o.natural_close_ts = nat_ts
            o.revisit_eligible, o.revisited = rv
        else:
            wts = np.array([LOSS_DEPTH_DECAY**i for i in range(n_jobs)])
            d = rng.choice(n_jobs, wts.tolist())
            span = max(0.5, jd0[d] - js0[d])
            end_d = js0[d] + span * rng.uniform(0.3, 1.1) + rng.exponential(0.3 * cyc) + 0.5
            ev, job_start, job_done, end_d, rv = self._maybe_revisit(
                [e for e in ev0 if e[0] < end_d], list(js0), list(jd0), end_d, cyc
            )
            o.revisit_eligible, o.revisited = rv
            o.natural_close_ts = o.created + int(end_d * DAY)
        completed = sorted(x for x in job_done if x < end_d)
        if not o.won:
            ver = [e for e in ev if e[2] == VERIFIED]
            if ver:
                o.decay_eligible = True
                if rng.random() < P_DECAY_REGRESS:
                    o.decayed = True
                    _, vi, _ = ver[int(rng.integers(len(ver)))]
                    last = max(x for x, v, s in ev if v == vi)
                    tx = last + (end_d - last) * rng.uniform(0.2, 0.9)
                    ev.append((tx, vi, REGRESSED))
        ev.sort(key=lambda e: (e[0], e[1], e[2]))
        close_ts = o.created + int(end_d * DAY)
        if o.won:
            q = quarter_of_ts(close_ts)
            o.p_snap = P_SNAP[f"Q{q}"]
            qe = quarter_end_day(close_ts)
            o.nat_in_window = close_ts // DAY > qe - SNAP_WINDOW_DAYS
            if rng.random() < o.p_snap and not o.nat_in_window:
                o.snapped = True
                lo = qe - SNAP_WINDOW_DAYS + 1
                close_ts = int(lo + rng.integers(0, SNAP_WINDOW_DAYS)) * DAY + int(
                    rng.integers(14 * HOUR, 23 * HOUR)
                )
                close_ts = max(close_ts, o.created + int(end_d * DAY))
        o.close_ts = close_ts
        o.ver_ev = [(o.created + int(x * DAY), v, s) for x, v, s in ev]
        o.job_start = [o.created + int(x * DAY) for x in job_start]
        o.job_done = [o.created + int(x * DAY) for x in job_done]
        self._stage_path(o, [o.created + int(x * DAY) for x in completed])
        # amounts
        if base_amount is None:
            amt = AMOUNT_MEDIAN[seg] * rng.lognormal(0.0, 0.45)
        else:
            amt = base_amount * rng.lognormal(0.0, 0.3)
        self._amount_path(o, amt)
        self._close_date_path(o, close_ts)
        self._spiced(o)
        self.acc_busy_until[a] = max(self.acc_busy_until[a], close_ts + 120 * DAY)
        return o

    def _maybe_revisit(self, ev, job_start, job_done, end_d, cyc):
        """Buyer revisits an earlier buying job: one of its verified verifiers regresses and is
        redone (regressed -> started -> verified); everything after shifts later."""
        rng = self.rng
        completed = sorted(x for x in job_done if x < end_d)
        n_done = len(completed)
        verified_jobs = sorted({self.job_of[e[1]] for e in ev if e[2] == VERIFIED})
        if not (n_done >= 2 and verified_jobs and verified_jobs[0] < n_done - 1):
            return ev, job_start, job_done, end_d, (False, False)
        if rng.random() >= P_REVISIT:
            return ev, job_start, job_done, end_d, (True, False)
        cands = [j for j in verified_jobs if j < n_done - 1]
        ji = cands[int(rng.integers(len(cands)))]
        tr = completed[int(rng.integers(ji + 1, n_done))]
        vis = sorted(
            {e[1] for e in ev if e[2] == VERIFIED and self.job_of[e[1]] == ji and e[0] < tr}
        )
        if not vis:
            return ev, job_start, job_done, end_d, (True, False)
        vi = vis[int(rng.integers(len(vis)))]
        dr = cyc * rng.lognormal(0.0, 0.4) + rng.uniform(1.0, 4.0)
        ev = [(x + dr if x > tr else x, v, s) for x, v, s in ev]
        job_done = [x + dr if x > tr else x for x in job_done]
        job_start = [x + dr if x > tr else x for x in job_start]
        end_d += dr
        t1 = tr + 0.05 + rng.uniform(0.0, 0.3)
        t2 = t1 + rng.uniform(0.3, 0.25 * dr + 0.4)
        ev += [(t1, vi, REGRESSED), (t2, vi, STARTED), (tr + dr - 0.05, vi, VERIFIED)]
        return ev, job_start, job_done, end_d, (True, True)

    def _full_path(self, cyc: float):
        rng, p = self.rng, self.p
        ev: list[tuple[float, int, int]] = []
        job_start: list[float] = []
        job_done: list[float] = []
        t = rng.uniform(0.5, 4.0)
        for vis in p.job_verifiers:
            job_start.append(t)
            done = t
            for vi in vis:
                wgt = p.verifiers[vi].weight
                if rng.random() >= (P_TAKE_REQUIRED if wgt >= 1.0 else P_TAKE_OPTIONAL):
                    continue
                s = t + rng.exponential(0.25 * cyc)
                c = cyc * (0.6 + 0.4 * wgt) * rng.lognormal(0.0, 0.35)
                ev.append((s, vi, STARTED))
                ev.append((s + c, vi, VERIFIED))
                done = max(done, s + c)
            job_done.append(done)
            # the next buying job starts before this one is finished (non-linear journey)
            t = t + (done - t) * rng.uniform(0.45, 0.95) + rng.exponential(0.3 * cyc)
        return ev, job_start, job_done

    def _stage_path(self, o: Opp, completed: list[int]) -> None:
        rng, p = self.rng, self.p
        n_jobs = len(p.jobs)
        ev: list[tuple[int, int]] = [(o.created, 0)]
        cur = 0
        adv: list[tuple[int, int]] = []
        for m, tc in enumerate(completed, start=1):
            if tc >= o.close_ts:
                break
            if o.won and m == n_jobs:
                break  # completing the last buying job is the close itself
            target = p.job_stage(m)
            if target <= cur:
                continue
            o.skip_draws += 1
            if rng.random() < P_STAGE_SKIP:
                continue  # rep does not update; the next update jumps over this stage
            t = tc + int(rng.uniform(0.05, 2.0) * DAY)
            nxt = completed[m] if m < len(completed) else o.close_ts
            t = min(t, (tc + nxt) // 2) if nxt > tc else tc
            t = max(t, ev[-1][0] + 60)
            if t >= o.close_ts:
                break
            adv.append((t, target))
            ev.append((t, target))
            cur = target
        if len(adv) >= 2:
            o.stage_reg_eligible = True
            if rng.random() < P_STAGE_REGRESS:
                a = int(rng.integers(1, len(adv)))
                t_a, s_a = adv[a]
                nxt = adv[a + 1][0] if a + 1 < len(adv) else o.close_ts
                if nxt - t_a > 4 * 3600 and s_a >= 1:
                    o.stage_regressed = True
                    tr = t_a + int((nxt - t_a) * rng.uniform(0.2, 0.5))
                    tb = tr + int((nxt - tr) * rng.uniform(0.3, 0.8))
                    i = ev.index((t_a, s_a))
                    ev[i + 1 : i + 1] = [(tr, s_a - 1), (tb, s_a)]
        ev.append((o.close_ts, self.WON if o.won else self.LOST))
        o.stage_ev = ev

    def _amount_path(self, o: Opp, amt: float) -> None:
        rng = self.rng
        rnd = -3 if o.segment == "Enterprise" else -2
        o.amount0 = float(round(amt, rnd)) or 1000.0
        o.amount_ev = [(o.created, o.amount0)]
        n = 0
        r = rng.random()
        if r < P_AMOUNT_CHANGE[0]:
            n = 1 if rng.random() > P_AMOUNT_CHANGE[1] / P_AMOUNT_CHANGE[0] else 2
        span = o.close_ts - o.created
        times = sorted(o.created + int(span * rng.uniform(0.1, 0.95)) for _ in range(n))
        cur = o.amount0
        for t in times:
            new = float(round(cur * rng.uniform(0.7, 1.3), rnd)) or cur
            if new != cur and t > o.amount_ev[-1][0]:
                o.amount_ev.append((t, new))
                cur = new

    def _close_date_path(self, o: Opp, true_close_ts: int) -> None:
        rng = self.rng
        length = max(7.0, (true_close_ts - o.created) / DAY)
        cd = o.created // DAY + max(14, int(length * rng.uniform(*CLOSE_DATE_OPTIMISM)))
        ev = [(o.created, cd)]
        end = min(o.close_ts, AS_OF_TS)
        o.stale = o.close_ts > AS_OF_TS and rng.random() < P_STALE_OPEN
        t = (cd + int(rng.integers(1, 8))) * DAY + int(rng.integers(14 * HOUR, 22 * HOUR))
        while t < end:
            if o.stale and o.pushes >= 1:
                break
            new = t // DAY + int(rng.integers(14, 76))
            ev.append((t, new))
            o.pushes += 1
            cd = new
            t = (cd + int(rng.integers(1, 8))) * DAY + int(rng.integers(14 * HOUR, 22 * HOUR))
        if o.close_ts <= AS_OF_TS and cd != o.close_ts // DAY:
            ev.append((o.close_ts, o.close_ts // DAY))
        o.close_ev = ev

    def _spiced(self, o: Opp) -> None:
        rng = self.rng
        o.pain = vocab.PAIN_CATEGORIES[int(rng.integers(len(vocab.PAIN_CATEGORIES)))]
        o.impact = vocab.IMPACTS[int(rng.integers(len(vocab.IMPACTS)))]
        o.impact_amount = float(round(o.amount0 * rng.uniform(2.0, 6.0), -3))
        o.decision = vocab.DECISION_CRITERIA[int(rng.integers(len(vocab.DECISION_CRITERIA)))]
        if o.won:
            o.reason = vocab.WON_REASONS[int(rng.integers(len(vocab.WON_REASONS)))]
        elif o.type == "Renewal":
            o.reason = vocab.CHURN_REASONS[int(rng.integers(len(vocab.CHURN_REASONS)))]
        else:
            wts = np.array([3.0 if len(o.stakeholders) < 2 else 1.5, 1.5, 1.0, 1.0, 0.7])
            o.reason = vocab.LOST_REASONS[rng.choice(5, wts.tolist())]

    # ---- after the sale: renewals (churn) and expansions ---------------------------------------
    def _after_sale(self, nb: Opp) -> None:
        rng, w = self.rng, self.w
        a = nb.account
        self.acc_customer[a] = True
        self.acc_customer_since[a] = nb.close_ts
        arr = nb.amount_ev[-1][1]
        churn_ts = None
        renew_day = nb.close_ts // DAY + 365
        year = 1
        while renew_day - 100 < AS_OF_DAY - 1:
            created_day = renew_day - int(rng.integers(70, 101))
            if created_day >= AS_OF_DAY - 1:
                break
            created = created_day * DAY + int(rng.integers(13 * HOUR, 22 * HOUR))
            o = self._renewal(nb, created, renew_day, arr, year)
            if o.close_ts > AS_OF_TS:
                break
            if not o.won:
                churn_ts = o.close_ts
                self.acc_churned_at[a] = churn_ts
                break
            arr = o.amount_ev[-1][1]
            renew_day += 365
            year += 1
        if rng.random() < P_EXPANSION[nb.segment]:
            t = nb.close_ts + int(rng.integers(60, 301)) * DAY
            if t < AS_OF_TS - 3 * DAY and (churn_ts is None or t < churn_ts - 30 * DAY):
                self._new_deal(
                    "Expansion", a, w.a_owner[a], t, parent=nb.idx, base_amount=0.35 * arr
                )

    def _renewal(self, nb: Opp, created: int, renew_day: int, arr: float, year: int) -> Opp:
        rng, w = self.rng, self.w
        a = nb.account
        o = Opp(
            idx=len(self.opps),
            type="Renewal",
            account=a,
            owner=w.a_owner[a],
            created=created,
            segment=nb.segment,
            region=nb.region,
            lead_source="Existing Customer",
            parent_opp=nb.idx,
            renewal_of_year=year,
        )
        self.opps.append(o)
        o.skill = float(w.skill[o.owner])
        contacts = w.a_contacts[a]
        k = min(len(contacts), int(rng.integers(1, 4)))
        o.stakeholders = sorted(contacts, key=lambda c: (w.c_persona[c] != 1, rng.random()))[:k]
        o.resp_hours = float(w.resp_base[o.owner] * rng.lognormal(0.0, 0.45))
        o.p_win = 1.0 - P_CHURN[nb.segment]
        o.won = bool(rng.random() < o.p_win)
        close_day = renew_day + round(rng.normal(0.0, 8.0))
        o.close_ts = close_day * DAY + int(rng.integers(14 * HOUR, 23 * HOUR))
        o.natural_close_ts = o.close_ts
        n_open = self.n_open
        span = o.close_ts - created
        ev = [(created, 0)]
        if n_open >= 3:
            ev.append((created + int(span * rng.uniform(0.2, 0.4)), n_open - 2))
        if n_open >= 2:
            ev.append((created + int(span * rng.uniform(0.6, 0.85)), n_open - 1))
        ev.append((o.close_ts, self.WON if o.won else self.LOST))
        o.stage_ev = ev
        amt = float(round(arr * rng.uniform(1.0, 1.08), -2))
        o.amount0 = amt
        o.amount_ev = [(created, amt)]
        if rng.random() < 0.2:
            o.amount_ev.append(
                (
                    created + int(span * rng.uniform(0.3, 0.9)),
                    float(round(amt * rng.uniform(0.85, 1.1), -2)),
                )
            )
        o.close_ev = [(created, renew_day)]
        if o.close_ts <= AS_OF_TS and close_day != renew_day:
            o.close_ev.append((o.close_ts, close_day))
            if close_day > renew_day:
                o.pushes = 1
        self._spiced(o)
        return o

    def _deleted_duplicate(self, orig: Opp) -> None:
        rng = self.rng
        o = Opp(
            idx=len(self.opps),
            type=orig.type,
            account=orig.account,
            owner=orig.owner,
            created=orig.created + int(rng.integers(60, 3600)),
            segment=orig.segment,
            region=orig.region,
            lead_source=orig.lead_source,
        )
        o.deleted = True
        o.duplicate_of = orig.idx
        o.deleted_ts = o.created + int(rng.integers(HOUR, 72 * HOUR))
        o.close_ts = orig.close_ev[0][1] * DAY
        o.stage_ev = [(o.created, 0)]
        o.amount0 = orig.amount0
        o.amount_ev = [(o.created, orig.amount0)]
        o.close_ev = [(o.created, orig.close_ev[0][1])]
        o.pain = orig.pain
        self.opps.append(o)
