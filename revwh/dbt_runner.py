"""Run one dbt command against a candidate version schema without re-parsing the project.

dbt's partial parsing is lost whenever the profile or the vars change, and every nightly build
has a new schema (the profile's) and a new as-of date (a var): a full parse of the project, every
time, costs more than an incremental build itself. So the project is parsed with a fixed
placeholder schema, one access mode and without the run's vars (as-of date, activity window),
which keeps `partial_parse.msgpack` valid from run to run, for builds and the gate alike; the
parsed manifest's nodes are then pointed at the candidate schema, and dbt runs with that
manifest (no parse) and the run's vars (read when SQL is compiled).

Run as `python -m revwh.dbt_runner SPEC_JSON` (revwh.transform does), for one or more commands
that share the parse: in a subprocess, because dbt-duckdb keeps the DuckDB file open for the rest
of the process. With `wait_for_go` in the spec it parses, which does not open the database, then
waits for the line "go" on stdin before the first command (anything else cancels the run): a
nightly build prepares its carried-over models
meanwhile, and only then knows what they continue from (and whether it is a full refresh).
The line is `go {"vars": {...}, "args": [...]}`: vars over the spec's, arguments added to each
command.

A build's `manifest.json` (what the next build's carry-over and the gate read) is the parsed
manifest's, so with `write_manifest` in the spec the command runs with `--no-write-json` and the
runner puts the manifest of the cached parse in the target path instead: it is written only when
dbt parsed anew (writing it takes ~0.4 s, at the end of every build otherwise).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
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


def _parse_artifacts(manifest, parse_path: str) -> None:
    """Write the parsed manifest's artifacts into `parse_path` unless they are those of the
    cached parse already: dbt rewrites partial_parse.msgpack whenever it parses anew."""
    from dbt.constants import PARTIAL_PARSE_FILE_NAME
    from dbt.parser.manifest import write_manifest

    cache = os.path.join(parse_path, PARTIAL_PARSE_FILE_NAME)
    stamp_file = os.path.join(parse_path, "revwh_artifacts.json")
    stamp = None  # no cache: partial parsing is off, every run parses anew
    if os.path.exists(cache):
        stat = os.stat(cache)
        stamp = [stat.st_mtime_ns, stat.st_size]
    if stamp and os.path.exists(stamp_file) and all(
            os.path.exists(os.path.join(parse_path, name)) for name in PARSE_ARTIFACTS):
        with open(stamp_file) as f:
            if json.load(f) == stamp:
                return
    write_manifest(manifest, parse_path)
    if stamp:
        with open(stamp_file, "w") as f:
            json.dump(stamp, f)


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
    parsed = dbtRunner().invoke(["parse", *common, "--quiet", "--no-write-json",
                                 "--target-path", spec["parse_path"],
                                 "--log-path", spec["parse_path"],
                                 "--vars", json.dumps(parse_vars)])
    if not parsed.success:
        print(f"dbt parse failed: {parsed.exception}", file=sys.stderr)
        return 2
    manifest = parsed.result
    if spec.get("write_manifest"):
        _parse_artifacts(manifest, spec["parse_path"])
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
        result = dbtRunner(manifest=manifest).invoke(
            [*args, *common, "--target-path", spec["target_path"],
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
