"""The quality gate: dbt source freshness and data tests (a read-only dbt process) alongside the
Great Expectations suites in `expectations/`, all on the candidate version before anything is
published (DESIGN §3).

Suites are GX's own JSON. A suite's `meta` says what it checks: `table`, `layer` (`marts`: the
candidate version's table; `raw`: the rows of a raw table landed since the last published
version, i.e. the batches this version is the first to use), `schema` (raw only) and `key`.
`{"$PARAMETER": name}` values come from the seeds (stages, verifiers) and from the published
version (`min_rows`/`max_rows`: the volume-change bounds).

On DuckDB, GX's SQL datasource fails (DESIGN §7), so tables are read into dataframes: only the
columns a suite uses, in chunks of at most `gate_chunk_rows` rows partitioned by the hash of the
key (so a uniqueness check within a chunk is a check over the table). Table-level expectations
(row counts, column aggregates) see a projection of just their columns over the whole table;
schema checks (a raw table's contract columns) see the table's columns with no rows. Frames are
read through Arrow, a few ahead of the one GX validates.
On PostgreSQL, GX's SQL datasource validates the tables in place.

dbt tests that a suite repeats exactly (a mart's, or a raw table's for a dbt source test) are
left out of the gate's dbt run (`dbt_tests_checked_by_suites`), so each check runs once.

The suites are validated in a subprocess (`start_expectations`, revwh.expectations_runner), at
the same time as the dbt process. Every result is recorded in `quality.validation_run` /
`quality.validation_result` and rendered as GX Data Docs under `<home>/quality_docs/`.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from revwh.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, Settings
from revwh.transform import DbtResult, start_dbt_commands
from revwh.warehouse import META_SCHEMA, Connection, DuckDBConnection, connect

if TYPE_CHECKING:  # imported where frames are made: importing revwh.pipeline does not wait for it
    import pandas as pd

log = logging.getLogger(__name__)

QUALITY_SCHEMA = "quality"
# expectations that check each row alone (uniqueness apart: _is_chunkable)
CHUNKABLE_PREFIXES = ("expect_column_values_to_", "expect_column_pair_values_",
                      "expect_multicolumn_",
                      "expect_select_column_values_to_be_unique_within_record")


# dbt tests only read: several at once overlap dbt's per-test overhead with the queries (the
# profile's threads are for builds)
GATE_DBT_THREADS = 4
# GX validates in one thread; the dbt process yields some CPU to it. At S=10 with niceness 10
# dbt ended 1 to 2 s after GX; at 5 it ends first, and 8 measured no different
GATE_DBT_NICENESS = 5
# dbt.log at info (each test's outcome), not debug: the debug lines (every query, connection
# and artifact, some 57,000 at S=10) cost about 5% of the gate's dbt process. No artifacts
# but the results files (run_results.json, sources.json): the manifest, semantic manifest and
# graph are the build's, unchanged, and rewriting them took about 0.5 s per command
GATE_DBT_ARGS = ["--log-level-file", "info", "--no-write-json"]
# frames read ahead of the one GX validates: a large frame with cheap checks (a raw table's
# not-null columns) is then read while GX works on the frames before it. At S=10, 3 took 0.8 s
# less than 1 (9.0 s against 9.8, mean of 5 paired gates); peak 1.77 GB instead of 1.62
READ_AHEAD = 3
# from this many rows, checks of columns with nulls get a frame of their own (_duckdb_batches)
NULLABLE_APART_ROWS = 100_000
# expectations about the columns alone: validated on the table's empty result (no rows read)
SCHEMA_TYPES = ("expect_column_to_exist", "expect_table_columns_to_match_set",
                "expect_table_columns_to_match_ordered_list",
                "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between")


class GateFailed(RuntimeError):
    """The candidate failed the gate; the message names each failing check and table."""


class ExpectationsFailed(RuntimeError):
    """The GX suites could not be run at all (not: an expectation failed)."""


@dataclass
class GateReport:
    schema: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    dbt: list[DbtResult] = field(default_factory=list)
    expectations: list[dict] = field(default_factory=list)
    data_docs: Path | None = None

    @property
    def failures(self) -> list[str]:
        found = [f"dbt {r.command.split()[0]} {n['name']}: {n['message'] or n['status']}"
                 for r in self.dbt for n in r.failures]
        found += [f"{e['suite']} on {e['table']}: {e['expectation']}"
                  f"({e['column'] or ''}) {e['detail']}"
                  for e in self.expectations if not e["success"]]
        return found

    @property
    def passed(self) -> bool:
        return not self.failures


def seed_parameters() -> dict[str, list]:
    """Values the suites may refer to with $PARAMETER, read from the dbt seeds."""
    return {"stage_names": _seed_column("sales_process_map", "stage_name"),
            "verifier_keys": _seed_column("verifier_catalogue", "verifier_key"),
            "verifier_statuses": ["started", "verified", "regressed"]}


def load_suites(folder: Path = EXPECTATIONS_DIR) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _seed_column(seed: str, name: str) -> list[str]:
    with (DBT_PROJECT_DIR / "seeds" / f"{seed}.csv").open() as f:
        return [row[name] for row in csv.DictReader(f)]


def _expectation_check(e: dict, parameters: dict) -> tuple | None:
    """What an expectation checks, in a form a dbt test can be compared with: ("not_null",
    column), ("unique", columns) or ("in_set", column, values); None for anything else (or
    with `mostly`)."""
    kw = e["kwargs"]
    if kw.get("mostly", 1) != 1:
        return None
    if e["type"] == "expect_column_values_to_not_be_null":
        return ("not_null", kw["column"])
    if e["type"] == "expect_column_values_to_be_unique":
        return ("unique", frozenset([kw["column"]]))
    if e["type"] == "expect_compound_columns_to_be_unique":
        return ("unique", frozenset(kw["column_list"]))
    if e["type"] == "expect_column_values_to_be_in_set":
        values = kw["value_set"]
        if isinstance(values, dict):  # {"$PARAMETER": name}
            values = parameters.get(values.get("$PARAMETER"))
        return None if values is None else ("in_set", kw["column"], frozenset(map(str, values)))
    return None


def _dbt_test_check(node: dict) -> tuple | None:
    """What a dbt data test checks, in _expectation_check's form: not_null -> "not_null";
    unique, unique_combination_of_columns and unique_within_batch (the key with `_batch_id`)
    -> "unique"; accepted_values and relationships to a seed's column (the seed's values) ->
    "in_set". None for anything else, or a test with `where`."""
    test, config = node.get("test_metadata") or {}, node.get("config") or {}
    if config.get("where") or str(config.get("severity", "error")).lower() != "error":
        return None
    kw, name = test.get("kwargs", {}), test.get("name")
    if name == "not_null":
        return ("not_null", kw["column_name"])
    if name == "unique_within_batch":
        # GX's compound uniqueness also counts rows with a null key: it fails whenever this does
        return ("unique", frozenset(["_batch_id", kw["column_name"]]))
    if name == "unique":
        return ("unique", frozenset([kw["column_name"]]))
    if name == "unique_combination_of_columns":
        return ("unique", frozenset(kw["combination_of_columns"]))
    if name == "accepted_values":
        return ("in_set", kw["column_name"], frozenset(map(str, kw["values"])))
    seed = re.fullmatch(r"ref\('(\w+)'\)", str(kw.get("to", "")))
    if name == "relationships" and seed and (DBT_PROJECT_DIR / "seeds" / f"{seed[1]}.csv").exists():
        return ("in_set", kw["column_name"], frozenset(_seed_column(seed[1], kw["field"])))
    return None


def dbt_tests_checked_by_suites(manifest: Path, suites: list[dict]) -> list[str]:
    """dbt tests that a GX suite repeats exactly: on a mart, by the mart's suite; on a dbt
    source, by the suite of that raw table. The same column not null, the same columns'
    uniqueness, or the same column within the same values (accepted values, or a relationship
    to a seed column that the suite reads as a $PARAMETER). The gate runs each of those checks
    once, in GX; the dbt tests stay in the project for `dbt test` (and for dbt users without the
    gate). A raw suite checks the rows landed since the published version: earlier rows passed
    the gate that published it."""
    if not manifest.exists():
        return []
    parameters = seed_parameters()
    in_suites: dict[tuple, set[tuple]] = {}  # (schema or None for marts, table) -> checks
    for spec in suites:
        meta = spec["meta"]
        key = (meta["schema"] if meta.get("layer") == "raw" else None, meta["table"])
        in_suites.setdefault(key, set()).update(
            filter(None, (_expectation_check(e, parameters) for e in spec["expectations"])))
    loaded = json.loads(manifest.read_text())
    sources = {uid: (s["schema"], s["identifier"] or s["name"])
               for uid, s in loaded.get("sources", {}).items()}
    names = []
    for node in loaded["nodes"].values():
        if node["resource_type"] != "test":
            continue
        parents = node.get("depends_on", {}).get("nodes", [])
        if node.get("attached_node"):
            key = (None, node["attached_node"].split(".")[-1])
        elif len(parents) == 1 and parents[0] in sources:
            key = sources[parents[0]]
        else:
            continue
        check = _dbt_test_check(node)
        if check and check in in_suites.get(key, ()):
            names.append(node["name"])
    return sorted(names)


def _columns_of(expectation: dict) -> list[str]:
    kw = expectation["kwargs"]
    cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
    return cols + list(kw.get("column_list", []))


def _filters_nulls(expectation: dict) -> bool:
    """A column check that GX makes on the column's non-null rows only."""
    return (expectation["type"].startswith("expect_column_values_to_")
            and expectation["type"] not in ("expect_column_values_to_not_be_null",
                                            "expect_column_values_to_be_null")
            and "column" in expectation["kwargs"])


