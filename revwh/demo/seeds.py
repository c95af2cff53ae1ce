"""Read the dbt seeds that define the sales process and the verifier catalogue.

The generator reads them at generation time (never hard-coded) so a user who edits the seeds
gets consistent demo data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


def default_seeds_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def _bool(s: str) -> bool:
    return s.strip().lower() in ("true", "t", "1", "yes")


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    probability: float  # 0..1 as in the seed
    forecast_category: str  # seed label, e.g. "Best Case"
    is_closed: bool
    is_won: bool

    @property
    def forecast_category_api(self) -> str:
        """Salesforce's API value of ForecastCategory ("Best Case" -> "BestCase")."""
        return self.forecast_category.replace(" ", "")


@dataclass(frozen=True)
class Verifier:
    key: str
    buying_job: str
    job_order: int
    name: str
    weight: float
    crm_source: str  # "object" or "field"
    crm_field: str


@dataclass(frozen=True)
class SalesProcess:
    open_stages: list[Stage]  # ordered by stage_order
    won: Stage
    lost: Stage
    verifiers: list[Verifier]  # ordered by (buying_job_order, file order)
    jobs: list[str]  # buying jobs ordered
    job_verifiers: list[list[int]]  # per job: indexes into verifiers

    @property
    def stages(self) -> list[Stage]:
        return [*self.open_stages, self.won, self.lost]

    def job_stage(self, jobs_done: int) -> int:
        """Open-stage index a deal is in after completing ``jobs_done`` buying jobs."""
        n_open, n_jobs = len(self.open_stages), len(self.jobs)
        return min(n_open - 1, (jobs_done * n_open) // n_jobs)

    @property
    def field_columns(self) -> list[str]:
        out: list[str] = []
        for v in self.verifiers:
            if v.crm_source == "field" and v.crm_field and v.crm_field not in out:
                out.append(v.crm_field)
        return out


def load_sales_process(seeds_dir: Path | None = None) -> SalesProcess:
    d = Path(seeds_dir) if seeds_dir else default_seeds_dir()
    for name in ("sales_process_map.csv", "verifier_catalogue.csv"):
        if not (d / name).is_file():
            raise FileNotFoundError(
                f"{d / name} not found: the demo generator reads the dbt seeds; pass seeds_dir="
                "(the folder holding sales_process_map.csv and verifier_catalogue.csv)"
            )
    with open(d / "sales_process_map.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    stages = [
        Stage(
            r["stage_name"].strip(),
            int(r["stage_order"]),
            float(r["default_probability"]),
            r["forecast_category"].strip(),
            _bool(r["is_closed"]),
            _bool(r["is_won"]),
        )
        for r in rows
    ]
    open_stages = sorted((s for s in stages if not s.is_closed), key=lambda s: s.order)
    won = [s for s in stages if s.is_closed and s.is_won]
    lost = [s for s in stages if s.is_closed and not s.is_won]
    if not open_stages or not won or not lost:
        raise ValueError(f"{d}/sales_process_map.csv needs open stages, a won and a lost stage")
    with open(d / "verifier_catalogue.csv", newline="", encoding="utf-8") as f:
        vrows = list(csv.DictReader(f))
    verifiers = [
        Verifier(
            r["verifier_key"].strip(),
            r["buying_job"].strip(),
            int(r["buying_job_order"]),
            r["name"].strip(),
            float(r["weight"]),
            (r.get("crm_source") or "object").strip() or "object",
            (r.get("crm_field") or "").strip(),
        )
        for r in vrows
    ]
    order = sorted(range(len(verifiers)), key=lambda i: (verifiers[i].job_order, i))
    verifiers = [verifiers[i] for i in order]
    for v in verifiers:
        if v.crm_source == "field" and not v.crm_field:
            raise ValueError(f"verifier {v.key}: crm_source=field needs crm_field")
    jobs: list[str] = []
    for v in verifiers:
        if v.buying_job not in jobs:
            jobs.append(v.buying_job)
    job_verifiers = [[i for i, v in enumerate(verifiers) if v.buying_job == j] for j in jobs]
    return SalesProcess(open_stages, won[0], lost[0], verifiers, jobs, job_verifiers)
