"""Run one dbt command against a candidate version schema without re-parsing the project.

dbt's partial parsing is lost whenever the profile or the vars change, and every nightly build
has a new schema (the profile's) and a new as-of date (a var): a full parse of the project, every
time, costs more than an incremental build itself. So the project is parsed with a fixed
placeholder schema, one access mode and without the run's vars (as-of date, activity window),
which keeps `partial_parse.msgpack` valid from run to run, for builds and the gate alike; the
parsed manifest's nodes are then pointed at the candidate schema, and dbt runs with that
manifest (no parse) and the run's vars (read when SQL is compiled). The parsed manifest is kept
(pickled) with a key of what the parse depends on, and reused while the key holds: even a
partial parse that finds nothing changed takes ~0.9 s.

Run as `python -m revwh.dbt_runner SPEC_JSON` (revwh.transform does), for one or more commands
that share the parse: in a subprocess, because dbt-duckdb keeps the DuckDB file open for the rest
of the process. With `wait_for_go` in the spec it parses, which does not open the database, then
waits for the line "go" on stdin before the first command (anything else cancels the run): a
nightly build prepares its carried-over models meanwhile, and only then knows what they continue
from (and whether it is a full refresh). The line is `go {"vars": {...}, "args": [...]}`: vars
over the spec's, arguments added to each command.

A build's `manifest.json` (what the next build's carry-over and the gate read) is the parsed
manifest's, so with `write_manifest` in the spec the command runs with `--no-write-json` and the
runner copies in the artifacts written with the kept parse instead (writing them takes ~0.4 s,
at the end of every build otherwise).
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import hashlib
import json
import os
import pickle
import sys

from revwh.settings import DBT_PROJECT_DIR

PARSE_SCHEMA = "revwh_parse"  # the schema the cached parse is made for; never built
# profile settings that differ between a build and the gate's read-only tests: the parse always
# sees the same value, or dbt would drop the cached parse ("profile has changed")
PARSE_PROFILE_ENV = {"REVWH_BUILD_SCHEMA": PARSE_SCHEMA, "REVWH_DUCKDB_ACCESS_MODE": "automatic"}
# vars that change from run to run; they are read when SQL is compiled, never at parse time
RUN_VARS = ("as_of_date", "activity_changed_since", "carried_generations", "continued_as_of")
STATUS_FILE = "revwh_commands.json"  # per command: success and, if dbt raised, the error


PARSE_ARTIFACTS = ("manifest.json", "semantic_manifest.json")
PARSED_MANIFEST = "revwh_manifest.pickle"  # (parse key, manifest) of the last parse


def _parse_key(parse_vars: dict) -> str:
    """What a parse depends on: dbt's and the adapter's versions, the parse vars, the revwh and
    dbt environment (profile values) and every file of the project."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    digest = hashlib.sha256(json.dumps({
        "versions": [installed(p) for p in ("dbt-core", "dbt-duckdb", "dbt-postgres")],
        "vars": parse_vars,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("REVWH_", "DBT_"))},
    }, sort_keys=True).encode())
    for folder, dirs, files in os.walk(DBT_PROJECT_DIR):
        dirs[:] = sorted(d for d in dirs if d not in ("target", "logs", "dbt_packages"))
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, DBT_PROJECT_DIR).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def _parsed_manifest(parse_path: str, key: str):
    """The manifest of the last parse if it was made with `key`, else None. dbt's own partial
    parse takes ~0.9 s even when nothing changed (it reads its cache and hashes every file
    again); this takes a few ms."""
    from dbt.contracts.graph.manifest import Manifest

    path = os.path.join(parse_path, PARSED_MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        try:
            cached_key, fields = pickle.load(f)
            return Manifest(**fields) if cached_key == key else None
        except Exception:  # noqa: BLE001 (written by another version of dbt or revwh: parse again)
            return None


def _keep_parsed(manifest, parse_path: str, key: str) -> None:
    """Pickle the manifest's fields (its lookups are rebuilt on use; dbt's own
    Manifest.__reduce_ex__ misses fields added since, e.g. unit test fixtures)."""
    fields = {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest)
              if not f.name.startswith("_")}
    temporary = os.path.join(parse_path, PARSED_MANIFEST + ".tmp")
    with open(temporary, "wb") as f:
        pickle.dump((key, fields), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, os.path.join(parse_path, PARSED_MANIFEST))


