"""Land checked rows straight into the DuckDB warehouse, in one transaction, without dlt.

For sources whose rows are checked in DuckDB anyway (the file drop): the warehouse connection,
whose cursors checked them, appends them to the raw tables with one INSERT per table, so no row
is converted, written to a load file and read back. The raw contract is dlt's (DESIGN §3): the same tables and
column types as dlt creates them, the batch columns and a `_dlt_load_id` on every row, rejects
in `_rejects`. Which files are landed is recorded in `_landed_files` in the same transaction as
their rows: a run killed at any point leaves either all of its batch or nothing, and the rerun
lands exactly what is missing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from revwh.raw.landing import LandResult, check_share
from revwh.raw.validate import Kept, sql_literal
from revwh.raw.validate import sql_name as _q

LANDED_FILES = "_landed_files"


def has_table(con: duckdb.DuckDBPyConnection, dataset: str, table: str,
              catalog: str | None = None) -> bool:
    """Whether `catalog.dataset.table` exists (default: the connection's database)."""
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_catalog = "
        "coalesce(?, current_database()) and table_schema = ? and table_name = ?",
        [catalog, dataset, table]).fetchall()[0][0])


def landed_files(con: duckdb.DuckDBPyConnection, dataset: str, source: str) -> dict[str, str]:
    """File name -> content hash of the latest version of each file `source` has landed."""
    if not has_table(con, dataset, LANDED_FILES):
        return {}
    rows = con.execute(
        f"select file, arg_max(sha256, landed_at) from {_q(dataset)}.{LANDED_FILES} "
        "where source = ? group by file", [source]).fetchall()
    return dict(rows)


def _append(con: duckdb.DuckDBPyConnection, catalog: str, dataset: str, table: str,
            select: str) -> None:
    """Append the rows of `select` to `catalog.dataset.table`, creating the table or adding the
    columns it lacks (as dlt would: `_dlt_load_id` not null, everything else nullable)."""
    columns = con.execute(f"describe {select}").fetchall()
    target = f"{_q(catalog)}.{_q(dataset)}.{_q(table)}"
    if not has_table(con, dataset, table, catalog):
        defs = ", ".join(f"{_q(name)} {kind}" + (" not null" if name == "_dlt_load_id" else "")
                         for name, kind, *_ in columns)
        con.execute(f"create table {target} ({defs})")
    else:
        present = {r[0] for r in con.execute(f"describe {target}").fetchall()}
        for name, kind, *_ in columns:
            if name not in present:
                con.execute(f"alter table {target} add column {_q(name)} {kind}")
    con.execute(f"insert into {target} by name {select}")


def land_direct(con: duckdb.DuckDBPyConnection, *, catalog: str, dataset: str, source: str,
                batch_id: str, kept: list[tuple[str, Kept]], rejects: list[pa.Table],
                files: dict[str, str], max_reject_share: float) -> LandResult:
    """Append `kept` (`(raw table, Kept)` pairs, their tables readable through `con`) and
    `rejects` to `dataset` of database `catalog` of `con` (the warehouse), and record `files`
    (name -> content hash) as landed, all in one transaction. Above `max_reject_share` nothing
    lands (RejectShareExceeded)."""
    bad = check_share(sum(k.rows for _, k in kept), rejects, max_reject_share, source)
    result = LandResult(source=source, batch_id=batch_id, rejects=bad)
    now = datetime.now(UTC).replace(tzinfo=None)
    load_id = f"{time.time():.6f}"  # the shape of dlt's load ids, so they sort with them
    batch = (f"{sql_literal(batch_id)} as _batch_id",
             f"{sql_literal(now.isoformat())}::TIMESTAMPTZ as _extracted_at",
             f"{sql_literal(source)} as _source", f"{sql_literal(load_id)} as _dlt_load_id")
    reject_rows = [r for r in rejects if r.num_rows]
    if reject_rows:
        con.register("__rejects", pa.concat_tables(reject_rows))
    con.execute("begin")
    try:
        con.execute(f"create schema if not exists {_q(catalog)}.{_q(dataset)}")
        for table, k in kept:
            if k.rows:
                # timestamps are stored as dlt stores them: with time zone (the values are UTC)
                typed = [f"{_q(c)}::TIMESTAMPTZ as {_q(c)}" if t == "TIMESTAMP" else _q(c)
                         for c, t in _types(con, k)]
                _append(con, catalog, dataset, table, k.select(*batch, columns=typed))
                result.rows[table] = result.rows.get(table, 0) + k.rows
        if reject_rows:
            _append(con, catalog, dataset, "_rejects",
                    f"select *, {', '.join(batch)} from __rejects")
        landed = pa.table({"source": [source] * len(files), "file": list(files),
                           "sha256": list(files.values())})
        con.register("__landed", landed)
        _append(con, catalog, dataset, LANDED_FILES,
                f"select *, {sql_literal(batch_id)} as batch_id, "
                f"{sql_literal(now.isoformat())}::TIMESTAMPTZ as landed_at, "
                f"{sql_literal(load_id)} as _dlt_load_id from __landed")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _types(con: duckdb.DuckDBPyConnection, k: Kept) -> list[tuple[str, str]]:
    types = {r[0]: r[1] for r in con.execute(f"describe {k.table}").fetchall()}
    return [(c, types[c]) for c in k.columns]
