"""Land checked batches into the raw layer with dlt (DESIGN §3).

Raw is append-only: every row carries `_batch_id`, `_extracted_at` and `_source` next to dlt's own
`_dlt_load_id`. Rejects land in the same dataset's `_rejects` table. Cursors and the list of
processed files live in dlt's pipeline state, which dlt commits with the load itself: a run that
dies before its load completes leaves the cursor where it was, so the rerun re-extracts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable

import pyarrow as pa

from revwh.settings import Settings

if TYPE_CHECKING:
    from revwh.raw.validate import Kept

log = logging.getLogger(__name__)


class RejectShareExceeded(RuntimeError):
    """Too large a share of a batch did not fit its contract; nothing of it was landed."""


@dataclass
class TableBatch:
    table: str
    good: pa.Table
    rejects: pa.Table


@dataclass
class LandResult:
    source: str
    batch_id: str
    rows: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _quiet_dlt() -> None:
    # dlt would otherwise look up every config key among Airflow Variables (and import Airflow
    # outside it): seconds to a minute per load. Credentials are passed to dlt explicitly.
    os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def destination(settings: Settings):
    import dlt

    if settings.target == "postgres":
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials(settings.postgres_dsn)
        if credentials.password is None:  # trust or peer auth: dlt still wants a value
            credentials.password = ""
        return dlt.destinations.postgres(credentials=credentials)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(str(settings.warehouse_path))


def pipeline(settings: Settings, name: str, dataset: str):
    _quiet_dlt()
    import dlt

    return dlt.pipeline(pipeline_name=name, destination=destination(settings),
                        dataset_name=dataset, pipelines_dir=str(settings.dlt_dir))


def synced_pipeline(settings: Settings, name: str, dataset: str):
    """The pipeline with its state as the destination has it (the last completed load)."""
    p = pipeline(settings, name, dataset)
    try:
        p.sync_destination()
    except Exception as exc:  # a fresh warehouse has no state yet
        log.debug("no state to restore for %s: %s", name, exc)
    return p


def source_state(p, source: str) -> dict:
    return dict(p.state.get("sources", {}).get(source, {}))


def pipeline_state(settings: Settings, name: str, dataset: str, source: str) -> dict:
    """The committed state of `source` (as the destination has it), e.g. cursors."""
    return source_state(synced_pipeline(settings, name, dataset), source)


def with_batch_columns(table: pa.Table, batch_id: str, extracted_at: datetime,
                       source: str) -> pa.Table:
    n = table.num_rows
    return (table
            .append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
            .append_column("_extracted_at", pa.array([extracted_at] * n, pa.timestamp("us")))
            .append_column("_source", pa.array([source] * n, pa.string())))


def check_reject_share(batches: Iterable[TableBatch], max_share: float, source: str) -> int:
    batches = list(batches)
    return check_share(sum(b.good.num_rows for b in batches), [b.rejects for b in batches],
                       max_share, source)


def check_share(good: int, rejects: list[pa.Table], max_share: float, source: str) -> int:
    """Raise RejectShareExceeded when `rejects` are more than `max_share` of all rows."""
    bad = sum(r.num_rows for r in rejects)
    if good + bad and bad / (good + bad) > max_share:
        reasons = pa.concat_tables([r for r in rejects if r.num_rows])
        top = reasons.group_by("reason").aggregate([("reason", "count")]).sort_by(
            [("reason_count", "descending")]).slice(0, 3).to_pylist()
        raise RejectShareExceeded(
            f"{source}: {bad} of {good + bad} rows ({bad / (good + bad):.1%}) do not fit the "
            f"contract, above max_reject_share={max_share:.1%}; nothing was landed. Top reasons: "
            + "; ".join(f"{r['reason']} (x{r['reason_count']})" for r in top)
            + ". Fix the source, or raise REVWH_MAX_REJECT_SHARE if this is expected.")
    return bad


def land(settings: Settings, *, pipeline_name: str, dataset: str, source: str,
         batch_id: str, batches: list[TableBatch], state_update: dict | None = None) -> LandResult:
    """Append `batches` to `dataset` in one dlt load, with `state_update` merged into the
    source's state in the same load."""
    return land_labelled(settings, pipeline_name=pipeline_name, dataset=dataset, source=source,
                         label=source, batch_id=batch_id, batches=batches,
                         state_update=state_update)


