"""Run dbt (in process, through dbt's own runner) against a candidate version schema."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from revwh.settings import DBT_PROJECT_DIR, Settings

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    """A dbt command failed; the message lists the failing nodes."""


@dataclass
class DbtResult:
    command: str
    success: bool
    nodes: list[dict] = field(default_factory=list)
    target_path: Path | None = None

    @property
    def failures(self) -> list[dict]:
        return [n for n in self.nodes if n["status"] in ("error", "fail", "runtime error")]

    def summary(self) -> str:
        return "; ".join(f"{n['name']}: {n['message'] or n['status']}" for n in self.failures)


def dbt_env(settings: Settings, schema: str) -> dict[str, str]:
    env = {"REVWH_DBT_TARGET": settings.target, "REVWH_BUILD_SCHEMA": schema,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if settings.target == "duckdb":
        env["REVWH_DUCKDB_PATH"] = str(settings.warehouse_path)
    else:
        url = urlparse(settings.postgres_dsn)
        env.update({"REVWH_PG_HOST": url.hostname or "127.0.0.1",
                    "REVWH_PG_PORT": str(url.port or 5432),
                    "REVWH_PG_USER": unquote(url.username or "postgres"),
                    "REVWH_PG_PASSWORD": unquote(url.password or ""),
                    "REVWH_PG_DATABASE": (url.path or "/warehouse").lstrip("/")})
    return env


def run_dbt(settings: Settings, schema: str, args: list[str], as_of: str,
            extra_vars: dict | None = None) -> DbtResult:
    """Run one dbt command in a subprocess (it holds the DuckDB file only while it runs) and
    read its run_results.json. Never raises for model or test failures."""
    variables = {"as_of_date": as_of, **(extra_vars or {})}
    target_path = settings.home / "dbt_target" / schema
    argv = [str(Path(sys.executable).parent / "dbt"), *args,
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target_path), "--vars", json.dumps(variables)]
    env = {**os.environ, **dbt_env(settings, schema)}
    # `dbt source freshness` writes sources.json; every other command run_results.json
    results_file = target_path / ("sources.json" if args[:2] == ["source", "freshness"]
                                  else "run_results.json")
    results_file.unlink(missing_ok=True)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    nodes = []
    if results_file.exists():
        for r in json.loads(results_file.read_text()).get("results", []):
            uid = r["unique_id"]
            nodes.append({"name": uid.split(".")[-1] if not uid.startswith("test.") else uid.split(".")[2],
                          "unique_id": uid, "status": r["status"], "message": r.get("message") or "",
                          "failures": r.get("failures")})
    if proc.returncode != 0 and not any(n["status"] in ("error", "fail") for n in nodes):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        nodes.append({"name": f"dbt {args[0]}", "unique_id": "", "status": "error",
                      "message": " | ".join(tail), "failures": None})
    log.info("dbt %s: %s", " ".join(args), "ok" if proc.returncode == 0 else "failed")
    return DbtResult(command=" ".join(args), success=proc.returncode == 0, nodes=nodes,
                     target_path=target_path)


def build_candidate(settings: Settings, schema: str, as_of: str) -> DbtResult:
    """Seeds and models into `schema`; tests are the quality gate's job."""
    result = run_dbt(settings, schema, ["build", "--exclude-resource-type", "test",
                                        "--exclude-resource-type", "unit_test"], as_of)
    if not result.success:
        raise DbtFailed(f"dbt build into {schema} failed: {result.summary()}. "
                        "Nothing was published; fix the model or its input and rerun.")
    return result


def mart_models(result: DbtResult) -> list[str]:
    """Models marked `publish` in dbt (the marts), from the manifest of that dbt run."""
    manifest = result.target_path / "manifest.json"
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted(n["name"] for n in nodes
                  if n["resource_type"] == "model" and n.get("config", {}).get("meta", {}).get("publish"))
