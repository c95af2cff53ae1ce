"""Email threads/messages and calendar meetings, with the truth of what each one is about."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, chain

import numpy as np

from . import vocab
from .constants import AS_OF_DAY, COMPANY_DOMAIN, HISTORY_START_DAY
from .deals import Opp
from .leads import Leads
from .rand import Rand
from .seeds import SalesProcess
from .timeutil import DAY, HOUR, local_to_utc, offset_table
from .world import World, local_part

AS_OF_TS = AS_OF_DAY * DAY
K_DEAL, K_ACCOUNT, K_INTERNAL, K_COLD, K_INBOUND, K_PARTNER, K_MALFORMED = range(7)
KIND_NAMES = ("deal", "account", "internal", "cold_outreach", "inbound", "partner", "malformed")

# ---- planted activity parameters -------------------------------------------------------------
THREAD_RATE_PER_DAY = {"SMB": 0.42, "Mid-Market": 0.48, "Enterprise": 0.56}
RENEWAL_THREAD_FACTOR = 0.6
MSG_GEOMETRIC_P = 0.4  # messages per thread = 1 + Geometric(p), at most 12
BUYER_RESPONSE_MEDIAN_HOURS = 18.0  # buyer -> rep reply delay, per-deal lognormal(0, 0.4)
REP_REPLY_SIGMA = 0.6  # per-message lognormal spread around the deal's rep response median
BUYER_REPLY_SIGMA = 0.8
FOLLOW_UP_HOURS = (40.0, 120.0)  # same side writes again
P_FLIP_DEAL = 0.92
INTERNAL_THREADS_PER_WEEK = 2.5
CUSTOMER_THREADS_PER_MONTH = 1.5
P_DUPLICATE_ADDRESS = 0.3  # a person with a duplicate contact writes from the other address
P_MEETING_PER_JOB = 0.9
P_SECOND_MEETING = 0.7
P_MEETING_CANCELLED = 0.06
P_BUYER_ORGANIZER = 0.15
PARTSTAT_EXTERNAL = (
    ("ACCEPTED", 0.75),
    ("TENTATIVE", 0.1),
    ("DECLINED", 0.08),
    ("NEEDS-ACTION", 0.07),
)


@dataclass
class People:
    email: list[str]
    name: list[str]
    first: list[str]
    internal: list[bool]
    tz: list[int]
    account: list[int]
    contact: list[int]
    user: list[int]
    lead: list[int]
    n_users: int
    n_contacts: int

    def add(
        self,
        email: str,
        name: str,
        first: str,
        tz: int,
        account: int = -1,
        lead: int = -1,
        internal: bool = False,
    ) -> int:
        self.email.append(email)
        self.name.append(name)
        self.first.append(first)
        self.internal.append(internal)
        self.tz.append(tz)
        self.account.append(account)
        self.contact.append(-1)
        self.user.append(-1)
        self.lead.append(lead)
        return len(self.email) - 1

    def contact_pid(self, c: int) -> int:
        return self.n_users + c


def build_people(w: World, leads: Leads) -> tuple[People, list[int]]:
    tzi = {n: i for i, n in enumerate(vocab.TZ_NAMES)}
    nu, nc = len(w.u_id), len(w.c_id)
    p = People(
        email=list(w.u_email) + list(w.c_email),
        name=[w.user_name(u) for u in range(nu)] + [w.contact_name(c) for c in range(nc)],
        first=list(w.u_first) + list(w.c_first),
        internal=[True] * nu + [False] * nc,
        tz=[tzi[t] for t in w.u_tz] + [tzi[w.a_tz[w.c_account[c]]] for c in range(nc)],
        account=[-1] * nu + list(w.c_account),
        contact=[-1] * nu + list(range(nc)),
        user=list(range(nu)) + [-1] * nc,
        lead=[-1] * (nu + nc),
        n_users=nu,
        n_contacts=nc,
    )
    known = {e.lower() for e in p.email}
    lead_pid = []
    for i in range(len(leads)):
        if leads.converted_opp[i] >= 0 or leads.email[i].lower() in known:
            lead_pid.append(-1)
            continue
        tz = tzi[vocab.REGION_TZ[leads.region[i]][0][0]]
        lead_pid.append(
            p.add(leads.email[i], f"{leads.first[i]} {leads.last[i]}", leads.first[i], tz, lead=i)
        )
    return p, lead_pid


class DayOffsets:
    """UTC offset (seconds) of each time zone for each day: fast business-hours conversion."""

    def __init__(self) -> None:
        self.base = HISTORY_START_DAY - 800
        days = np.arange(self.base, AS_OF_DAY + 800, dtype=np.int64)
        self.table = []
        for name in vocab.TZ_NAMES:
            pts, offs = offset_table(name)
            pos = np.searchsorted(pts, days * DAY + 12 * HOUR, side="right") - 1
            self.table.append(offs[np.clip(pos, 0, len(offs) - 1)].tolist())
        self.arrays = [np.array(t, dtype=np.int64) for t in self.table]

    def biz_vec(
        self, days: np.ndarray, tz: int, u: np.ndarray, lo: float = 8.0, hi: float = 18.0
    ) -> np.ndarray:
        """Vectorised business-hours instants (weekend days move to Monday)."""
        wd = (days + 3) % 7
        days = days + np.where(wd >= 5, 7 - wd, 0)
        local = days * DAY + ((lo + (hi - lo) * u) * HOUR).astype(np.int64)
        return local - self.arrays[tz][days - self.base]

    def biz_ts(self, day: int, tz: int, rng: Rand, lo: float = 8.0, hi: float = 18.0) -> int:
        wd = (day + 3) % 7  # Monday = 0
        if wd >= 5:
            day += 7 - wd if rng.random() < 0.5 else 4 - wd
        local = day * DAY + int(rng.uniform(lo, hi) * HOUR)
        return local - self.table[tz][day - self.base]


class Threads:
    """Thread-level plan, stored compactly: one entry per thread plus its participants.

    ``side_a`` writes first when ``init_side`` is 0 (internal people for customer threads),
    ``side_b`` is the other side, ``passive`` people are only copied (Cc). Sides are tuples of
    person ids (single-person sides are shared objects); subjects are ids into ``subjects``.
    """

    def __init__(self) -> None:
        self.start = array("q")
        self.end = array("q")
        self.opp = array("q")
        self.account = array("q")
        self.subj = array("q")
        self.kind = array("b")
        self.init_side = array("b")
        self.n = array("q")
        self.resp_a = array("d")
        self.resp_b = array("d")
        self.flip = array("d")
        self.side_a: list[tuple[int, ...]] = []
        self.side_b: list[tuple[int, ...]] = []
        self.passive: list[tuple[int, ...]] = []
        self.subjects: list[str] = []
        self._subj_id: dict[str, int] = {}
        self._one: dict[int, tuple[int]] = {}

    def subject_id(self, s: str) -> int:
        i = self._subj_id.get(s)
        if i is None:
            i = len(self.subjects)
            self.subjects.append(s)
            self._subj_id[s] = i
        return i

    def side(self, people) -> tuple[int, ...]:
        if len(people) == 1:
            p = people[0]
            t = self._one.get(p)
            if t is None:
                t = (p,)
                self._one[p] = t
            return t
        return tuple(people)

    def add(
        self,
        start,
        end,
        opp,
        account,
        subject,
        kind,
        init_side,
        n,
        resp_a,
        resp_b,
        flip,
        side_a,
        side_b,
        passive=(),
    ) -> None:
        self.start.append(int(start))
        self.end.append(int(end))
        self.opp.append(opp)
        self.account.append(account)
        self.subj.append(self.subject_id(subject))
        self.kind.append(kind)
        self.init_side.append(init_side)
        self.n.append(n)
        self.resp_a.append(resp_a)
        self.resp_b.append(resp_b)
        self.flip.append(flip)
        self.side_a.append(self.side(side_a))
        self.side_b.append(self.side(side_b))
        self.passive.append(self.side(passive) if passive else ())

    def extend(
        self,
        start,
        end,
        opp,
        account,
        subj_ids,
        kind,
        init_side,
        n,
        resp_a,
        resp_b,
        flip,
        side_a,
        side_b,
        passive,
    ) -> None:
        """Add many threads at once (numeric columns as lists; sides already tuples)."""
        self.start.extend(start)
        self.end.extend(end)
        self.opp.extend(opp)
        self.account.extend(account)
        self.subj.extend(subj_ids)
        self.kind.extend(kind)
        self.init_side.extend(init_side)
        self.n.extend(n)
        self.resp_a.extend(resp_a)
        self.resp_b.extend(resp_b)
        self.flip.extend(flip)
        self.side_a.extend(side_a)
        self.side_b.extend(side_b)
        self.passive.extend(passive)

    def subject(self, t: int) -> str:
        return self.subjects[self.subj[t]]

    def finalize(self) -> None:
        self._subj_id = {}
        self._one = {}

    def __len__(self) -> int:
        return len(self.side_a)


@dataclass
class Emails:
    """One row per message (numpy arrays), plus thread-level participants."""

    thread: np.ndarray
    pos: np.ndarray
    time: np.ndarray
    side: np.ndarray
    sender: np.ndarray
    first: np.ndarray  # index of the thread's first message, per message
    tok: np.ndarray  # random part of each Message-ID
    hosts: list[str]  # Message-ID host per person (the sender's mail domain)
    threads: Threads
    # thread-level CSR of all participants by role
    a_ptr: np.ndarray
    a_dat: np.ndarray
    b_ptr: np.ndarray
    b_dat: np.ndarray
    p_ptr: np.ndarray
    p_dat: np.ndarray

    _msgid: list[str] | None = None

    def __len__(self) -> int:
        return len(self.time)

    @property
    def msgid(self) -> list[str]:
        """Message-ID (without angle brackets) of every message; built on first use."""
        if self._msgid is None:
            host = self.hosts
            self._msgid = [
                f"{tk:015x}.{i:x}@{host[s]}"
                for i, (tk, s) in enumerate(zip(self.tok.tolist(), self.sender.tolist()))
            ]
        return self._msgid


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    dat = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(ptr[-1]))
    return ptr, dat


def build_messages(th: Threads, people: People, gen: np.random.Generator) -> Emails:
    T = len(th)
    n = np.frombuffer(th.n, dtype=np.int64)
    start = np.frombuffer(th.start, dtype=np.int64)
    end = np.frombuffer(th.end, dtype=np.int64)
    M = int(n.sum())
    tid = np.repeat(np.arange(T, dtype=np.int64), n)
    first = np.cumsum(n) - n
    pos = np.arange(M, dtype=np.int64) - first[tid]
    flip = gen.random(M) < np.frombuffer(th.flip, dtype=np.float64)[tid]
    flip[pos == 0] = False
    cs = np.cumsum(flip)
    side = (
        np.frombuffer(th.init_side, dtype=np.int8).astype(np.int64)[tid] + cs - cs[first[tid]]
    ) % 2
    z = gen.standard_normal(M)
    u = gen.random(M)
    resp_a = np.frombuffer(th.resp_a, dtype=np.float64)[tid]
    resp_b = np.frombuffer(th.resp_b, dtype=np.float64)[tid]
    gap_h = np.where(
        flip & (side == 0),
        resp_a * np.exp(REP_REPLY_SIGMA * z),
        np.where(
            flip & (side == 1),
            resp_b * np.exp(BUYER_REPLY_SIGMA * z),
            FOLLOW_UP_HOURS[0] + u * (FOLLOW_UP_HOURS[1] - FOLLOW_UP_HOURS[0]),
        ),
    )
    gap = np.maximum(120, (gap_h * HOUR).astype(np.int64))
    gap[pos == 0] = 0
    cg = np.cumsum(gap)
    t = start[tid] + cg - cg[first[tid]]
    keep = t <= end[tid]
    tid, pos, t, side = tid[keep], pos[keep], t[keep], side[keep]
    M = len(t)
    n2 = np.bincount(tid, minlength=T)
    first = (np.cumsum(n2) - n2)[tid]
    a_ptr, a_dat = _csr(th.side_a)
    b_ptr, b_dat = _csr(th.side_b)
    p_ptr, p_dat = _csr(th.passive)
    la = (a_ptr[1:] - a_ptr[:-1])[tid]
    lb = (b_ptr[1:] - b_ptr[:-1])[tid]
    u2 = gen.random(M)
    u3 = gen.random(M)
    size = np.where(side == 0, la, lb)
    idx = np.where(u2 < 0.8, 0, np.minimum(size - 1, (u3 * size).astype(np.int64)))
    sender = np.where(
        side == 0,
        a_dat[np.minimum(a_ptr[tid] + idx, len(a_dat) - 1)],
        b_dat[np.minimum(b_ptr[tid] + idx, max(len(b_dat) - 1, 0))] if len(b_dat) else 0,
    )
    tok = gen.integers(0, 1 << 60, size=M)
    host = ["mail." + e.rsplit("@", 1)[1].lower() for e in people.email]
    return Emails(
        thread=tid,
        pos=pos,
        time=t,
        side=side,
        sender=sender,
        first=first,
        tok=tok,
        hosts=host,
        threads=th,
        a_ptr=a_ptr,
        a_dat=a_dat,
        b_ptr=b_ptr,
        b_dat=b_dat,
        p_ptr=p_ptr,
        p_dat=p_dat,
    )


# ---- meetings ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Meeting:
    uid: str
    summary: str
    organizer: int  # person id
    attendees: list[tuple[int, str, str]]  # (person id, PARTSTAT, ROLE)
    tz: str
    start: datetime  # naive local wall time in tz (date at 00:00 for all-day)
    minutes: int
    created: int  # epoch seconds (CREATED / DTSTAMP)
    opp: int = -1
    account: int = -1
    kind: str = "deal"
    status: str = "CONFIRMED"
    sequence: int = 0
    all_day: bool = False
    freq: str = ""  # "", WEEKLY, MONTHLY
    interval: int = 1
    count: int = 1
    use_until: bool = False
    exdates: list[int] = field(default_factory=list)  # occurrence numbers removed
    moved: dict[int, datetime] = field(default_factory=dict)  # occurrence number -> new local start
    cancelled: list[int] = field(default_factory=list)  # occurrence numbers cancelled (override)
    location: str = ""
    group_attendee: str = ""  # a distribution-list attendee (all@...)
    byday: tuple[int, ...] = ()  # WEEKLY with several days: day offsets from DTSTART (first 0)

    def local_start(self, i: int) -> datetime:
        if self.freq == "WEEKLY" and self.byday:
            k = len(self.byday)
            return self.start + timedelta(weeks=self.interval * (i // k), days=self.byday[i % k])
        if self.freq == "WEEKLY":
            return self.start + timedelta(weeks=self.interval * i)
        if self.freq == "MONTHLY":
            m = self.start.month - 1 + self.interval * i
            return self.start.replace(year=self.start.year + m // 12, month=m % 12 + 1)
        return self.start

    def occurrences(self) -> list[tuple[int, datetime, datetime, str]]:
        """(number, original local start, actual local start, status) of every occurrence."""
        out = []
        ex = set(self.exdates)
        canc = set(self.cancelled)
        for i in range(self.count if self.freq else 1):
            if i in ex:
                continue
            orig = self.local_start(i)
            out.append(
                (
                    i,
                    orig,
                    self.moved.get(i, orig),
                    "CANCELLED" if (i in canc or self.status == "CANCELLED") else self.status,
                )
            )
        return out


class ActivityBuilder:
    def __init__(
        self,
        w: World,
        proc: SalesProcess,
        opps: list[Opp],
        leads: Leads,
        people: People,
        lead_pid: list[int],
        scale: float,
        rng: Rand,
    ):
        self.w, self.proc, self.opps, self.leads = w, proc, opps, leads
        self.people, self.lead_pid, self.scale, self.rng = people, lead_pid, scale, rng
        self.th = Threads()
        self.meetings: list[Meeting] = []
        self.offsets = DayOffsets()
        self.tzi = {n: i for i, n in enumerate(vocab.TZ_NAMES)}
        self.uid_n = 0
        self._log_q = math.log(1.0 - MSG_GEOMETRIC_P)
        self._partstat_cum = list(accumulate(x[1] for x in PARTSTAT_EXTERNAL))
        self._short_cache: dict[int, str] = {}

    # helpers
    def _uid(self, host: str = COMPANY_DOMAIN) -> str:
        self.uid_n += 1
        tok = int(self.rng.random() * (1 << 48))
        return f"{tok:012x}-{self.uid_n:06d}@{host}"

    def _n_msgs(self, lo: int = 1) -> int:
        g = 1
        while self.rng.random() > MSG_GEOMETRIC_P and g < 11:
            g += 1
        return max(lo, g)

    def _addr(self, c: int) -> int:
        """Person id a contact writes from (sometimes the duplicate record's address)."""
        d = self.w.c_dup[c]
        if d >= 0 and self.rng.random() < P_DUPLICATE_ADDRESS:
            return self.people.contact_pid(d)
        return self.people.contact_pid(c)

    def _short(self, a: int) -> str:
        r = self._short_cache.get(a)
        if r is None:
            r = name = self.w.a_name[a]
            for suffix in (
                "Inc.",
                "LLC",
                "Corp.",
                "Ltd",
                "GmbH",
                "AG",
                "SAS",
                "AB",
                "Pte Ltd",
                "Pty Ltd",
                "K.K.",
            ):
                if name.endswith(" " + suffix):
                    r = name[: -len(suffix) - 1]
                    break
            self._short_cache[a] = r
        return r

    def build(self) -> None:
        """E-mail threads (meetings come separately: build_meetings)."""
        for o in self.opps:
            if o.deleted:
                continue
            self._deal_threads(o)
        self._customer_activity()
        self._internal()
        self._cold_and_inbound()
        self._malformed_mail()
        self.th.finalize()

    def build_meetings(self, rng: Rand) -> None:
        """Calendar meetings, from their own random stream (independent of the e-mails)."""
        self.rng = rng
        for o in self.opps:
            if not o.deleted:
                self._deal_meetings(o)
        self._qbrs()
        self._internal_meetings()

    # ---- deals -----------------------------------------------------------------------------
    def _deal_threads(self, o: Opp) -> None:
        rng, w = self.rng, self.w
        start, end = o.created, o.end_ts
        if end <= start:
            return
        days = (end - start) / DAY
        rate = THREAD_RATE_PER_DAY[o.segment] * (
            RENEWAL_THREAD_FACTOR if o.type == "Renewal" else 1.0
        )
        T = max(1, rng.poisson(days * rate))
        k = len(o.stakeholders)
        stk = o.stakeholders
        resp_b = BUYER_RESPONSE_MEDIAN_HOURS * rng.lognormal(0.0, 0.4)
        short = self._short(o.account)
        mgr = w.u_manager[o.owner]
        buyer_first = o.lead_source in (
            "Inbound",
            "Referral",
            "Event",
            "Partner",
            "Existing Customer",
        )
        U = rng.gen.random((T, 10))
        subjects = vocab.EMAIL_SUBJECTS_DEAL
        n_subj = len(subjects)
        span = end - start
        # numeric columns, vectorised
        n = np.minimum(11, 1 + (np.log(1.0 - U[:, 6]) / self._log_q).astype(np.int64))
        n[0] = max(2, n[0])
        t0 = start + (U[:, 5] * span).astype(np.int64)
        t0[0] = start + int((0.05 + 0.95 * U[0, 5]) * DAY)
        t0 = np.minimum(t0, end - 60)
        init = (U[:, 7] < 0.55).astype(np.int8)
        init[0] = 1 if buyer_first else 0
        sj = (U[:, 8] * n_subj).astype(np.int64)
        th = self.th
        sid = th.subject_id
        if o.type == "Renewal":
            sj[U[:, 8] < 0.5] = n_subj
        sjl = sj.tolist()
        sub_ids = {
            j: sid(
                subjects[j].format(account=short) if j < n_subj else f"Renewal terms for {short}"
            )
            for j in sorted(set(sjl))
        }
        th.start.extend(t0.tolist())
        th.end.extend([end] * T)
        th.opp.extend([o.idx] * T)
        th.account.extend([o.account] * T)
        th.subj.extend([sub_ids[j] for j in sjl])
        th.kind.extend([K_DEAL] * T)
        th.init_side.extend(init.tolist())
        th.n.extend(n.tolist())
        th.resp_a.extend([o.resp_hours] * T)
        th.resp_b.extend([resp_b] * T)
        th.flip.extend([P_FLIP_DEAL] * T)
        # participants
        one = th.side
        c_dup = w.c_dup
        nu = self.people.n_users
        pc = nu + o.partner_contact if o.partner_contact >= 0 else -1
        ppc = (pc,) if pc >= 0 else ()
        owner_t = one([o.owner])
        with_se = (o.owner, o.se) if o.se >= 0 else owner_t
        stk_t = [one([nu + c]) for c in stk]
        has_dup = any(c_dup[c] >= 0 for c in stk)
        a_app, b_app, p_app = th.side_a.append, th.side_b.append, th.passive.append
        for i, u in enumerate(U.tolist()):
            if T >= k:
                if i < k:
                    j = i
                else:
                    j = int(u[0] * k)
                if i >= k > 1 and u[1] < 0.35 and int(u[2] * k) != j:
                    buyers = [stk[j], stk[int(u[2] * k)]]
                    side_b = one([nu + c if c_dup[c] < 0 else self._addr(c) for c in buyers])
                elif has_dup and c_dup[stk[j]] >= 0:
                    side_b = one([self._addr(stk[j])])
                else:
                    side_b = stk_t[j]
            else:
                side_b = one([nu + c if c_dup[c] < 0 else self._addr(c) for c in stk[i::T]])
            side_a = with_se if u[3] < 0.3 else owner_t
            if mgr >= 0 and u[4] < 0.05:
                side_a = side_a + (mgr,)
            a_app(side_a)
            b_app(side_b)
            p_app(ppc if u[9] < 0.5 else ())
        if o.partner_contact >= 0:
            t0p = max(o.created - int(rng.uniform(1, 10) * DAY), HISTORY_START_DAY * DAY)
            self.th.add(
                t0p,
                min(o.created + 3 * DAY, AS_OF_TS),
                o.idx,
                o.account,
                f"Referral: {short}",
                K_PARTNER,
                1,
                self._n_msgs(2),
                6.0,
                12.0,
                0.9,
                [o.owner],
                [pc],
            )

    def _meeting_at(self, ts: int, tz: str, lo_h: int = 9, hi_h: int = 17) -> datetime:
        """A business-hours local start on the (working) day of ``ts`` in ``tz``."""
        dt, _ = self._meeting_at2(ts, tz, lo_h, hi_h)
        return dt

    def _meeting_at2(self, ts: int, tz: str, lo_h: int = 9, hi_h: int = 17) -> tuple[datetime, int]:
        """(local start, its UTC instant) - weekdays never straddle a DST switch (Sundays)."""
        table = self.offsets.table[self.tzi[tz]]
        base = self.offsets.base
        lday = (ts + table[ts // DAY - base]) // DAY
        wd = (lday + 3) % 7
        if wd >= 5:
            lday += 7 - wd
        hour = self.rng.integers(lo_h, hi_h)
        minute = 30 if self.rng.random() < 0.3 else 0
        d = date.fromordinal(lday + 719163)
        utc = lday * DAY + hour * HOUR + minute * 60 - table[lday - base]
        return datetime(d.year, d.month, d.day, hour, minute), utc

    def _partstat(self) -> str:
        cum = self._partstat_cum
        return PARTSTAT_EXTERNAL[min(len(cum) - 1, bisect_right(cum, self.rng.random() * cum[-1]))][
            0
        ]

    def _deal_meetings(self, o: Opp) -> None:
        rng, w, proc = self.rng, self.w, self.proc
        end = o.end_ts
        rep_tz = w.u_tz[o.owner]
        k = len(o.stakeholders)
        plan: list[tuple[int, str, list[int], bool, bool]] = []  # (ts, summary, buyers, se, mgr)
        first = o.created + int(rng.uniform(1.0, 6.0) * DAY)
        if o.type == "Renewal":
            plan.append(
                (
                    o.created + int((end - o.created) * rng.uniform(0.2, 0.6)),
                    "Renewal review",
                    o.stakeholders[:2],
                    False,
                    False,
                )
            )
        else:
            plan.append((first, "Discovery call", o.stakeholders[: min(k, 2)], False, False))
            n_jobs = len(proc.jobs)
            for j in range(1, n_jobs):
                if j >= len(o.job_start) or rng.random() >= P_MEETING_PER_JOB:
                    continue
                ts = o.job_start[j] + int(rng.uniform(0.0, 3.0) * DAY)
                title = vocab.MEETING_DEAL[min(j + 1, len(vocab.MEETING_DEAL) - 1)]
                buyers = [o.stakeholders[x] for x in range(k) if rng.random() < 0.6] or [
                    o.stakeholders[0]
                ]
                plan.append((ts, title, buyers, j in (2, 3, 4) and o.se >= 0, j == n_jobs - 1))
                if rng.random() < P_SECOND_MEETING and j + 1 < len(o.job_start):
                    ts2 = ts + int((o.job_start[j + 1] - ts) * rng.uniform(0.3, 0.9))
                    plan.append((ts2, "Follow-up: " + title, buyers, False, False))
        for ts, title, buyers, with_se, with_mgr in plan:
            if ts >= end or ts >= AS_OF_TS:
                continue
            self._customer_meeting(o, ts, title, buyers, with_se, with_mgr, rep_tz, end)
        # weekly pilot check-ins during validation (mid-market and enterprise)
        if o.type != "Renewal" and o.segment != "SMB" and len(o.job_start) >= 2:
            jv = len(o.job_start) - 2
            s, e = o.job_start[jv], min(o.job_done[jv], end)
            weeks = int((e - s) / (7 * DAY))
            if weeks >= 2 and s < end:
                self._pilot_series(o, s, weeks, rep_tz, end)

    def _attendees(self, buyers: list[int], internal: list[int]) -> list[tuple[int, str, str]]:
        att = [(u, "ACCEPTED", "REQ-PARTICIPANT") for u in internal]
        for c in buyers:
            att.append(
                (
                    self._addr(c),
                    self._partstat(),
                    "REQ-PARTICIPANT" if self.rng.random() < 0.85 else "OPT-PARTICIPANT",
                )
            )
        return att

    def _customer_meeting(
        self,
        o: Opp,
        ts: int,
        title: str,
        buyers: list[int],
        with_se: bool,
        with_mgr: bool,
        rep_tz: str,
        end: int,
    ) -> None:
        rng, w = self.rng, self.w
        internal = [o.owner]
        if with_se:
            internal.append(o.se)
        if with_mgr and w.u_manager[o.owner] >= 0:
            internal.append(w.u_manager[o.owner])
        att = self._attendees(buyers, internal)
        organizer = o.owner
        tz = rep_tz
        host = COMPANY_DOMAIN
        if rng.random() < P_BUYER_ORGANIZER:
            organizer = self.people.contact_pid(buyers[0])
            tz = w.a_tz[o.account]
            host = w.a_domain[o.account]
            att = [(p, "ACCEPTED" if p == organizer else s, r) for p, s, r in att]
        start, start_utc = self._meeting_at2(ts, tz)
        if start_utc >= min(end, AS_OF_TS):
            return
        m = Meeting(
            uid=self._uid(host),
            summary=f"{self._short(o.account)} / Northpeak: {title}",
            organizer=organizer,
            attendees=att,
            tz=tz,
            start=start,
            minutes=rng.pick((30, 30, 45, 60)),
            created=ts - int(rng.uniform(1, 7) * DAY),
            opp=o.idx,
            account=o.account,
            kind="deal",
            location="Zoom" if rng.random() < 0.7 else "Google Meet",
        )
        if rng.random() < P_MEETING_CANCELLED:
            m.status, m.sequence = "CANCELLED", 1
        self.meetings.append(m)

    def _pilot_series(self, o: Opp, s: int, weeks: int, tz: str, end: int) -> None:
        rng = self.rng
        count = min(8, weeks)
        start = self._meeting_at(s + 2 * DAY, tz)
        m = Meeting(
            uid=self._uid(),
            summary=f"{self._short(o.account)} pilot check-in",
            organizer=o.owner,
            attendees=self._attendees(
                o.stakeholders[:3], [o.owner] + ([o.se] if o.se >= 0 else [])
            ),
            tz=tz,
            start=start,
            minutes=30,
            created=s,
            opp=o.idx,
            account=o.account,
            kind="deal",
            freq="WEEKLY",
            count=count,
            use_until=rng.random() < 0.5,
            location="Zoom",
        )
        # a closed deal's series does not run past the close
        while m.count > 1 and local_to_utc(m.local_start(m.count - 1), tz) >= end and o.closed:
            m.count -= 1
        if m.count < 2:
            m.freq, m.count = "", 1
        if local_to_utc(start, tz) >= min(end, AS_OF_TS):
            return
        self._perturb_series(m)
        self.meetings.append(m)

    def _perturb_series(self, m: Meeting) -> None:
        """EXDATEs, moved occurrences (RECURRENCE-ID) and cancelled occurrences."""
        rng = self.rng
        if m.count < 3:
            return
        used = {0}
        if rng.random() < 0.35:
            i = rng.integers(1, m.count)
            m.exdates.append(i)
            used.add(i)
        if rng.random() < 0.3:
            i = rng.integers(1, m.count)
            if i not in used:
                m.moved[i] = m.local_start(i) + timedelta(hours=rng.pick((-1, 1, 2, 24)))
                used.add(i)
        if rng.random() < 0.2:
            i = rng.integers(1, m.count)
            if i not in used:
                m.cancelled.append(i)
        if m.moved or m.cancelled:
            m.sequence = 1

    # ---- post-sale -------------------------------------------------------------------------
    def _customer_activity(self) -> None:
        rng, w = self.rng, self.w
        th = self.th
        one = th.side
        subjects = vocab.EMAIL_SUBJECTS_ACCOUNT
        since: dict[int, int] = {}
        churn: dict[int, int] = {}
        for o in self.opps:
            if o.deleted or not o.closed:
                continue
            if o.type == "New Business" and o.won:
                since[o.account] = min(since.get(o.account, o.close_ts), o.close_ts)
            if o.type == "Renewal" and not o.won:
                churn[o.account] = o.close_ts
        for a in sorted(since):
            s = since[a] + 5 * DAY
            e = min(churn.get(a, AS_OF_TS), AS_OF_TS)
            if e <= s:
                continue
            owner = w.a_owner[a]
            csms = [u for u in w.csms if w.u_region[u] == w.a_region[a]] or w.csms
            csm = csms[a % len(csms)]
            months = (e - s) / (30 * DAY)
            contacts = w.a_contacts[a]
            n = rng.poisson(months * CUSTOMER_THREADS_PER_MONTH)
            if n == 0:
                continue
            nc = len(contacts)
            U = rng.gen.random((n, 8))
            nm = np.minimum(11, 1 + (np.log(1.0 - U[:, 7]) / self._log_q).astype(np.int64)).tolist()
            t0 = (s + (U[:, 0] * (e - s)).astype(np.int64)).tolist()
            sids = [th.subject_id(x) for x in subjects]
            th.extend(
                t0,
                [AS_OF_TS] * n,
                [-1] * n,
                [a] * n,
                [sids[j] for j in (U[:, 5] * len(subjects)).astype(np.int64).tolist()],
                [K_ACCOUNT] * n,
                (U[:, 6] < 0.6).astype(np.int64).tolist(),
                nm,
                [8.0] * n,
                [20.0] * n,
                [0.9] * n,
                [one([csm]) if u4 < 0.7 else one([owner]) for u4 in U[:, 4].tolist()],
                [self._buyers_side(contacts, nc, u1, u2, u3) for u1, u2, u3 in U[:, 1:4].tolist()],
                [()] * n,
            )

    def _buyers_side(self, contacts, nc, u1, u2, u3) -> tuple[int, ...]:
        nu = self.people.n_users
        c_dup = self.w.c_dup
        buyers = [contacts[int(u1 * nc)]]
        if u2 < 0.3:
            b2 = contacts[int(u3 * nc)]
            if b2 != buyers[0]:
                buyers.append(b2)
        return self.th.side([nu + c if c_dup[c] < 0 else self._addr(c) for c in buyers])

    def _customer_spans(self) -> tuple[dict[int, int], dict[int, int]]:
        since: dict[int, int] = {}
        churn: dict[int, int] = {}
        for o in self.opps:
            if o.deleted or not o.closed:
                continue
            if o.type == "New Business" and o.won:
                since[o.account] = min(since.get(o.account, o.close_ts), o.close_ts)
            if o.type == "Renewal" and not o.won:
                churn[o.account] = o.close_ts
        return since, churn

    def _qbrs(self) -> None:
        """Quarterly business reviews with customers (account-level, recurring)."""
        rng, w = self.rng, self.w
        since, churn = self._customer_spans()
        for a in sorted(since):
            s = since[a] + 5 * DAY
            e = min(churn.get(a, AS_OF_TS), AS_OF_TS)
            if e <= s:
                continue
            owner = w.a_owner[a]
            csms = [u for u in w.csms if w.u_region[u] == w.a_region[a]] or w.csms
            csm = csms[a % len(csms)]
            contacts = w.a_contacts[a]
            q0 = since[a] + 85 * DAY
            if q0 < e:
                n = 1 + int((min(e, AS_OF_TS + 90 * DAY) - q0) / (91 * DAY))
                tz = w.u_tz[csm]
                start = self._meeting_at(q0, tz)
                start = start.replace(day=min(start.day, 28))
                m = Meeting(
                    uid=self._uid(),
                    summary=f"{self._short(a)} quarterly business review",
                    organizer=csm,
                    attendees=self._attendees(contacts[:2], [csm, owner]),
                    tz=tz,
                    start=start,
                    minutes=60,
                    created=q0 - 10 * DAY,
                    account=a,
                    kind="account",
                    freq="MONTHLY" if n > 1 else "",
                    interval=3,
                    count=n,
                    use_until=rng.random() < 0.5,
                    location="Zoom",
                )
                if a in churn:  # the series stops at churn
                    while m.count > 1 and local_to_utc(m.local_start(m.count - 1), tz) >= churn[a]:
                        m.count -= 1
                    if m.count == 1:
                        m.freq = ""
                if local_to_utc(start, tz) < churn.get(a, AS_OF_TS + 365 * DAY):
                    self._perturb_series(m)
                    self.meetings.append(m)

    # ---- internal --------------------------------------------------------------------------
    def _internal(self) -> None:
        rng, w = self.rng, self.w
        g = rng.gen
        t_start = HISTORY_START_DAY * DAY
        lq = self._log_q
        subjects = vocab.EMAIL_SUBJECTS_INTERNAL
        ses = w.ses
        reps = w.reps
        th = self.th
        for u in w.reps:
            mgr = w.u_manager[u]
            since = max(t_start, w.u_created[u])
            weeks = (AS_OF_TS - since) / (7 * DAY)
            tz = self.tzi[w.u_tz[u]]
            n = int(g.poisson(weeks * INTERNAL_THREADS_PER_WEEK))
            U = g.random((n, 7))
            ndays = int((AS_OF_TS - since) / DAY) - 1
            days = since // DAY + (U[:, 0] * ndays).astype(np.int64)
            t0s = self.offsets.biz_vec(days, tz, U[:, 1]).tolist()
            nm = np.minimum(11, 1 + (np.log(1.0 - U[:, 2]) / lq).astype(np.int64)).tolist()
            sids = [th.subject_id(x) for x in subjects]
            keep_t0, keep_n, keep_s, side_b_l = [], [], [], []
            for t0, n_msg, (_, _, _, r, x, y, z) in zip(t0s, nm, U.tolist()):
                if r < 0.6:
                    other = mgr
                elif r < 0.8 and ses:
                    other = ses[int(x * len(ses))]
                elif r < 0.85:
                    other = w.vp
                else:
                    other = reps[int(x * len(reps))]
                if other == u or other < 0:
                    continue
                if y < 0.1 and other != mgr and mgr >= 0:
                    side_b_l.append((other, mgr))
                else:
                    side_b_l.append(th.side([other]))
                keep_t0.append(t0)
                keep_n.append(n_msg)
                keep_s.append(sids[int(z * len(subjects))])
            k = len(keep_t0)
            th.extend(
                keep_t0,
                [AS_OF_TS] * k,
                [-1] * k,
                [-1] * k,
                keep_s,
                [K_INTERNAL] * k,
                [0] * k,
                keep_n,
                [5.0] * k,
                [5.0] * k,
                [0.85] * k,
                [th.side([u])] * k,
                side_b_l,
                [()] * k,
            )
        mgr_subjects = ("Forecast call notes", "Commit review", "Hiring update")
        for mgr in w.managers:
            tz = self.tzi[w.u_tz[mgr]]
            weeks = (AS_OF_TS - t_start) / (7 * DAY)
            n = int(g.poisson(weeks * 0.8))
            U = g.random((n, 4))
            days = HISTORY_START_DAY + (U[:, 0] * (AS_OF_DAY - HISTORY_START_DAY - 1)).astype(
                np.int64
            )
            t0s = self.offsets.biz_vec(days, tz, U[:, 1]).tolist()
            nm = np.minimum(11, 1 + (np.log(1.0 - U[:, 2]) / lq).astype(np.int64)).tolist()
            for t0, n_msg, z in zip(t0s, nm, U[:, 3].tolist()):
                th.add(
                    t0,
                    AS_OF_TS,
                    -1,
                    -1,
                    mgr_subjects[int(z * 3)],
                    K_INTERNAL,
                    0,
                    n_msg,
                    6.0,
                    6.0,
                    0.85,
                    [mgr],
                    [w.vp],
                )

    def _internal_meetings(self) -> None:
        rng, w = self.rng, self.w
        y0 = 2023
        y1 = 2026
        team: dict[int, list[int]] = {}
        for u in w.reps:
            team.setdefault(w.u_manager[u], []).append(u)
        for year in range(y0, y1 + 1):
            first_day = max(date(year, 1, 8), date(2023, 11, 6))
            for mgr in w.managers:
                members = team.get(mgr, [])
                tz = w.u_tz[mgr]
                d = first_day + timedelta(days=(0 - first_day.weekday()) % 7)  # Monday
                start = datetime(d.year, d.month, d.day, 9, 30)
                count = (date(year, 12, 18) - d).days // 7 + 1
                m = Meeting(
                    uid=self._uid(),
                    summary=f"{w.u_region[mgr]} team weekly",
                    organizer=mgr,
                    attendees=[
                        (x, "ACCEPTED" if rng.random() < 0.9 else "TENTATIVE", "REQ-PARTICIPANT")
                        for x in members
                    ],
                    tz=tz,
                    start=start,
                    minutes=45,
                    created=(d.toordinal() - 719163 - 7) * DAY,
                    kind="internal",
                    freq="WEEKLY",
                    count=count,
                    use_until=True,
                )
                self._perturb_series(m)
                self.meetings.append(m)
                for u in members:  # bi-weekly 1:1
                    d2 = d + timedelta(days=1 + rng.integers(3))
                    st = datetime(d2.year, d2.month, d2.day, rng.integers(10, 16), 0)
                    m2 = Meeting(
                        uid=self._uid(),
                        summary=f"1:1 {w.u_first[u]} / {w.u_first[mgr]}",
                        organizer=mgr,
                        attendees=[(u, "ACCEPTED", "REQ-PARTICIPANT")],
                        tz=tz,
                        start=st,
                        minutes=30,
                        created=(d.toordinal() - 719163 - 7) * DAY,
                        kind="internal",
                        freq="WEEKLY",
                        interval=2,
                        count=count // 2,
                        use_until=rng.random() < 0.5,
                    )
                    self._perturb_series(m2)
                    self.meetings.append(m2)
                # stand-up on Monday, Wednesday and Friday
                m3 = Meeting(
                    uid=self._uid(),
                    summary=f"{w.u_region[mgr]} sales stand-up",
                    organizer=mgr,
                    attendees=[(x, "ACCEPTED", "REQ-PARTICIPANT") for x in members],
                    tz=tz,
                    start=datetime(d.year, d.month, d.day, 9, 0),
                    minutes=15,
                    created=(d.toordinal() - 719163 - 7) * DAY,
                    kind="internal",
                    freq="WEEKLY",
                    count=3 * count,
                    use_until=rng.random() < 0.5,
                    byday=(0, 2, 4),
                )
                self._perturb_series(m3)
                self.meetings.append(m3)
            # forecast call (VP + managers) and monthly all-hands (distribution list)
            d = first_day + timedelta(days=(3 - first_day.weekday()) % 7)  # Thursday
            count = (date(year, 12, 18) - d).days // 7 + 1
            m = Meeting(
                uid=self._uid(),
                summary="Weekly forecast call",
                organizer=w.vp,
                attendees=[(x, "ACCEPTED", "REQ-PARTICIPANT") for x in w.managers],
                tz=w.u_tz[w.vp],
                start=datetime(d.year, d.month, d.day, 11, 0),
                minutes=60,
                created=(d.toordinal() - 719163 - 7) * DAY,
                kind="internal",
                freq="WEEKLY",
                count=count,
                use_until=False,
            )
            self._perturb_series(m)
            self.meetings.append(m)
            d = date(year, 1, 12) if year > 2023 else date(2023, 11, 9)
            m = Meeting(
                uid=self._uid(),
                summary="Northpeak all-hands",
                organizer=w.vp,
                attendees=[],
                tz=w.u_tz[w.vp],
                start=datetime(d.year, d.month, d.day, 12, 0),
                minutes=60,
                created=(d.toordinal() - 719163 - 14) * DAY,
                kind="internal",
                freq="MONTHLY" if year > 2023 else "",
                count=12 if year > 2023 else 1,
                use_until=True,
                group_attendee=f"all@{COMPANY_DOMAIN}",
            )
            self.meetings.append(m)
            # all-day company event
            d = date(year, 6, 12) if year > 2023 else date(2023, 12, 14)
            self.meetings.append(
                Meeting(
                    uid=self._uid(),
                    summary="Company offsite",
                    organizer=w.vp,
                    attendees=[],
                    tz="",
                    start=datetime(d.year, d.month, d.day),
                    minutes=24 * 60,
                    created=(d.toordinal() - 719163 - 30) * DAY,
                    kind="internal",
                    all_day=True,
                    group_attendee=f"all@{COMPANY_DOMAIN}",
                )
            )

    # ---- prospecting, inbound, partners, malformed -------------------------------------------
    def _cold_and_inbound(self) -> None:
        rng, w, L = self.rng, self.w, self.leads
        for i in range(len(L)):
            pid = self.lead_pid[i]
            if pid < 0 or L.status[i] == "Open - Not Contacted":
                continue
            t0 = L.created[i] + int(rng.uniform(0.1, 5.0) * DAY)
            if t0 >= AS_OF_TS:
                continue
            n = 1 + rng.integers(3)
            self.th.add(
                t0,
                AS_OF_TS,
                -1,
                -1,
                rng.pick(vocab.EMAIL_SUBJECTS_COLD).format(company=L.company[i].split(" ")[0]),
                K_COLD,
                0,
                n,
                4.0,
                30.0,
                0.25,
                [L.owner[i]],
                [pid],
            )
        n_in = max(2, round(250 * self.scale))
        for i in range(n_in):
            region = vocab.REGIONS[rng.choice(3, (0.5, 0.3, 0.2))]
            first = rng.pick(vocab.FIRST_NAMES[region])
            last = rng.pick(vocab.LAST_NAMES[region])
            email = (
                f"{local_part(first)}{local_part(last)}{i + 10}@{rng.pick(vocab.FREE_MAIL_DOMAINS)}"
            )
            tz = self.tzi[vocab.REGION_TZ[region][0][0]]
            pid = self.people.add(email, f"{first} {last}", first, tz)
            reps = [u for u in w.reps if w.u_region[u] == region] or w.reps
            day = HISTORY_START_DAY + rng.integers(AS_OF_DAY - HISTORY_START_DAY - 1)
            self.th.add(
                self.offsets.biz_ts(day, tz, rng),
                AS_OF_TS,
                -1,
                -1,
                rng.pick(vocab.EMAIL_SUBJECTS_INBOUND),
                K_INBOUND,
                1,
                self._n_msgs(2),
                6.0,
                20.0,
                0.9,
                [rng.pick(reps)],
                [pid],
            )
        # partner relationship threads (not about one deal)
        for pcs, pa in zip(w.partner_contacts, w.partner_accounts):
            n_t = max(1, round(40 * self.scale))
            for _ in range(n_t):
                pc = self.people.contact_pid(pcs[rng.integers(len(pcs))])
                day = HISTORY_START_DAY + rng.integers(AS_OF_DAY - HISTORY_START_DAY - 1)
                self.th.add(
                    self.offsets.biz_ts(day, 0, rng),
                    AS_OF_TS,
                    -1,
                    pa,
                    rng.pick(vocab.EMAIL_SUBJECTS_PARTNER),
                    K_PARTNER,
                    1,
                    self._n_msgs(),
                    8.0,
                    10.0,
                    0.9,
                    [rng.pick(w.reps)],
                    [pc],
                )

    def _malformed_mail(self) -> None:
        rng, w = self.rng, self.w
        n = 2 + round(3 * self.scale)
        for i in range(n):
            pid = self.people.add(
                f"updates@newsletter-{i}.example.com", "Industry Weekly", "Industry", 0
            )
            day = HISTORY_START_DAY + rng.integers(AS_OF_DAY - HISTORY_START_DAY - 1)
            self.th.add(
                day * DAY + 15 * HOUR,
                AS_OF_TS,
                -1,
                -1,
                "This week in revenue operations",
                K_MALFORMED,
                1,
                1,
                1.0,
                1.0,
                0.0,
                [rng.pick(w.reps)],
                [pid],
            )