def land_labelled(settings: Settings, *, pipeline_name: str, dataset: str, source: str,
                  label: str, batch_id: str, batches: list[TableBatch],
                  state_update: dict | None = None) -> LandResult:
    """`land`, with `label` as the rows' `_source` where `source` (the dlt source and state
    key) must be an identifier, e.g. label `mapped:pipedrive` for source `mapped_pipedrive`."""
    import dlt

    rejects = check_reject_share(batches, settings.max_reject_share, label)
    extracted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    result = LandResult(source=label, batch_id=batch_id, rejects=rejects)
    tables: list[tuple[str, pa.Table]] = []
    for b in batches:
        if b.good.num_rows:
            tables.append((b.table, with_batch_columns(b.good, batch_id, extracted_at, label)))
            result.rows[b.table] = result.rows.get(b.table, 0) + b.good.num_rows
    reject_tables = [b.rejects for b in batches if b.rejects.num_rows]
    if reject_tables:
        tables.append(("_rejects", with_batch_columns(
            pa.concat_tables(reject_tables), batch_id, extracted_at, label)))

    def rows(data: pa.Table, first: bool):
        # dlt keeps source state only when it is written during extraction
        if first and state_update:
            dlt.current.source_state().update(state_update)
        yield data

    @dlt.source(name=source)
    def batch_source():
        if not tables:  # nothing new: still commit the state update
            return [dlt.resource(rows(pa.table({}), True), name="_empty_batch")]
        return [dlt.resource(rows(data, i == 0), name=name, write_disposition="append")
                for i, (name, data) in enumerate(tables)]

    p = pipeline(settings, pipeline_name, dataset)
    # parquet is DuckDB's fastest path; PostgreSQL takes dlt's default (COPY from csv for arrow)
    p.run(batch_source(), loader_file_format="parquet" if settings.target == "duckdb" else None)
    return result


def land_kept(settings: Settings, p, *, source: str, batch_id: str,
              kept: list[tuple[str, Kept]], rejects: list[pa.Table],
              state_update: dict | None = None) -> LandResult:
    """Append rows checked in DuckDB (`(raw table, Kept)` pairs, see revwh.raw.validate) and
    `rejects` with pipeline `p` (from `synced_pipeline`) in one dlt load, with `state_update`
    merged into the source's state in the same load. The reject share is checked first: above
    the limit nothing lands.

    DuckDB adds the batch columns and hands the rows to dlt as arrow batches, timestamps already
    in UTC as dlt stores them, so that dlt writes its load files without touching a row and
    loads them without rewriting them."""
    import dlt

    from revwh.raw.validate import sql_literal

    good = sum(k.rows for _, k in kept)
    bad = check_share(good, rejects, settings.max_reject_share, source)
    extracted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    result = LandResult(source=source, batch_id=batch_id, rejects=bad)
    by_table: dict[str, list] = {}
    for table, k in kept:
        if k.rows:
            by_table.setdefault(table, []).append(k)
            result.rows[table] = result.rows.get(table, 0) + k.rows
    batch_columns = (f"{sql_literal(batch_id)} as _batch_id",
                     f"{sql_literal(extracted_at.isoformat())}::TIMESTAMP as _extracted_at",
                     f"{sql_literal(source)} as _source")

    def items():
        # dlt keeps source state only when it is written during extraction
        if state_update:
            dlt.current.source_state().update(state_update)
        for table, parts in by_table.items():
            for k in parts:
                reader = k.con.sql(k.select(*batch_columns)).to_arrow_reader(KEPT_BATCH_ROWS)
                schema = pa.schema([f.with_type(pa.timestamp("us", "UTC"))
                                    if pa.types.is_timestamp(f.type) else f for f in reader.schema])
                for batch in reader:
                    yield dlt.mark.with_table_name(batch.cast(schema), table)
                k.con.execute(f"drop table {k.table}")  # landed: free its memory
        reject_rows = [r for r in rejects if r.num_rows]
        if reject_rows:
            yield dlt.mark.with_table_name(_with_batch_columns_fast(
                pa.concat_tables(reject_rows), batch_id, extracted_at, source), "_rejects")

    @dlt.source(name=source)
    def kept_source():
        return [dlt.resource(items(), name=f"{source}_kept", write_disposition="append")]

    # only non-DuckDB destinations land this way (the file drop appends to DuckDB directly)
    p.run(kept_source())
    return result