def _parse(common: list[str], spec: dict, parse_vars: dict):
    """The project's manifest, parsed for PARSE_SCHEMA: the last one if nothing it depends on
    changed (`_parse_key`), else dbt's parse (partial), kept for the next run with its
    artifacts (`write_manifest`). None if the parse failed."""
    from dbt.cli.main import dbtRunner
    from dbt.parser.manifest import write_manifest

    parse_path = spec["parse_path"]
    key = _parse_key(parse_vars)
    manifest = _parsed_manifest(parse_path, key)
    if manifest is not None and all(os.path.exists(os.path.join(parse_path, name))
                                    for name in PARSE_ARTIFACTS):
        return manifest
    parsed = dbtRunner().invoke(["parse", *common, "--quiet", "--no-write-json",
                                 "--target-path", parse_path, "--log-path", parse_path,
                                 "--vars", json.dumps(parse_vars)])
    if not parsed.success:
        print(f"dbt parse failed: {parsed.exception}", file=sys.stderr)
        return None
    manifest = parsed.result
    write_manifest(manifest, parse_path)  # the artifacts a build copies (_copy_artifacts)
    _keep_parsed(manifest, parse_path, key)
    return manifest


def _copy_artifacts(parse_path: str, target_path: str, schema: str) -> None:
    """The cached parse's artifacts into `target_path`, its nodes in `schema` (see _point_at)."""
    for name in PARSE_ARTIFACTS:
        with open(os.path.join(parse_path, name)) as f:
            text = f.read()
        with open(os.path.join(target_path, name), "w") as f:
            f.write(text.replace(f'"{PARSE_SCHEMA}"', f'"{schema}"')
                    .replace(f'\\"{PARSE_SCHEMA}\\"', f'\\"{schema}\\"'))


def _point_at(manifest, schema: str) -> None:
    """Move every node parsed into PARSE_SCHEMA (models, seeds, tests, unit tests) to `schema`,
    as generate_schema_name would have (it puts everything in the target schema)."""
    quoted_from, quoted_to = f'"{PARSE_SCHEMA}"', f'"{schema}"'
    for node in [*manifest.nodes.values(), *manifest.unit_tests.values()]:
        if getattr(node, "schema", None) != PARSE_SCHEMA:
            continue
        node.schema = schema
        if getattr(node, "relation_name", None):
            node.relation_name = node.relation_name.replace(quoted_from, quoted_to)


def run(spec: dict) -> int:
    # dbt's import and parse make objects that live to the end (the manifest): no collection
    # runs meanwhile, and none traverses them after (gc.freeze)
    gc.disable()
    if os.environ.get("DBT_MACRO_DEBUGGING"):  # dbt stashes each source it compiles
        return _run(spec)
    from revwh.dbt_templates import FILE_NAME, kept_templates

    os.makedirs(spec["parse_path"], exist_ok=True)
    with kept_templates(os.path.join(spec["parse_path"], FILE_NAME)):
        return _run(spec)


def close_and_exit(code: int) -> None:
    """End the process as a normal exit would, but without the interpreter's teardown of dbt's
    parsed project (~0.7 s of a nightly build). The exit handlers still run: dbt-duckdb's closes
    the DuckDB file (its last checkpoint); others flush the logs and release multiprocessing's
    locks."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(spec: dict) -> int:
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    parse_vars = {k: v for k, v in spec["vars"].items() if k not in RUN_VARS}
    run_env = {k: os.environ.get(k) for k in PARSE_PROFILE_ENV}
    os.environ.update(PARSE_PROFILE_ENV)
    manifest = _parse(common, spec, parse_vars)
    if manifest is None:
        return 2
    _point_at(manifest, spec["schema"])
    for key, value in run_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    os.environ["REVWH_BUILD_SCHEMA"] = spec["schema"]
    gc.freeze()
    gc.enable()
    if spec.get("wait_for_go"):
        word, _, payload = sys.stdin.readline().partition(" ")
        if word.strip() != "go":
            print("cancelled before running anything", file=sys.stderr)
            return 3
        go = json.loads(payload or "{}")
        spec["vars"].update(go.get("vars", {}))
        spec["commands"] = [[*args, *go.get("args", [])] for args in spec["commands"]]
    statuses = []
    if spec.get("write_manifest"):
        os.makedirs(spec["target_path"], exist_ok=True)
        _copy_artifacts(spec["parse_path"], spec["target_path"], spec["schema"])
    for args, results_file in zip(spec["commands"], spec["results_files"]):
        if spec.get("write_manifest"):
            args = [*args, "--no-write-json"]
        # --quiet: only errors to the output (revwh_runner.log); dbt.log has every node's outcome
        result = dbtRunner(manifest=manifest).invoke(
            [*args, *common, "--quiet", "--target-path", spec["target_path"],
             "--log-path", spec["target_path"], "--vars", json.dumps(spec["vars"])])
        # --no-write-json skips all of dbt's artifacts (manifest, graph, results); the caller
        # still gets the command's results file
        if "--no-write-json" in args and hasattr(result.result, "write"):
            result.result.write(results_file)
        error = None if result.exception is None else f"{type(result.exception).__name__}: " \
                                                       f"{result.exception}"
        statuses.append({"args": args, "success": bool(result.success), "error": error})
    with open(os.path.join(spec["target_path"], STATUS_FILE), "w") as out:
        json.dump(statuses, out)
    return 0 if all(s["success"] for s in statuses) else 1


if __name__ == "__main__":
    close_and_exit(run(json.loads(sys.argv[1])))
