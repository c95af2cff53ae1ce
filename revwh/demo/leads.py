"""Leads: converted ones (behind new-business deals) and unconverted ones (cold outreach)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import vocab
from .constants import AS_OF_DAY, HISTORY_START_DAY
from .deals import Opp
from .rand import Rand
from .timeutil import DAY, HOUR
from .world import World, local_part

CONVERTED_SOURCES = ("Inbound", "Event", "Partner", "Referral")
P_CONVERTED_LEAD = 0.8
UNCONVERTED_PER_SCALE = 2500
UNCONVERTED_STATUS = (
    ("Open - Not Contacted", 0.25),
    ("Working - Contacted", 0.35),
    ("Closed - Not Converted", 0.40),
)


@dataclass
class Leads:
    first: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    company: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    converted_opp: list[int] = field(default_factory=list)  # -1 if not converted
    converted_contact: list[int] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    region: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.first)


def build_leads(world: World, opps: list[Opp], scale: float, rng: Rand) -> Leads:
    w = world
    L = Leads()
    for o in opps:
        if o.deleted or o.type != "New Business" or o.lead_source not in CONVERTED_SOURCES:
            continue
        if rng.random() >= P_CONVERTED_LEAD:
            continue
        c = o.stakeholders[0]
        L.first.append(w.c_first[c])
        L.last.append(w.c_last[c])
        L.company.append(w.a_name[o.account])
        L.email.append(w.c_email[c])
        L.source.append(o.lead_source)
        L.status.append("Closed - Converted")
        L.converted_opp.append(o.idx)
        L.converted_contact.append(c)
        L.owner.append(o.owner)
        created = o.created - int(rng.uniform(1, 30) * DAY)
        L.created.append(created)
        L.modified.append(o.created)
        L.region.append(o.region)
    n = max(5, round(UNCONVERTED_PER_SCALE * scale))
    span = AS_OF_DAY - HISTORY_START_DAY - 2
    emails = set(L.email) | set(w.c_email)
    reps_of = {r: [u for u in w.reps if w.u_region[u] == r] or w.reps for r in vocab.REGIONS}
    for i in range(n):
        region = vocab.REGIONS[rng.choice(3, (0.5, 0.3, 0.2))]
        first = rng.pick(vocab.FIRST_NAMES[region])
        last = rng.pick(vocab.LAST_NAMES[region])
        kind, _ = rng.pick(vocab.ACCOUNT_KIND)
        company = f"{rng.pick(vocab.ACCOUNT_PREFIX)}{rng.pick(vocab.ACCOUNT_SUFFIX)} {kind}"
        if rng.random() < 0.25:
            email = (
                f"{local_part(first)}.{local_part(last)}.{i}@{rng.pick(vocab.FREE_MAIL_DOMAINS)}"
            )
        else:
            dom = local_part(company.split(" ")[0]) + "-" + local_part(kind) + ".com"
            email = f"{local_part(first)}.{local_part(last)}@{dom}"
        while email in emails:
            email = f"{i}.{email}"
        emails.add(email)
        reps = reps_of[region]
        created = (HISTORY_START_DAY + rng.integers(span)) * DAY + rng.integers(
            13 * HOUR, 22 * HOUR
        )
        L.first.append(first)
        L.last.append(last)
        L.company.append(company)
        L.email.append(email)
        L.source.append(vocab.LEAD_SOURCES[rng.choice(5, (0.4, 0.3, 0.05, 0.05, 0.2))])
        st = UNCONVERTED_STATUS[rng.choice(3, [x[1] for x in UNCONVERTED_STATUS])][0]
        L.status.append(st)
        L.converted_opp.append(-1)
        L.converted_contact.append(-1)
        L.owner.append(rng.pick(reps))
        L.created.append(created)
        L.modified.append(min(created + int(rng.uniform(0, 60) * DAY), AS_OF_DAY * DAY - HOUR))
        L.region.append(region)
    return L