def _with_batch_columns_fast(table: pa.Table, batch_id: str, extracted_at: datetime,
                             source: str) -> pa.Table:
    """Same columns as :func:`with_batch_columns`, built in Arrow (no per-row Python objects)."""
    n = table.num_rows
    return (table
            .append_column("_batch_id", pa.repeat(pa.scalar(batch_id, pa.string()), n))
            .append_column("_extracted_at",
                           pa.repeat(pa.scalar(extracted_at, pa.timestamp("us")), n))
            .append_column("_source", pa.repeat(pa.scalar(source, pa.string()), n)))


KEPT_BATCH_ROWS = 100_000
STREAM_LOAD_WORKERS = "2"
STREAM_DUCKDB_MEMORY = "512MB"


def _stream_pipeline(settings: Settings, name: str, dataset: str):
    """Like :func:`pipeline`; on DuckDB the loading connection gets a memory limit (DuckDB's own
    default is 80% of the machine), so that loading millions of rows stays within bounds."""
    _quiet_dlt()
    import dlt

    if settings.target != "duckdb":
        return pipeline(settings, name, dataset)
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    credentials = DuckDbCredentials(str(settings.warehouse_path))
    credentials.global_config = {
        "memory_limit": str(settings.extra.get("duckdb_load_memory_limit", STREAM_DUCKDB_MEMORY))}
    return dlt.pipeline(pipeline_name=name,
                        destination=dlt.destinations.duckdb(credentials=credentials),
                        dataset_name=dataset, pipelines_dir=str(settings.dlt_dir))


