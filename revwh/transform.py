"""Run dbt (in a subprocess) against a candidate version schema.

Incremental models under write-audit-publish: every build writes a new version schema, where an
incremental model would find no table and rebuild from scratch. So before `dbt build`, each
published incremental model (materialized `versioned_incremental`:
macros/versioned_incremental.sql) continues from the rows the published version saw in its
shared generation table (`carry_over`); dbt then only processes the days after them (see the
models' lookback).
Incremental models that are not published (the activity staging and intermediates, config
`schema=var('state_schema')`) live in one state schema that each build continues in place:
copying millions of their rows into every version cost more than recomputing the window. A
model whose SQL file changed since that version (any state model: all of them), a build with no
published version, or a `full_refresh` build starts from scratch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from revwh.dbt_runner import STATUS_FILE
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
    carried_over: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[dict]:
        return [n for n in self.nodes if n["status"] in ("error", "fail", "runtime error")]

    def summary(self) -> str:
        return "; ".join(f"{n['name']}: {n['message'] or n['status']}" for n in self.failures)


def dbt_env(settings: Settings, schema: str, read_only: bool = False) -> dict[str, str]:
    env = {"REVWH_DBT_TARGET": settings.target, "REVWH_BUILD_SCHEMA": schema,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           # dbt.log at info (each model's outcome) unless set: the debug lines (every query
           # with its time, ~11,000 in a nightly) cost ~4% of a nightly build
           "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
           # every session in UTC: timestamps land as timestamptz, models cast them to timestamp
           "PGTZ": "UTC"}
    if settings.target == "duckdb":
        env["REVWH_DUCKDB_PATH"] = str(settings.warehouse_path)
        # a read-only dbt process lets other processes read the file at the same time
        env["REVWH_DUCKDB_ACCESS_MODE"] = "read_only" if read_only else "automatic"
    else:
        url = urlparse(settings.postgres_dsn)
        env.update({"REVWH_PG_HOST": url.hostname or "127.0.0.1",
                    "REVWH_PG_PORT": str(url.port or 5432),
                    "REVWH_PG_USER": unquote(url.username or "postgres"),
                    "REVWH_PG_PASSWORD": unquote(url.password or ""),
                    "REVWH_PG_DATABASE": (url.path or "/warehouse").lstrip("/")})
    return env


def hubspot_landed(settings: Settings) -> bool:
    """Whether the HubSpot source schema (dbt var `hubspot_schema`) has deals: HubSpot's staging
    models are then enabled (var `hubspot_enabled`), whoever landed them (revwh or Fivetran)."""
    from revwh.warehouse import connect, warehouse_exists

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    schema = (project.get("vars") or {}).get("hubspot_schema", "raw_hubspot")
    if not warehouse_exists(settings):
        return False
    with connect(settings, read_only=True) as con:
        return con.schema_exists(schema) and "deal" in con.relations(schema)


def dbt_vars(settings: Settings, as_of: str, changed_since: str | None = None,
             hubspot_enabled: bool | None = None,
             carried_generations: dict[str, str] | None = None,
             continued_as_of: str | None = None) -> dict:
    """The vars of every dbt command of a run (revwh.cosmos_dbt passes the same), with
    `carry_over_vars`. `hubspot_enabled`: by default whether HubSpot deals have landed
    (`hubspot_landed`)."""
    if hubspot_enabled is None:
        hubspot_enabled = hubspot_landed(settings)
    return {"as_of_date": as_of, "company_domains": list(settings.company_domains),
            "hash_external_addresses": settings.hash_external_addresses,
            "hubspot_enabled": hubspot_enabled,
            **carry_over_vars(changed_since, carried_generations, continued_as_of)}


def carry_over_vars(changed_since: str | None = None,
                    carried_generations: dict[str, str] | None = None,
                    continued_as_of: str | None = None) -> dict:
    """The vars that say what a build continues from. `changed_since`: the build time of the
    version the incremental models were carried over from (activity landed after it is
    recomputed, whatever its date). `carried_generations`: the versioned_incremental models
    carried over, and their generation tables (`prepare_carried`). `continued_as_of`: that
    version's as-of date (the activity window reaches back from it too: what was in its future
    is recomputed after a gap)."""
    found = {}
    if changed_since:
        found["activity_changed_since"] = changed_since
    if continued_as_of:
        found["continued_as_of"] = continued_as_of
    if carried_generations:
        found["carried_generations"] = carried_generations
    return found


def _results_file(target_path: Path, args: list[str]) -> Path:
    # `dbt source freshness` writes sources.json; every other command run_results.json
    return target_path / ("sources.json" if args[:2] == ["source", "freshness"]
                          else "run_results.json")


class DbtRun:
    """dbt commands running in a subprocess (`start_dbt_commands`); `results()` waits for them."""

    def __init__(self, proc: subprocess.Popen, commands: list[list[str]], files: list[Path],
                 target_path: Path, output: Path):
        self.proc, self.commands, self.files = proc, commands, files
        self.target_path, self.output = target_path, output

    def go(self, run_vars: dict | None = None, args: list[str] | None = None) -> None:
        """Let a run started with `wait_for_go` run its commands, with `run_vars` over its vars
        (vars read when SQL is compiled: revwh.dbt_runner.RUN_VARS) and `args` added to each."""
        go = {"vars": run_vars or {}, "args": args or []}
        with contextlib.suppress(BrokenPipeError):  # it has exited (its parse failed): see results
            self.proc.stdin.write(f"go {json.dumps(go)}\n".encode())
            self.proc.stdin.close()

    def cancel(self) -> None:
        """Stop a run started with `wait_for_go` before it runs anything."""
        self.proc.stdin.close()  # the runner reads end-of-file instead of "go" and exits
        self.proc.wait()

    def results(self) -> list[DbtResult]:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()  # a run still waiting for go() is cancelled, not waited on
        self.proc.wait()
        target_path = self.target_path
        status_file = target_path / STATUS_FILE
        statuses = json.loads(status_file.read_text()) if status_file.exists() else []
        results = []
        for i, (args, results_file) in enumerate(zip(self.commands, self.files)):
            ok = i < len(statuses) and statuses[i]["success"]
            nodes = []
            if results_file.exists():
                for r in json.loads(results_file.read_text()).get("results", []):
                    uid = r["unique_id"]
                    nodes.append({"name": uid.split(".")[2 if uid.startswith("test.") else -1],
                                  "unique_id": uid, "status": r["status"],
                                  "message": r.get("message") or "",
                                  "failures": r.get("failures")})
            if not ok and not any(n["status"] in ("error", "fail") for n in nodes):
                why = statuses[i]["error"] if i < len(statuses) else " | ".join(
                    self.output.read_text(errors="replace").strip().splitlines()[-5:])
                nodes.append({"name": f"dbt {args[0]}", "unique_id": "", "status": "error",
                              "message": why, "failures": None})
            log.info("dbt %s: %s", " ".join(args), "ok" if ok else "failed")
            results.append(DbtResult(command=" ".join(args), success=ok, nodes=nodes,
                                     target_path=target_path))
        return results


def start_dbt_commands(settings: Settings, schema: str, commands: list[list[str]], as_of: str,
                       extra_vars: dict | None = None, read_only: bool = False,
                       niceness: int = 0, wait_for_go: bool = False,
                       write_manifest: bool = False) -> DbtRun:
    """Start dbt commands, one after another in ONE subprocess (dbt's import and the project's
    parse are paid once; the DuckDB file is held only while it runs), with the run's vars
    (`dbt_vars`) and `extra_vars` over them. `read_only` (commands
    that only read, e.g. tests) lets this process share the DuckDB file with readers;
    `niceness` lowers the process's CPU priority (work running alongside goes first);
    `wait_for_go`: dbt imports and parses, then waits for `DbtRun.go()` before it opens the
    DuckDB file (the caller can write to it meanwhile, and decide the run's vars);
    `write_manifest`: the run's manifest.json is the cached parse's (revwh.dbt_runner)."""
    target_path = settings.home / "dbt_target" / schema
    files = [_results_file(target_path, args) for args in commands]
    if len(set(files)) != len(files):
        raise ValueError("commands in one dbt run must write different results files")
    spec = {"commands": commands, "results_files": [str(f) for f in files], "schema": schema,
            "vars": {**dbt_vars(settings, as_of), **(extra_vars or {})},
            "target_path": str(target_path), "wait_for_go": wait_for_go,
            "write_manifest": write_manifest,
            # one parse cache per warehouse target, reused by every version (revwh.dbt_runner)
            "parse_path": str(settings.home / "dbt_target" / f"_parse_{settings.target}")}
    output = target_path / "revwh_runner.log"
    for f in [*files, target_path / STATUS_FILE]:
        f.unlink(missing_ok=True)
    target_path.mkdir(parents=True, exist_ok=True)
    # output to a file, not a pipe: nobody reads a pipe while the caller works alongside
    with output.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "revwh.dbt_runner", json.dumps(spec)],
                                env={**os.environ, **dbt_env(settings, schema, read_only)},
                                stdin=subprocess.PIPE if wait_for_go else subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, cwd=DBT_PROJECT_DIR)
    if niceness:  # before dbt starts its threads, which inherit it
        os.setpriority(os.PRIO_PROCESS, proc.pid, niceness)
    return DbtRun(proc, commands, files, target_path, output)


def run_dbt_commands(settings: Settings, schema: str, commands: list[list[str]], as_of: str,
                     extra_vars: dict | None = None) -> list[DbtResult]:
    """Run dbt commands in one subprocess (`start_dbt_commands`) and read their results.
    Never raises for model or test failures."""
    return start_dbt_commands(settings, schema, commands, as_of, extra_vars).results()


def run_dbt(settings: Settings, schema: str, args: list[str], as_of: str,
            extra_vars: dict | None = None) -> DbtResult:
    """One dbt command (see run_dbt_commands)."""
    return run_dbt_commands(settings, schema, [args], as_of, extra_vars)[0]


INCREMENTAL = ("incremental", "versioned_incremental")


def load_manifest(path: Path) -> dict:
    """A dbt run's manifest.json, parsed."""
    return json.loads(path.read_text())


def incremental_models(manifest: dict) -> dict[str, dict]:
    """Incremental models of a dbt manifest: name -> {state_schema (the schema of a model kept
    in place from build to build, else None), versioned (a versioned_incremental model:
    macros/versioned_incremental.sql)}."""
    nodes = manifest["nodes"].values()
    return {n["name"]: {"state_schema": n["schema"] if n["config"].get("schema") else None,
                        "versioned": n["config"]["materialized"] == "versioned_incremental"}
            for n in nodes
            if n["resource_type"] == "model" and n["config"].get("materialized") in INCREMENTAL}


def _file_checksum(relative: str) -> str | None:
    path = DBT_PROJECT_DIR / relative
    if not path.exists():
        return None
    # dbt hashes the file's text stripped of surrounding whitespace
    return hashlib.sha256(path.read_text(encoding="utf-8").strip().encode("utf-8")).hexdigest()


def _calls(code: str, macros: set[str]) -> bool:
    """Whether Jinja `code` calls one of `macros` (by name, in any branch)."""
    return bool(macros) and re.search(
        r"\b(" + "|".join(map(re.escape, macros)) + r")\s*\(", code) is not None


def _changed_macros(macros: dict) -> set[str]:
    """Names of the project's macros whose text is no longer in their file, and of those
    calling one."""
    ours = {m["name"]: m for uid, m in macros.items() if uid.startswith("macro.revwh.")}
    texts: dict[str, str] = {}
    changed = set()
    for name, macro in ours.items():
        relative = macro["original_file_path"]
        if relative not in texts:
            path = DBT_PROJECT_DIR / relative
            texts[relative] = path.read_text(encoding="utf-8") if path.exists() else ""
        if macro["macro_sql"] not in texts[relative]:
            changed.add(name)
    while callers := {name for name, macro in ours.items()
                      if name not in changed and _calls(macro["macro_sql"], changed)}:
        changed |= callers
    return changed


def _built_with(node: dict, macros: set[str]) -> bool:
    """Whether a model calls one of `macros` (`_calls`: dbt's depends_on misses the branches not
    taken at parse time), or dbt calls one for it: its materialization, its incremental
    strategy."""
    config = node.get("config", {})
    return (_calls(node.get("raw_code", ""), macros)
            or f"materialization_{config.get('materialized')}_default" in macros
            or f"get_incremental_{config.get('incremental_strategy')}_sql" in macros)


def stale_models(manifest: dict) -> set[str]:
    """Models of `manifest` to rebuild in full: those whose SQL file or project macros changed
    since, and every model downstream of a changed model or seed (their rows were computed from
    the old ones)."""
    nodes, children = manifest["nodes"], manifest["child_map"]
    macros = _changed_macros(manifest["macros"])
    todo = [uid for uid, n in nodes.items() if n["resource_type"] in ("model", "seed")
            and (_file_checksum(n["original_file_path"]) != n["checksum"]["checksum"]
                 or _built_with(n, macros))]
    stale: set[str] = set()
    while todo:
        uid = todo.pop()
        if uid not in stale:
            stale.add(uid)
            todo.extend(children.get(uid, []))
    return {nodes[uid]["name"] for uid in stale
            if uid in nodes and nodes[uid]["resource_type"] == "model"}


def drop_state(settings: Settings, manifest: dict) -> None:
    """Drop the state models' tables (those in `manifest`), so that the next build makes them
    from scratch."""
    from revwh.warehouse import connect

    with connect(settings) as con:
        for name, node in incremental_models(manifest).items():
            if node["state_schema"]:
                con.execute(f'drop table if exists "{node["state_schema"]}"."{name}"')


@dataclass
class CarryOver:
    """What a build continues from the previous version (`plan_carry_over`)."""
    generations: dict[str, str] = field(default_factory=dict)  # versioned model -> generation
    continued: list[str] = field(default_factory=list)  # state models continued in place

    @property
    def models(self) -> list[str]:
        return sorted([*self.generations, *self.continued])


def carry_over(settings: Settings, schema: str, previous: str) -> CarryOver:
    """Let each incremental model continue from the `previous` version (`plan_carry_over`, then
    `prepare_carried`)."""
    plan = plan_carry_over(settings, previous)
    prepare_carried(settings, schema, previous, plan)
    return plan


def plan_carry_over(settings: Settings, previous: str) -> CarryOver:
    """Which incremental models continue from the `previous` version: a versioned_incremental
    model continues its generation table (`prepare_carried`); a state model is continued in
    place (a published plain `incremental` model would find no table and build in full). Models
    are read from the manifest of the previous version's dbt run. A model whose SQL file or
    macros, or an upstream model's or seed's, changed since is not continued (`stale_models`: it
    is rebuilt in full); if a state model is stale, every state model's table is dropped now
    (they feed each other)."""
    from revwh.warehouse import connect

    path = settings.home / "dbt_target" / previous / "manifest.json"
    if not path.exists():
        log.info("carry-over: no manifest for %s, incremental models build in full", previous)
        return CarryOver()
    manifest = load_manifest(path)
    models = incremental_models(manifest)
    changed = stale_models(manifest) & set(models)
    state = {name: node["state_schema"] for name, node in models.items() if node["state_schema"]}
    if changed & set(state):
        log.info("carry-over: %s (or what they are built with) changed since %s, state models "
                 "built in full", ", ".join(sorted(changed & set(state))), previous)
        drop_state(settings, manifest)
    versioned_schema = versioned_state_schema()
    with connect(settings) as con:
        # a state model continues if its table is there (a dropped one is rebuilt in full)
        continued = [name for name, state_schema in state.items()
                     if con.schema_exists(state_schema) and name in con.relations(state_schema)]
        present = set(con.relations(previous)) if con.schema_exists(previous) else set()
        registered = (con.schema_exists(versioned_schema)
                      and "versioned_generations" in con.relations(versioned_schema))
        generations = dict(con.execute(
            f'select model, generation from "{versioned_schema}".versioned_generations '
            "where version = ?", [previous])) if registered else {}
    plan = CarryOver(continued=continued)
    for name in sorted((set(models) - set(state)) & present):
        if name in changed:
            log.info("carry-over: %s (or what it is built with) changed since %s, built in full",
                     name, previous)
        elif models[name]["versioned"] and name in generations:
            plan.generations[name] = generations[name]
    log.info("carry-over from %s: %s", previous, ", ".join(plan.models) or "nothing")
    return plan


def versioned_state_schema() -> str:
    """The schema of the versioned_incremental models' generation tables and of the table
    recording which generation each version reads, `versioned_generations` (dbt var
    `state_schema`; macros/versioned_incremental.sql)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return project["vars"]["state_schema"]


def prepare_carried(settings: Settings, schema: str, previous: str, plan: CarryOver) -> None:
    """Point each versioned model's relation in `schema` at the rows `previous` saw (the current
    rows of its generation, once the stamps of any later version, e.g. a failed candidate's, are
    undone): dbt's incremental run reads them as `{{ this }}`."""
    from revwh.warehouse import connect

    if not plan.generations:
        return
    state = versioned_state_schema()
    with connect(settings) as con:
        con.execute(f'create schema if not exists "{schema}"')
        for name, generation in plan.generations.items():
            table = f'"{state}"."{generation}"'
            columns = ", ".join(f'"{c}"' for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position", [state, generation])
                if not c.startswith("_revwh_"))
            with con.transaction():
                con.execute(f"delete from {table} where _revwh_from > ?", [previous])
                con.execute(f"update {table} set _revwh_to = null where _revwh_to > ?", [previous])
                con.execute(f'create view "{schema}"."{name}" as select {columns} from {table} '
                            "where _revwh_to is null")
    log.info("carry-over: %s continue from %s's rows in %s", ", ".join(plan.generations),
             previous, schema)


