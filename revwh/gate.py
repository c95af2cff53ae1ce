"""The quality gate: dbt's data tests, then the Great Expectations suites in `expectations/`,
both on the candidate version before anything is published (DESIGN §3).

GX's SQL datasource fails on DuckDB (DESIGN §7), so on DuckDB each table is read into a
dataframe and validated there. Suites are GX's own JSON; a suite's `meta.table` names the table
it checks, and `{"$PARAMETER": name}` values are filled from the seeds (accepted stages...).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from revwh.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, Settings
from revwh.transform import DbtResult, run_dbt
from revwh.warehouse import connect

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """The candidate failed the gate; the message names each failing check and table."""


@dataclass
class GateReport:
    schema: str
    dbt: DbtResult | None = None
    expectations: list[dict] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        found = [f"dbt test {n['name']}: {n['message'] or n['status']}"
                 for n in (self.dbt.failures if self.dbt else [])]
        found += [f"{e['suite']} on {e['table']}: {e['expectation']} {e['detail']}"
                  for e in self.expectations if not e["success"]]
        return found

    @property
    def passed(self) -> bool:
        return not self.failures


def seed_parameters() -> dict[str, list]:
    """Values the suites may refer to with $PARAMETER, read from the dbt seeds."""
    def column(seed: str, name: str) -> list[str]:
        with (DBT_PROJECT_DIR / "seeds" / f"{seed}.csv").open() as f:
            return [row[name] for row in csv.DictReader(f)]

    return {"stage_names": column("sales_process_map", "stage_name"),
            "verifier_keys": column("verifier_catalogue", "verifier_key"),
            "verifier_statuses": ["started", "verified", "regressed"]}


def load_suites(folder: Path = EXPECTATIONS_DIR) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _gx_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


def run_expectations(settings: Settings, schema: str) -> list[dict]:
    gx, context = _gx_context()
    datasource = context.data_sources.add_pandas("revwh_candidate")
    parameters = seed_parameters()
    outcomes = []
    with connect(settings, read_only=True) as con:
        for spec in load_suites():
            table = spec["meta"]["table"]
            suite = context.suites.add(gx.ExpectationSuite(
                name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta")))
            frame = con.df(f'select * from "{schema}"."{table}"')
            batch = (datasource.add_dataframe_asset(name=f"{spec['name']}__{table}")
                     .add_batch_definition_whole_dataframe("all")
                     .get_batch(batch_parameters={"dataframe": frame}))
            result = batch.validate(suite, expectation_parameters=parameters)
            for r in result.results:
                detail = {k: r.result.get(k) for k in ("observed_value", "unexpected_count",
                                                       "partial_unexpected_list")
                          if r.result.get(k) not in (None, [])}
                outcomes.append({"suite": spec["name"], "table": table,
                                 "expectation": r.expectation_config.type,
                                 "kwargs": {k: v for k, v in r.expectation_config.kwargs.items()
                                            if k != "batch_id"},
                                 "success": bool(r.success), "detail": json.dumps(detail, default=str)})
    return outcomes


def run_gate(settings: Settings, schema: str, as_of: str) -> GateReport:
    """Audit the candidate `schema`. Raises GateFailed naming every failure."""
    report = GateReport(schema=schema)
    report.dbt = run_dbt(settings, schema, ["test", "--exclude-resource-type", "unit_test"], as_of)
    report.expectations = run_expectations(settings, schema)
    if not report.passed:
        raise GateFailed(f"quality gate failed for {schema}, nothing published "
                         f"({len(report.failures)} failures): " + " | ".join(report.failures))
    return report