def _is_chunkable(expectation: dict, key: str) -> bool:
    """Whether the expectation's result over chunks partitioned by `key` is its result over the
    table: row-wise checks, and uniqueness of the key or of columns that include it (equal
    values have one key, so one chunk)."""
    kind, kw = expectation["type"], expectation["kwargs"]
    if kind == "expect_column_values_to_be_unique":
        return kw["column"] == key
    if kind in ("expect_compound_columns_to_be_unique", "expect_multicolumn_values_to_be_unique"):
        return key in kw["column_list"]
    return kind.startswith(CHUNKABLE_PREFIXES)


def _where_new_rows(con: Connection, layer: str) -> tuple[str, list]:
    """Raw suites check the rows landed since the published version was built."""
    if layer != "raw" or not con.schema_exists(META_SCHEMA):
        return "", []
    since = con.scalar(f"select max(built_at) from {META_SCHEMA}.versions "
                       "where kind = 'marts' and status = 'published'")
    return ("where _extracted_at > ?", [since]) if since else ("", [])


def _volume_bounds(con: Connection, spec: dict, settings: Settings) -> dict:
    """min_rows/max_rows for a mart: the published row count, within the allowed change."""
    table = spec["meta"]["table"]
    previous = None
    if spec["meta"].get("layer") == "marts" and table in con.relations("marts"):
        previous = con.scalar(f'select count(*) from marts."{table}"')
    if not previous:
        return {"min_rows": 0, "max_rows": None}
    return {"min_rows": int(previous * (1 - settings.volume_max_drop)),
            "max_rows": int(previous * (1 + settings.volume_max_growth))}


