"""The demo company's world: org chart, accounts, contacts, partners, leads, people."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from . import vocab
from .constants import AS_OF_DAY, COMPANY_DOMAIN, HISTORY_START_DAY
from .ids import sf_ids
from .rand import Rand
from .timeutil import DAY, HOUR

SEGMENT_WEIGHT = {"SMB": 1.5, "Mid-Market": 1.0, "Enterprise": 0.6}  # deals per rep, relative
QUOTA = {"SMB": 120_000.0, "Mid-Market": 240_000.0, "Enterprise": 420_000.0}  # quarterly
EMPLOYEES = {"SMB": (15, 200), "Mid-Market": (200, 2000), "Enterprise": (2000, 60000)}
CONTACTS_PER_ACCOUNT = {"SMB": (3, 6), "Mid-Market": (5, 10), "Enterprise": (8, 16)}
DUPLICATE_CONTACT_SHARE = 0.02
FREE_MAIL_CONTACT_SHARE = {"SMB": 0.06, "Mid-Market": 0.02, "Enterprise": 0.01}


@cache
def ascii_fold(s: str) -> str:
    s = (
        s.replace("ß", "ss")
        .replace("ä", "ae")
        .replace("ö", "oe")
        .replace("ü", "ue")
        .replace("Ä", "Ae")
        .replace("Ö", "Oe")
        .replace("Ü", "Ue")
        .replace("ø", "o")
        .replace("Ø", "O")
        .replace("å", "a")
        .replace("Å", "A")
        .replace("ł", "l")
        .replace("Ł", "L")
    )
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if c.isascii())


@cache
def local_part(s: str) -> str:
    return "".join(c for c in ascii_fold(s).lower() if c.isalnum() or c == "-")


def alloc(n: int, probs: list[float], rng: Rand) -> np.ndarray:
    """Largest-remainder allocation of n items to categories, shuffled (stratified draw)."""
    p = np.asarray(probs, dtype=float) / sum(probs)
    base = np.floor(p * n).astype(int)
    rem = p * n - base
    for i in np.argsort(-rem, kind="stable")[: n - base.sum()]:
        base[i] += 1
    out = np.repeat(np.arange(len(p)), base)
    rng.gen.shuffle(out)
    return out


@dataclass
class World:
    roles: list[dict] = field(default_factory=list)
    # users (internal people)
    u_id: list[str] = field(default_factory=list)
    u_first: list[str] = field(default_factory=list)
    u_last: list[str] = field(default_factory=list)
    u_email: list[str] = field(default_factory=list)
    u_title: list[str] = field(default_factory=list)
    u_kind: list[str] = field(default_factory=list)  # rep, manager, vp, se, csm
    u_role: list[int] = field(default_factory=list)
    u_manager: list[int] = field(default_factory=list)
    u_segment: list[str] = field(default_factory=list)
    u_region: list[str] = field(default_factory=list)
    u_tz: list[str] = field(default_factory=list)
    u_quota: list[float | None] = field(default_factory=list)
    u_created: list[int] = field(default_factory=list)
    skill: np.ndarray | None = None  # per user (1.0 for non-reps)
    resp_base: np.ndarray | None = None  # hours, per user
    # accounts
    a_id: list[str] = field(default_factory=list)
    a_name: list[str] = field(default_factory=list)
    a_domain: list[str] = field(default_factory=list)
    a_industry: list[str] = field(default_factory=list)
    a_employees: list[int] = field(default_factory=list)
    a_revenue: list[float] = field(default_factory=list)
    a_country: list[str] = field(default_factory=list)
    a_segment: list[str] = field(default_factory=list)
    a_region: list[str] = field(default_factory=list)
    a_owner: list[int] = field(default_factory=list)
    a_parent: list[int] = field(default_factory=list)
    a_created: list[int] = field(default_factory=list)
    a_is_partner: list[bool] = field(default_factory=list)
    a_tz: list[str] = field(default_factory=list)
    a_contacts: list[list[int]] = field(default_factory=list)  # primary (non-duplicate) contacts
    # contacts
    c_id: list[str] = field(default_factory=list)
    c_account: list[int] = field(default_factory=list)
    c_first: list[str] = field(default_factory=list)
    c_last: list[str] = field(default_factory=list)
    c_email: list[str] = field(default_factory=list)
    c_title: list[str] = field(default_factory=list)
    c_persona: list[int] = field(default_factory=list)
    c_created: list[int] = field(default_factory=list)
    c_master: list[int] = field(default_factory=list)  # master_record_id target (merged duplicate)
    c_deleted: list[bool] = field(default_factory=list)
    c_dup_of: list[int] = field(default_factory=list)  # -1 or the original contact
    c_dup: list[int] = field(default_factory=list)  # -1 or this contact's duplicate record
    c_lead_source: list[str] = field(default_factory=list)
    c_free_mail: list[bool] = field(default_factory=list)
    reps: list[int] = field(default_factory=list)
    ses: list[int] = field(default_factory=list)
    csms: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    vp: int = -1
    rep_accounts: dict[int, list[int]] = field(default_factory=dict)
    partner_accounts: list[int] = field(default_factory=list)
    partner_contacts: list[list[int]] = field(default_factory=list)
    domains_used: set[str] = field(default_factory=set)

    @property
    def n_users(self) -> int:
        return len(self.u_id)

    def user_name(self, u: int) -> str:
        return f"{self.u_first[u]} {self.u_last[u]}"

    def contact_name(self, c: int) -> str:
        return f"{self.c_first[c]} {self.c_last[c]}"


def _pick(rng: Rand, seq):
    return seq[int(rng.random() * len(seq))]


def _pick_weighted(rng: Rand, pairs):
    w = np.array([p[-1] for p in pairs], dtype=float)
    return pairs[rng.choice(len(pairs), w.tolist())]


def build_world(scale: float, rng: Rand) -> World:
    w = World()
    _build_org(w, scale, rng)
    _build_accounts(w, scale, rng)
    _build_contacts(w, rng)
    return w


def _business_ts(day: int, rng: Rand) -> int:
    return int(day) * DAY + int(rng.integers(13 * HOUR, 22 * HOUR))


def _build_org(w: World, scale: float, rng: Rand) -> None:
    n_reps = max(3, round(40 * scale))
    seg_of = alloc(n_reps, [0.4, 0.35, 0.25], rng)
    reg_of = alloc(n_reps, [0.5, 0.3, 0.2], rng)
    used_emails: set[str] = set()
    org_start = HISTORY_START_DAY - 900

    def role(name: str, parent: int | None) -> int:
        w.roles.append(
            {
                "name": name,
                "developer_name": name.replace(" ", "_"),
                "parent": parent,
                "created": org_start * DAY + 15 * HOUR,
            }
        )
        return len(w.roles) - 1

    r_vp = role("VP Sales", None)
    r_mgr = {r: role(f"Sales Manager {r}", r_vp) for r in vocab.REGIONS}
    r_ae = {r: role(f"Account Executive {r}", r_mgr[r]) for r in vocab.REGIONS}
    r_se = role("Sales Engineer", r_vp)
    r_cs = role("Customer Success", r_vp)

    def user(
        kind: str,
        region: str,
        segment: str,
        title: str,
        role_i: int,
        manager: int,
        created_day: int,
    ) -> int:
        first = _pick(rng, vocab.FIRST_NAMES[region])
        last = _pick(rng, vocab.LAST_NAMES[region])
        base = f"{local_part(first)}.{local_part(last)}"
        email, k = f"{base}@{COMPANY_DOMAIN}", 2
        while email in used_emails:
            email, k = f"{base}{k}@{COMPANY_DOMAIN}", k + 1
        used_emails.add(email)
        tz = _pick_weighted(rng, vocab.REGION_TZ[region])[0]
        w.u_first.append(first)
        w.u_last.append(last)
        w.u_email.append(email)
        w.u_kind.append(kind)
        w.u_title.append(title)
        w.u_role.append(role_i)
        w.u_manager.append(manager)
        w.u_segment.append(segment)
        w.u_region.append(region)
        w.u_tz.append(tz)
        w.u_quota.append(QUOTA[segment] if kind == "rep" else None)
        w.u_created.append(_business_ts(created_day, rng))
        return len(w.u_first) - 1

    w.vp = user("vp", "NA", "", "VP Sales", r_vp, -1, org_start)
    mgr_of_region: dict[str, list[int]] = {}
    for ri, region in enumerate(vocab.REGIONS):
        n_in = int((reg_of == ri).sum())
        if n_in == 0:
            continue
        n_mgr = max(1, -(-n_in // 10))
        mgr_of_region[region] = [
            user(
                "manager",
                region,
                "",
                f"Sales Manager, {region}",
                r_mgr[region],
                w.vp,
                org_start + int(rng.integers(0, 200)),
            )
            for _ in range(n_mgr)
        ]
        w.managers.extend(mgr_of_region[region])
    for i in range(n_reps):
        region = vocab.REGIONS[reg_of[i]]
        segment = vocab.SEGMENTS[seg_of[i]]
        mgrs = mgr_of_region[region]
        title = {
            "SMB": "Account Executive",
            "Mid-Market": "Senior Account Executive",
            "Enterprise": "Enterprise Account Executive",
        }[segment]
        u = user(
            "rep",
            region,
            segment,
            title,
            r_ae[region],
            mgrs[i % len(mgrs)],
            org_start + int(rng.integers(0, 800)),
        )
        w.reps.append(u)
    for _ in range(max(1, round(n_reps / 5))):
        region = vocab.REGIONS[rng.choice(3, [0.5, 0.3, 0.2])]
        w.ses.append(
            user(
                "se",
                region,
                "",
                "Sales Engineer",
                r_se,
                w.vp,
                org_start + int(rng.integers(0, 800)),
            )
        )
    for _ in range(max(1, round(n_reps / 8))):
        region = vocab.REGIONS[rng.choice(3, [0.5, 0.3, 0.2])]
        w.csms.append(
            user(
                "csm",
                region,
                "",
                "Customer Success Manager",
                r_cs,
                w.vp,
                org_start + int(rng.integers(0, 800)),
            )
        )
    n = len(w.u_first)
    w.u_id = sf_ids("user", 1, n)
    # planted rep traits: skill (verifier velocity multiplier) and response-time base (hours)
    skill = np.ones(n)
    resp = np.full(n, 6.0)
    reps = np.array(w.reps)
    skill[reps] = np.clip(rng.gen.lognormal(0.0, 0.35, len(reps)), 0.45, 2.2)
    resp[reps] = np.clip(rng.gen.lognormal(np.log(9.0), 1.0, len(reps)), 0.7, 120.0)
    w.skill = skill
    w.resp_base = resp


def _build_accounts(w: World, scale: float, rng: Rand) -> None:
    n_acc = max(20, round(1200 * scale))
    rep_arr = np.array(w.reps)
    rep_seg = np.array([vocab.SEGMENTS.index(w.u_segment[u]) for u in w.reps])
    rep_reg = np.array([vocab.REGIONS.index(w.u_region[u]) for u in w.reps])
    # accounts follow the reps' territories (segment x region), weighted by deal load
    wts = np.array([SEGMENT_WEIGHT[w.u_segment[u]] for u in w.reps], dtype=float)
    owner_of = rep_arr[alloc(n_acc, list(wts), rng)]
    w.rep_accounts = {u: [] for u in w.reps}
    for i in range(n_acc):
        owner = int(owner_of[i])
        seg = w.u_segment[owner]
        region = w.u_region[owner]
        _add_account(w, rng, seg, region, owner)
        w.rep_accounts[owner].append(i)
    del rep_seg, rep_reg
    # a few enterprise subsidiaries (parent_id)
    ents = [i for i in range(n_acc) if w.a_segment[i] == "Enterprise"]
    for i in ents:
        if rng.random() < 0.06 and len(ents) > 1:
            p = ents[int(rng.integers(len(ents)))]
            if p != i and w.a_parent[p] == -1:
                w.a_parent[i] = p
    # partners
    for name, domain in vocab.PARTNERS:
        i = len(w.a_name)
        w.a_name.append(name)
        w.a_domain.append(domain)
        w.domains_used.add(domain)
        w.a_industry.append("Consulting")
        w.a_employees.append(int(rng.integers(40, 400)))
        w.a_revenue.append(float(w.a_employees[-1] * 150_000))
        w.a_country.append("United States")
        w.a_segment.append("")
        w.a_region.append("NA")
        w.a_owner.append(w.vp)
        w.a_parent.append(-1)
        w.a_created.append(_business_ts(HISTORY_START_DAY - int(rng.integers(200, 700)), rng))
        w.a_is_partner.append(True)
        w.a_tz.append("America/New_York")
        w.partner_accounts.append(i)
    w.a_id = sf_ids("account", 1, len(w.a_name))


def _add_account(w: World, rng: Rand, seg: str, region: str, owner: int) -> None:
    kind, industry = _pick(rng, vocab.ACCOUNT_KIND)
    if region == "EMEA" and rng.random() < 0.3:
        prefix = _pick(rng, vocab.EMEA_PREFIX)
        base = prefix
    else:
        prefix = _pick(rng, vocab.ACCOUNT_PREFIX)
        base = prefix + _pick(rng, vocab.ACCOUNT_SUFFIX)
    country, tld, _ = _pick_weighted(rng, vocab.REGION_COUNTRIES[region])
    legal = _pick(rng, vocab.LEGAL_SUFFIX[region])
    name = f"{base} {kind} {legal}" if rng.random() < 0.5 else f"{base} {kind}"
    dom_base = local_part(base) + ("" if rng.random() < 0.5 else "-" + local_part(kind))
    domain, k = dom_base + tld, 2
    while domain in w.domains_used:
        domain, k = f"{dom_base}{k}{tld}", k + 1
    w.domains_used.add(domain)
    lo, hi = EMPLOYEES[seg]
    emp = int(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    w.a_name.append(name)
    w.a_domain.append(domain)
    w.a_industry.append(industry)
    w.a_employees.append(emp)
    w.a_revenue.append(float(round(emp * rng.uniform(90_000, 400_000), -3)))
    w.a_country.append(country)
    w.a_segment.append(seg)
    w.a_region.append(region)
    w.a_owner.append(owner)
    w.a_parent.append(-1)
    w.a_created.append(_business_ts(HISTORY_START_DAY - int(rng.integers(0, 700)), rng))
    w.a_is_partner.append(False)
    w.a_tz.append(_pick_weighted(rng, vocab.REGION_TZ[region])[0])


def _build_contacts(w: World, rng: Rand) -> None:
    emails: set[str] = set()
    n_acc = len(w.a_name)
    w.a_contacts = [[] for _ in range(n_acc)]
    w.partner_contacts = []
    free_counter = 0
    for a in range(n_acc):
        if w.a_is_partner[a]:
            n = 3
            region = "NA"
        else:
            lo, hi = CONTACTS_PER_ACCOUNT[w.a_segment[a]]
            n = int(rng.integers(lo, hi + 1))
            region = w.a_region[a]
        for j in range(n):
            first = _pick(rng, vocab.FIRST_NAMES[region])
            last = _pick(rng, vocab.LAST_NAMES[region])
            persona = j if j < len(vocab.PERSONAS) else int(rng.integers(len(vocab.PERSONAS)))
            free = (not w.a_is_partner[a]) and rng.random() < FREE_MAIL_CONTACT_SHARE[
                w.a_segment[a]
            ]
            lf, ll = local_part(first), local_part(last)
            if free:
                free_counter += 1
                email = f"{lf}.{ll}{free_counter % 97 + 3}@{_pick(rng, vocab.FREE_MAIL_DOMAINS)}"
            else:
                style = rng.random()
                lp = f"{lf}.{ll}" if style < 0.7 else (f"{lf[:1]}{ll}" if style < 0.9 else lf)
                email = f"{lp}@{w.a_domain[a]}"
            k = 2
            while email in emails:
                at = email.index("@")
                email = f"{email[:at].rstrip('0123456789')}{k}{email[at:]}"
                k += 1
            emails.add(email)
            c = len(w.c_first)
            w.c_account.append(a)
            w.c_first.append(first)
            w.c_last.append(last)
            w.c_email.append(email)
            w.c_title.append(_pick(rng, vocab.PERSONAS[persona][2]))
            w.c_persona.append(persona)
            w.c_created.append(w.a_created[a] + int(rng.integers(0, 200)) * DAY)
            w.c_master.append(-1)
            w.c_deleted.append(False)
            w.c_dup_of.append(-1)
            w.c_dup.append(-1)
            w.c_lead_source.append(_pick(rng, vocab.LEAD_SOURCES))
            w.c_free_mail.append(free)
            w.a_contacts[a].append(c)
        if w.a_is_partner[a]:
            w.partner_contacts.append(list(w.a_contacts[a]))
    # duplicate contacts: the same person entered twice, with different e-mail casing; half of
    # them merged (the loser is deleted and points at the winner through master_record_id)
    n_orig = len(w.c_first)
    for c in range(n_orig):
        if w.a_is_partner[w.c_account[c]] or rng.random() >= DUPLICATE_CONTACT_SHARE:
            continue
        d = len(w.c_first)
        local, dom = w.c_email[c].split("@")
        variant = (
            ".".join(p[:1].upper() + p[1:] for p in local.split("."))
            + "@"
            + (dom if w.c_free_mail[c] else dom[:1].upper() + dom[1:])
        )
        if variant == w.c_email[c]:
            variant = w.c_email[c].upper()
        merged = rng.random() < 0.5
        w.c_account.append(w.c_account[c])
        w.c_first.append(w.c_first[c])
        w.c_last.append(w.c_last[c])
        w.c_email.append(variant)
        w.c_title.append(w.c_title[c])
        w.c_persona.append(w.c_persona[c])
        w.c_created.append(w.c_created[c] + int(rng.integers(5, 300)) * DAY)
        w.c_master.append(c if merged else -1)
        w.c_deleted.append(merged)
        w.c_dup_of.append(c)
        w.c_dup.append(-1)
        w.c_lead_source.append(w.c_lead_source[c])
        w.c_free_mail.append(w.c_free_mail[c])
        w.c_dup[c] = d
    w.c_id = sf_ids("contact", 1, len(w.c_first))
    assert AS_OF_DAY > HISTORY_START_DAY
