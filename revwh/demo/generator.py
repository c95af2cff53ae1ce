"""``generate()``: the whole demo data set, deterministic for (scale, seed)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import activity as act
from . import deals as dl
from . import leads as ld
from .activity import K_MALFORMED, ActivityBuilder, build_messages, build_people
from .constants import COMPANY_DOMAIN, CURRENCY, DEMO_AS_OF, GENERATOR_VERSION, HISTORY_START
from .crm import CrmBuilder
from .fileio import HashingWriter, Manifest
from .ics import write_calendars
from .malformed import inject
from .mbox import write_mboxes
from .rand import Rand
from .seeds import load_sales_process
from .tablewriter import write_columns, write_csv, write_rest_pages
from .truth import DEFINITIONS, PARTNER_DOMAINS, Ctx, TruthBuilder
from .vocab import FREE_MAIL_DOMAINS
from .world import build_world

# share of the total work per step, in order (for the progress callback)
STEP_WEIGHT = {
    "world": 0.01,
    "deals": 0.06,
    "activity": 0.22,
    "crm": 0.1,
    "crm_csv": 0.12,
    "calendar": 0.12,
    "ground_truth": 0.3,
    "mail": 0.07,
    "done": 0.0,
}
STEP_START = {}
_acc = 0.0
for _k, _v in STEP_WEIGHT.items():
    STEP_START[_k] = _acc
    _acc += _v
TRUTH_TABLES = (
    "opportunity",
    "account",
    "contact",
    "opportunity_history",
    "opportunity_field_history",
    "verifier_status_c",
)
OUTPUT_DIRS = ("crm/salesforce", "crm/salesforce_rest", "calendar", "mail", "ground_truth")

Progress = Callable[[str, float], None]


def _rng(ss: np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(ss)


def _write_cols(path: Path, header: list[str], cols: list[list[str]], manifest: Manifest) -> int:
    w = HashingWriter(path)
    n = write_columns(w, header, cols)
    manifest.add(path, n, w.close())
    return n


def generate(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 42,
    rest_pages: bool = False,
    progress: Progress | None = None,
    *,
    seeds_dir: Path | None = None,
) -> dict:
    """Generate the demo data set under ``out_dir`` and return a summary.

    Deterministic for (scale, seed): the same arguments give byte-identical files (the seeds in
    ``dbt_project/seeds`` are read at generation time, so edited seeds change the data).
    Previous output in the known sub-folders of ``out_dir`` is replaced.
    """
    if scale <= 0:
        raise ValueError("scale must be > 0")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for d in OUTPUT_DIRS:
        if (root / d).exists():
            shutil.rmtree(root / d)
    if (root / "manifest.json").exists():
        (root / "manifest.json").unlink()

    done = {"f": 0.0}

    def step(name: str, frac: float) -> None:
        """Report overall progress (0..1, never decreasing): the step's share of the work."""
        if not progress:
            return
        lo = STEP_START.get(name, done["f"])
        f = min(1.0, max(done["f"], lo + STEP_WEIGHT.get(name, 0.0) * frac))
        done["f"] = f
        progress(name, f)

    ss = np.random.SeedSequence([int(seed), 20261101]).spawn(8)
    proc = load_sales_process(seeds_dir)
    step("world", 0.0)
    world = build_world(scale, Rand(_rng(ss[0])))
    step("deals", 0.0)
    opps = dl.DealSimulator(world, proc, scale, Rand(_rng(ss[1]))).run()
    leads = ld.build_leads(world, opps, scale, Rand(_rng(ss[2])))
    people, lead_pid = build_people(world, leads)
    step("activity", 0.0)
    ab = ActivityBuilder(world, proc, opps, leads, people, lead_pid, scale, Rand(_rng(ss[3])))
    ab.build()
    emails = build_messages(ab.th, people, _rng(ss[4]))
    users = list(range(len(world.u_id)))
    # mailboxes are the biggest output: write them in a second process where fork exists
    mail_job = _MailJob(root, emails, people, users, step)
    ab.build_meetings(Rand(_rng(ss[7])))
    step("crm", 0.0)
    tables = CrmBuilder(
        world, proc, opps, leads, people, emails, ab.meetings, Rand(_rng(ss[5]))
    ).build()
    used_accounts = {o.account for o in opps}
    engaged = set()
    for lst in (ab.th.side_a, ab.th.side_b, ab.th.passive):
        for x in lst:
            for p in x:
                if people.contact[p] >= 0:
                    engaged.add(people.contact[p])
    for m in ab.meetings:
        for p in [m.organizer] + [a[0] for a in m.attendees]:
            if people.contact[p] >= 0:
                engaged.add(people.contact[p])
    for o in opps:
        engaged.update(o.stakeholders)
    malformed = inject(tables, used_accounts, engaged, scale, Rand(_rng(ss[6])))
    kinds = np.frombuffer(ab.th.kind, dtype=np.int8)[emails.thread]
    bad_msg = set(np.flatnonzero(kinds == K_MALFORMED).tolist())
    for i in sorted(bad_msg):
        malformed.append(
            {
                "table": "mail",
                "id": emails.msgid[i],
                "intended_id": emails.msgid[i],
                "row_number": None,
                "column": "Date",
                "raw_value": None,
                "reason": "Date header is not an RFC 5322 date",
            }
        )

    manifest = Manifest(root)
    summary: dict = {"out_dir": str(root), "scale": scale, "seed": seed, "tables": {}, "files": {}}
    # CRM tables
    step("crm_csv", 0.0)
    crm_dir = root / "crm" / "salesforce"
    n_pages = 0
    for k, name in enumerate(sorted(tables)):
        t = tables[name]
        summary["tables"][name] = write_csv(crm_dir / f"{name}.csv", t, manifest)
        if rest_pages:
            n_pages += write_rest_pages(root / "crm" / "salesforce_rest", t, manifest)
        if name not in TRUTH_TABLES:
            del tables[name]  # free memory: the ground truth does not need it
        step("crm_csv", (k + 1) / len(summary["tables"]))
    summary["files"]["csv"] = len(summary["tables"])
    if rest_pages:
        summary["files"]["rest_pages"] = n_pages
    # calendars: one per internal user
    step("calendar", 0.0)
    cstats = write_calendars(
        root, ab.meetings, people, users, manifest, lambda f: step("calendar", f)
    )
    summary["files"]["ics"] = cstats["calendars"]
    summary["meeting_series"] = cstats["series"]
    summary["calendar_events"] = cstats["calendar_events"]
    # ground truth
    step("ground_truth", 0.0)
    params = {
        "deals": dl.params(),
        "activity": {
            k: v
            for k, v in vars(act).items()
            if k.isupper()
            and not k.startswith("K_")
            and isinstance(v, (int, float, str, tuple, dict))
        },
        "leads": {k: v for k, v in vars(ld).items() if k.isupper()},
    }
    ctx = Ctx(
        world,
        proc,
        opps,
        people,
        emails,
        ab.meetings,
        tables,
        malformed,
        bad_msg,
        scale,
        seed,
        params,
    )
    tb = TruthBuilder(ctx)
    tb.engagement()
    step("ground_truth", 0.15)
    tb.responses()
    tb.verifier_events()
    step("ground_truth", 0.3)
    aggregates = tb.aggregates()
    effects = tb.effects(aggregates)
    step("ground_truth", 0.5)
    gt_dir = root / "ground_truth"
    _write_cols(gt_dir / "verifier_history.csv", *tb.verifier_columns(), manifest)
    _write_cols(gt_dir / "opportunity_truth.csv", *tb.opportunity_columns(), manifest)
    path = gt_dir / "activity_truth.csv"
    w = HashingWriter(path)
    n_act = 0
    header = list(tb.ACTIVITY_HEADER)
    for cols in tb.activity_chunks():
        n_act += write_columns(w, header, cols)
        header = None
    if header is not None:
        write_columns(w, header, [[] for _ in header])
    manifest.add(path, n_act, w.close())
    summary["meeting_occurrences"] = n_act - len(emails)
    # the mailboxes
    mfiles, mstats = mail_job.result()
    manifest.files.update(mfiles)
    summary["files"]["mbox"] = mstats["mailboxes"]
    summary["emails"] = mstats["messages"]
    summary["mailbox_messages"] = mstats["mailbox_messages"]
    truth = {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "seed": seed,
        "as_of": str(DEMO_AS_OF),
        "history_start": str(HISTORY_START),
        "currency": CURRENCY,
        "company_domains": [COMPANY_DOMAIN],
        "free_mail_domains": list(FREE_MAIL_DOMAINS),
        "partner_domains": list(PARTNER_DOMAINS),
        "conventions": {
            "probability": "opportunity.probability is a percent: 100 x the seed's default_probability",
            "forecast_category": "API value (seed label without spaces); forecast_category_name = label",
            "currency": "all amounts in USD (currency_iso_code = USD)",
            "churn": "a Renewal opportunity that is Closed Lost",
            "expansion": "an Expansion opportunity on an existing customer after a won New Business deal",
            "renewals_and_verifiers": "Renewal opportunities carry no verifier events",
            "timestamps": "UTC, 'YYYY-MM-DD HH:MM:SS' in CSV",
        },
        "sales_process": {
            "stages": [s.name for s in proc.stages],
            "verifiers": [
                {
                    "key": v.key,
                    "buying_job": v.buying_job,
                    "weight": v.weight,
                    "crm_source": v.crm_source,
                    "crm_field": v.crm_field or None,
                }
                for v in proc.verifiers
            ],
        },
        "effects": effects,
        "definitions": DEFINITIONS,
        "aggregates": aggregates,
        "malformed": malformed,
        "counts": {
            "opportunities": len(opps),
            "emails": len(emails),
            "meeting_occurrences": summary["meeting_occurrences"],
            "mailbox_messages": summary["mailbox_messages"],
            "meeting_series": len(ab.meetings),
        },
    }
    path = gt_dir / "ground_truth.json"
    w = HashingWriter(path)
    w.write(json.dumps(truth, indent=1, ensure_ascii=False, default=_json_default))
    w.write("\n")
    manifest.add(path, 1, w.close())
    # manifest
    man = {
        "generator": "revwh.demo",
        "version": GENERATOR_VERSION,
        "scale": scale,
        "seed": seed,
        "as_of": str(DEMO_AS_OF),
        "files": {k: manifest.files[k] for k in sorted(manifest.files)},
    }
    (root / "manifest.json").write_text(json.dumps(man, indent=1) + "\n", encoding="utf-8")
    summary["rows"] = dict(summary["tables"])
    summary["paths"] = {
        "crm": str(crm_dir),
        "crm_rest": str(root / "crm" / "salesforce_rest") if rest_pages else None,
        "calendar": str(root / "calendar"),
        "mail": str(root / "mail"),
        "ground_truth": str(path),
        "manifest": str(root / "manifest.json"),
    }
    summary["files"]["total"] = len(manifest.files) + 1
    step("done", 1.0)
    return summary