class _Validator:
    """One GX file context per gate run: suites, datasources, a checkpoint with Data Docs."""

    def __init__(self, settings: Settings):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine

        # GX labels every pandas batch under HASH_THRESHOLD bytes with an md5 of all its rows
        # (batch_markers.pandas_data_fingerprint). Our batches are frames made for this one
        # validation, so the label identifies nothing, and hashing every string of every batch
        # was a quarter of the gate's GX time at S=10. GX has no setting for it: a threshold of
        # 0 is its own "too large to fingerprint" path.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.gx = gx
        docs = settings.home / "quality_docs"
        # In memory (a file context rewrites its YAML for every asset: minutes per gate);
        # only the Data Docs site is written to disk.
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={"local_site": {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(docs)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}},
            progress_bars=ProgressBarsConfig(globally=False))
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.docs_index = docs / "index.html"
        self._pandas = None
        self._frame_assets: dict[str, tuple] = {}
        self._postgres = None

    def _run(self, name: str, asset, batch_definition, expectations: list[dict],
             **run_args) -> list:
        """Validate one batch; the stored result feeds Data Docs, the definition is dropped."""
        gx, ctx = self.gx, self.context
        suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
        definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=asset.name, data=batch_definition, suite=suite))
        try:
            result = definition.run(result_format={"result_format": "BASIC"}, **run_args)
        finally:
            ctx.validation_definitions.delete(asset.name)
        return list(result.results)

    def frame(self, name: str, expectations: list[dict], frame: pd.DataFrame,
              parameters: dict) -> list:
        if self._pandas is None:
            self._pandas = self.context.data_sources.add_or_update_pandas("revwh_frames")
        # one asset per suite, whatever the frame (it is a run-time parameter): each new asset
        # rewrites the context's config, all assets included (60 validations of 30 suites:
        # 14.6 ms each, against 17.1 with an asset per validation)
        if name not in self._frame_assets:
            asset = self._pandas.add_dataframe_asset(name=name)
            self._frame_assets[name] = (asset, asset.add_batch_definition_whole_dataframe("all"))
        asset, batch_definition = self._frame_assets[name]
        return self._run(name, asset, batch_definition, expectations,
                         batch_parameters={"dataframe": frame}, expectation_parameters=parameters)

    def sql_table(self, name: str, expectations: list[dict], dsn: str, schema: str, table: str,
                  parameters: dict) -> list:
        if self._postgres is None:
            self._postgres = self.context.data_sources.add_or_update_postgres(
                "revwh_postgres", connection_string=dsn)
        asset = self._postgres.add_table_asset(name=f"{name}__{uuid.uuid4().hex[:8]}",
                                               table_name=table, schema_name=schema)
        return self._run(name, asset, asset.add_batch_definition_whole_table("all"),
                         expectations, expectation_parameters=parameters)

    def build_docs(self) -> Path:
        """Render every stored validation result once, at the end of the gate."""
        self.context.build_data_docs()
        return self.docs_index