def land_stream(settings: Settings, *, pipeline_name: str, dataset: str, source: str,
                batch_id: str, items: Iterable[tuple[str, pa.Table]],
                state_update: "dict | Callable[[], dict] | None" = None,
                item_tables: Iterable[str] | None = None) -> LandResult:
    """Like :func:`land`, for input too large to hold in memory.

    ``items`` yields ``(table name, arrow table)`` pairs as the source is read (``"_rejects"``
    for rejects, in REJECT_SCHEMA); each is written to the load package as it comes, so memory
    holds one chunk, not the whole input. ``state_update`` (or what it returns, called after
    the last item, when it is a callable) is merged into the source's state in the same load.

    The reject share is checked when the input is exhausted, before anything is loaded: above
    ``max_reject_share`` the extraction is aborted, nothing lands, the state stays where it was
    and :class:`RejectShareExceeded` is raised. The share is rejects over rejects plus the good
    rows of ``item_tables`` (default: every table), so that e.g. recipients of an email do not
    dilute it."""
    import dlt
    from dlt.pipeline.exceptions import PipelineStepFailed

    extracted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    result = LandResult(source=source, batch_id=batch_id)
    counted = set(item_tables) if item_tables is not None else None
    reasons: dict[str, int] = {}

    def stream():
        good = 0
        for table, data in items:
            if not data.num_rows:
                continue
            if table == "_rejects":
                result.rejects += data.num_rows
                for r in data.column("reason").to_pylist():
                    reasons[r] = reasons.get(r, 0) + 1
            else:
                result.rows[table] = result.rows.get(table, 0) + data.num_rows
                if counted is None or table in counted:
                    good += data.num_rows
            yield dlt.mark.with_table_name(
                _with_batch_columns_fast(data, batch_id, extracted_at, source), table)
        bad = result.rejects
        if good + bad and bad / (good + bad) > settings.max_reject_share:
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
            raise RejectShareExceeded(
                f"{source}: {bad} of {good + bad} items ({bad / (good + bad):.1%}) were rejected, "
                f"above max_reject_share={settings.max_reject_share:.1%}; nothing was landed. "
                "Top reasons: " + "; ".join(f"{r} (x{n})" for r, n in top)
                + ". Fix the source, or raise REVWH_MAX_REJECT_SHARE if this is expected.")
        update = state_update() if callable(state_update) else state_update
        if update:
            dlt.current.source_state().update(update)

    @dlt.source(name=source)
    def stream_source():
        return [dlt.resource(stream(), name=f"{source}_stream", write_disposition="append")]

    p = _stream_pipeline(settings, pipeline_name, dataset)
    # few load jobs at a time: each one is a DuckDB insert holding memory
    previous = os.environ.get("LOAD__WORKERS")
    os.environ["LOAD__WORKERS"] = STREAM_LOAD_WORKERS
    try:
        p.run(stream_source(), loader_file_format="parquet")
    except PipelineStepFailed as exc:
        # raise what the reader raised (RejectShareExceeded, an API error...), not dlt's wrapper
        cause, seen = exc.__cause__ or exc.__context__, 0
        while cause is not None and seen < 10:
            if not type(cause).__module__.startswith("dlt."):
                raise cause from exc
            cause, seen = cause.__cause__ or cause.__context__, seen + 1
        raise
    finally:
        if previous is None:
            os.environ.pop("LOAD__WORKERS", None)
        else:
            os.environ["LOAD__WORKERS"] = previous
    return result


ARROW_TYPES = {"string": pa.string(), "timestamp": pa.timestamp("us"), "date": pa.date32(),
               "double": pa.float64(), "bigint": pa.int64(), "boolean": pa.bool_()}


def existing_tables(settings: Settings, pipeline_name: str, dataset: str) -> set[str]:
    """Tables that exist in `dataset` of the warehouse (empty on a fresh warehouse)."""
    p = pipeline(settings, pipeline_name, dataset)
    try:
        with p.sql_client() as client:
            rows = client.execute_sql(
                "select table_name from information_schema.tables where table_schema = %s", dataset)
    except Exception as exc:  # no warehouse or no dataset yet
        log.debug("no tables in %s yet: %s", dataset, exc)
        return set()
    return {r[0] for r in rows or []}


def ensure_tables(settings: Settings, *, pipeline_name: str, dataset: str, source: str,
                  contracts: dict) -> list[str]:
    """Create the contract tables that `dataset` lacks, empty, with their typed columns and the
    batch columns, so that models reading them run before a source has delivered every table
    (e.g. an export that has no contact roles). Returns the tables created."""
    import dlt

    missing = [name for name in contracts if name not in existing_tables(settings, pipeline_name, dataset)]
    if not missing:
        return []
    now = datetime.now(timezone.utc).replace(tzinfo=None)

    def empty(contract) -> pa.Table:
        schema = pa.schema([(c, ARROW_TYPES[k]) for c, k in contract.columns.items()])
        return with_batch_columns(schema.empty_table(), "", now, source)

    @dlt.source(name=source)
    def empty_tables():
        return [dlt.resource([empty(contracts[name])], name=name, write_disposition="append")
                for name in missing]

    pipeline(settings, pipeline_name, dataset).run(empty_tables(), loader_file_format="parquet")
    log.info("%s: created empty tables %s", dataset, ", ".join(missing))
    return missing