@dataclass
class Continued:
    """The published version a build continues from: its schema, build time and as-of date."""
    version: str
    built_at: str
    as_of: str


def build_candidate(settings: Settings, schema: str, as_of: str, *, full_refresh: bool = False,
                    prepare: Callable[[], Continued | None] | None = None) -> DbtResult:
    """Seeds and models into `schema`; tests are the quality gate's job.

    dbt starts first: while it imports and parses the project, `prepare` does what the build
    needs besides (registers the candidate, writes what the models read besides the raw layer)
    and returns the published version to continue from; then the carry-over is planned and
    prepared. Incremental models continue from that version (`plan_carry_over`,
    `prepare_carried`); without one, or with `full_refresh`, everything is rebuilt from the raw
    layer (state models too: a failed build may have left them). If the build fails on a
    carried-over model (e.g. its columns changed), it is rebuilt once in full."""
    args = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    full = ["--full-refresh"]
    run = start_dbt_commands(settings, schema, [args], as_of, wait_for_go=True,
                             write_manifest=True)
    try:
        previous = prepare() if prepare else None
        continues = previous is not None and not full_refresh
        plan = plan_carry_over(settings, previous.version) if continues else CarryOver()
        if continues:
            prepare_carried(settings, schema, previous.version, plan)
    except BaseException:
        run.cancel()
        raise
    run.go(carry_over_vars(previous.built_at, plan.generations, previous.as_of)
           if plan.models else {}, [] if continues else full)
    result = run.results()[0]
    carried = result.carried_over = plan.models
    if not result.success and carried and {n["name"] for n in result.failures} & set(carried):
        log.warning("build on carried-over tables failed (%s): rebuilding them in full",
                    result.summary())
        result = run_dbt(settings, schema, args + full, as_of)
        result.carried_over = []
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