class _MailJob:
    """Writes the mbox files, in a forked child process when the platform allows it (the
    output is the same either way). Set REVWH_DEMO_WORKERS=1 to stay in one process."""

    def __init__(self, root: Path, emails, people, users: list[int], step: Progress):
        self.args = (root, emails, people, users)
        self.step = step
        self.proc = None
        self.conn = None
        self._result = None
        use_fork = (
            "fork" in mp.get_all_start_methods()
            and os.environ.get("REVWH_DEMO_WORKERS", "2") != "1"
        )
        if use_fork:
            ctx = mp.get_context("fork")
            self.conn, child = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=_mail_child, args=(child, *self.args), daemon=True)
            self.proc.start()
            child.close()

    def _run(self):
        root, emails, people, users = self.args
        m = Manifest(root)
        self.step("mail", 0.0)
        stats = write_mboxes(root, emails, people, users, m, lambda f: self.step("mail", f))
        return m.files, stats

    def result(self):
        if self._result is None and self.proc is None:
            self._result = self._run()
        if self._result is None:
            self.step("mail", 0.0)
            try:
                status, payload = self.conn.recv()
            except EOFError:
                status, payload = "error", "mail writer process died"
            self.proc.join()
            if status != "ok":
                raise RuntimeError(f"writing mailboxes failed: {payload}")
            self._result = payload
            self.step("mail", 1.0)
        return self._result


def _mail_child(conn, root, emails, people, users) -> None:
    try:
        m = Manifest(root)
        stats = write_mboxes(root, emails, people, users, m)
        conn.send(("ok", (m.files, stats)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")