def _outcome(spec: dict, result, part: str) -> dict:
    cfg = result.expectation_config
    r = result.result or {}
    detail = {k: r[k] for k in ("observed_value", "unexpected_count", "partial_unexpected_list",
                                "details")
              if r.get(k) is not None and not (isinstance(r[k], (list, dict)) and not r[k])}
    return {"suite": spec["name"], "table": spec["meta"]["table"],
            "layer": spec["meta"].get("layer", "marts"), "part": part,
            "expectation": cfg.type, "column": cfg.kwargs.get("column"),
            "kwargs": json.dumps({k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
                                 default=str),
            "success": bool(result.success), "observed_value": r.get("observed_value"),
            "unexpected_count": r.get("unexpected_count"),
            "detail": json.dumps(detail, default=str)}


def _combine(outcomes: list[dict]) -> list[dict]:
    """Chunk results of one expectation -> one result: failed if any chunk failed."""
    merged: dict[tuple, dict] = {}
    for o in outcomes:
        key = (o["suite"], o["expectation"], o["kwargs"])
        if key not in merged:
            merged[key] = dict(o)
            continue
        m = merged[key]
        m["success"] = m["success"] and o["success"]
        if o["unexpected_count"] is not None:
            m["unexpected_count"] = (m["unexpected_count"] or 0) + o["unexpected_count"]
        if not o["success"]:
            m["detail"] = o["detail"]
        m["part"] = "chunks"
    return list(merged.values())


def _frame(con: Connection, sql: str, params: list) -> pd.DataFrame:
    """A query's rows as a dataframe for GX, through Arrow: DuckDB's own `.df()` builds Python
    objects for every string and pandas then converts them again (most of the gate's time at
    S=10). Strings stay Arrow strings (pandas' ArrowDtype): pandas' default `str` columns copy
    them into large strings, and its uniqueness checks on them took twice as long. Decimals
    become doubles, as `.df()` makes them."""
    import pandas as pd
    import pyarrow as pa

    table = con.arrow(sql, params)
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.float64()))
    arrow_strings = {pa.string(): pd.ArrowDtype(pa.string())}
    return table.to_pandas(types_mapper=arrow_strings.get)


@dataclass
class _Batch:
    """One dataframe for GX: the rows of `sql`, validated against `expectations`. Batches of one
    suite with `part` "chunk i/n" are key-partitioned parts of one check (see _combine)."""
    spec: dict
    part: str
    sql: str
    params: list
    expectations: list[dict]
    parameters: dict
    last_chunk: bool = False  # the suite's chunks are combined after this one


def _select(relation: str, cols: list[str], where: str) -> str:
    return f"select {', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)} from {relation} {where}"


def _duckdb_batches(con: Connection, spec: dict, relation: str, where: str, params: list,
                    parameters: dict, chunk_rows: int) -> list[_Batch]:
    """The frames one suite is validated on: the table's columns alone (for the schema checks),
    and its rows: one frame when they fit in a chunk; else chunks for the chunkable
    expectations and the table's projection for the rest; on a large table, checks of columns
    with nulls apart (see NULLABLE_APART_ROWS). Only columns the table has are read: an
    expectation on a missing column fails in GX (and the schema check names it)."""
    meta = spec["meta"]
    schema_only = [e for e in spec["expectations"] if e["type"] in SCHEMA_TYPES]
    expectations = [e for e in spec["expectations"] if e["type"] not in SCHEMA_TYPES]
    present = set(con.arrow(f"select * from {relation} limit 0").schema.names)
    key = meta.get("key") if meta.get("key") in present else None
    filtering = sorted({e["kwargs"]["column"] for e in expectations if _filters_nulls(e)}
                       & present)
    counts = "".join(f', count("{c}")' for c in filtering)
    total, *non_null = con.execute(f"select count(*){counts} from {relation} {where}",
                                   params)[0]
    nullable = {c for c, n in zip(filtering, non_null) if n < total}
    # one frame, one validation (GX's fixed cost is per validation); chunks need a key to
    # partition on, so a suite without one sees its table whole
    if total <= chunk_rows or not key:
        chunked, whole = [], expectations
    else:
        chunked = [e for e in expectations if _is_chunkable(e, key)]
        whole = [e for e in expectations if e not in chunked]
    # GX drops a column's null rows from the whole frame (a copy of every column) before
    # checking it: on a large frame, checks of columns with nulls get a frame of their own
    apart = [e for e in whole if _filters_nulls(e) and e["kwargs"]["column"] in nullable
             ] if total >= NULLABLE_APART_ROWS else []
    whole = [e for e in whole if e not in apart]
    batches = []
    if chunked:
        cols = sorted({c for e in chunked for c in _columns_of(e)} & present | {key})
        n = max(1, -(-total // chunk_rows))
        for i in range(n):
            part_filter = f"hash(\"{key}\") % {n} = {i}" if n > 1 else "true"
            clause = f"{where} and {part_filter}" if where else f"where {part_filter}"
            batches.append(_Batch(spec, f"chunk {i + 1}/{n}", _select(relation, cols, clause),
                                  params, chunked, parameters, last_chunk=i == n - 1))
    if whole:
        cols = sorted({c for e in whole for c in _columns_of(e)} & present | {key} - {None})
        cols = cols or sorted(present)[:1]  # table-level checks alone still need the rows
        batches.append(_Batch(spec, "table", _select(relation, cols, where), params, whole,
                              parameters))
    if apart:
        cols = sorted({e["kwargs"]["column"] for e in apart})
        batches.append(_Batch(spec, "table", _select(relation, cols, where), params, apart,
                              parameters))
    if schema_only:
        batches.append(_Batch(spec, "columns", f"select * from {relation} limit 0", [],
                              schema_only, parameters))
    return batches


def _validate_batches(validator: _Validator, con: DuckDBConnection,
                      batches: list[_Batch]) -> list[dict]:
    """Validate every batch in order. A second cursor reads the next READ_AHEAD batches' frames
    while GX validates the current one: DuckDB and Arrow do that work outside the GIL, so reading
    overlaps validating (at most READ_AHEAD + 1 frames in memory)."""
    from concurrent.futures import ThreadPoolExecutor

    outcomes: list[dict] = []
    chunks: dict[str, list[dict]] = {}
    reader_con = con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1) as reader:
            def read(i: int):
                return reader.submit(_frame, reader_con, batches[i].sql, batches[i].params)

            upcoming = [read(i) for i in range(min(READ_AHEAD, len(batches)))]
            for i, batch in enumerate(batches):
                frame = upcoming.pop(0).result()
                if i + READ_AHEAD < len(batches):
                    upcoming.append(read(i + READ_AHEAD))
                found = [_outcome(batch.spec, r, batch.part) for r in validator.frame(
                    batch.spec["name"], batch.expectations, frame, batch.parameters)]
                del frame
                if batch.part.startswith("chunk "):
                    chunks.setdefault(batch.spec["name"], []).extend(found)
                    if batch.last_chunk:
                        outcomes += _combine(chunks.pop(batch.spec["name"]))
                else:
                    outcomes += found
    finally:
        reader_con.close()
    return outcomes


def run_expectations(settings: Settings, schema: str,
                     suites: list[dict] | None = None) -> tuple[list[dict], Path]:
    validator = _Validator(settings)
    seeds = seed_parameters()
    outcomes: list[dict] = []
    batches: list[_Batch] = []
    with connect(settings, read_only=True) as con:
        for spec in suites if suites is not None else load_suites():
            meta = spec["meta"]
            table_schema = meta["schema"] if meta.get("layer") == "raw" else schema
            if meta["table"] not in con.relations(table_schema):
                if meta.get("optional"):
                    continue  # a source that is not in use
                outcomes.append({"suite": spec["name"], "table": meta["table"],
                                 "layer": meta.get("layer", "marts"), "part": "table",
                                 "expectation": "table_exists", "column": None, "kwargs": "{}",
                                 "success": False, "observed_value": None,
                                 "unexpected_count": None,
                                 "detail": f"{table_schema}.{meta['table']} does not exist"})
                continue
            parameters = {**seeds, **_volume_bounds(con, spec, settings)}
            if settings.target == "postgres":  # whole tables, raw included, validated in SQL
                results = validator.sql_table(spec["name"], spec["expectations"],
                                              settings.postgres_dsn, table_schema, meta["table"],
                                              parameters)
                outcomes += [_outcome(spec, r, "table") for r in results]
                continue
            where, params = _where_new_rows(con, meta.get("layer", "marts"))
            batches += _duckdb_batches(con, spec, f'"{table_schema}"."{meta["table"]}"', where,
                                       params, parameters, settings.gate_chunk_rows)
        if batches:
            outcomes += _validate_batches(validator, con, batches)
    return outcomes, validator.build_docs()


class ExpectationsRun:
    """The GX suites validating in a subprocess (`start_expectations`)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def results(self) -> tuple[list[dict], Path]:
        """Wait for the outcomes and the Data Docs index (as run_expectations returns them);
        raises ExpectationsFailed if the suites could not be run."""
        with self.proc.stdout:
            out = self.proc.stdout.read()
        self.proc.wait()
        try:
            status, found, data_docs = pickle.loads(out)
        except (pickle.UnpicklingError, EOFError):
            raise ExpectationsFailed(
                f"the GX suites' process ended with exit code {self.proc.returncode} and no "
                "results; its log is above (out of memory? lower gate_chunk_rows)") from None
        if status != "ok":
            raise ExpectationsFailed(f"the GX suites could not run: {found}")
        return found, data_docs


def start_expectations(settings: Settings, schema: str, suites: list[dict]) -> ExpectationsRun:
    """Start run_expectations in a process of its own (revwh.expectations_runner)."""
    proc = subprocess.Popen([sys.executable, "-m", "revwh.expectations_runner"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        with proc.stdin:  # read whole before the worker writes anything: no deadlock
            proc.stdin.write(pickle.dumps((settings, schema, suites)))
    except BrokenPipeError:
        pass  # the worker died at start: results() says so
    return ExpectationsRun(proc)


def record(settings: Settings, report: GateReport, as_of: str, started: datetime) -> None:
    """Write the run and every result to quality.validation_run / validation_result."""
    import pandas as pd

    finished = datetime.now(timezone.utc).replace(tzinfo=None)
    run = pd.DataFrame([{"run_id": report.run_id, "version": report.schema,
                         "as_of_date": as_of, "started_at": started, "finished_at": finished,
                         "success": report.passed, "failures": len(report.failures),
                         "summary": " | ".join(report.failures)[:4000],
                         "data_docs": str(report.data_docs or "")}])
    rows = [{"run_id": report.run_id, "suite": f"dbt {r.command.split()[0]}", "table_name": n["name"],
             "layer": "dbt", "part": "", "expectation": n["unique_id"], "column_name": None,
             "kwargs": "{}", "success": n["status"] in ("pass", "success", "warn"),
             "observed_value": str(n.get("failures")), "unexpected_count": n.get("failures"),
             "detail": n["message"]} for r in report.dbt for n in r.nodes]
    rows += [{"run_id": report.run_id, "suite": e["suite"], "table_name": e["table"],
              "layer": e["layer"], "part": e["part"], "expectation": e["expectation"],
              "column_name": e["column"], "kwargs": e["kwargs"], "success": e["success"],
              "observed_value": None if e["observed_value"] is None else str(e["observed_value"]),
              "unexpected_count": e["unexpected_count"], "detail": e["detail"]}
             for e in report.expectations]
    results = pd.DataFrame(rows, columns=["run_id", "suite", "table_name", "layer", "part",
                                          "expectation", "column_name", "kwargs", "success",
                                          "observed_value", "unexpected_count", "detail"])
    results["unexpected_count"] = pd.to_numeric(results["unexpected_count"],
                                                errors="coerce").astype("Int64")
    with connect(settings) as con:
        con.execute(f"create schema if not exists {QUALITY_SCHEMA}")
        for name, frame in (("validation_run", run), ("validation_result", results)):
            staging = f"_new_{name}"
            con.write_frame(QUALITY_SCHEMA, staging, frame)
            if name in con.relations(QUALITY_SCHEMA):
                con.execute(f"insert into {QUALITY_SCHEMA}.{name} "
                            f"select * from {QUALITY_SCHEMA}.{staging}")
                con.execute(f"drop table {QUALITY_SCHEMA}.{staging}")
            else:
                con.execute(f"alter table {QUALITY_SCHEMA}.{staging} rename to {name}")


def run_gate(settings: Settings, schema: str, as_of: str) -> GateReport:
    """Audit the candidate `schema`. Raises GateFailed naming every failure."""
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    report = GateReport(schema=schema)
    suites = load_suites()
    in_gx = dbt_tests_checked_by_suites(settings.home / "dbt_target" / schema / "manifest.json",
                                        suites)
    # one dbt process for both (dbt's start-up and the project's parse are paid once), read-only
    # and running while the GX suites validate in a process of their own: the halves overlap
    dbt = start_dbt_commands(settings, schema, [
        ["source", "freshness", "--select", "source:salesforce", *GATE_DBT_ARGS],
        ["test", "--exclude-resource-type", "unit_test", "--threads", str(GATE_DBT_THREADS),
         *GATE_DBT_ARGS, *(["--exclude", *in_gx] if in_gx else [])]],
        as_of, read_only=True, niceness=GATE_DBT_NICENESS)
    try:
        report.expectations, report.data_docs = start_expectations(settings, schema,
                                                                   suites).results()
    finally:
        report.dbt += dbt.results()
    record(settings, report, as_of, started)
    if not report.passed:
        raise GateFailed(f"quality gate failed for {schema}, nothing published "
                         f"({len(report.failures)} failures): " + " | ".join(report.failures)
                         + f". Report: {report.data_docs} and quality.validation_result "
                         f"(run_id {report.run_id})")
    return report
