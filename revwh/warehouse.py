"""Connections to the warehouse. DuckDB allows one writing process per file (DESIGN §3):
writers open it briefly and close it; readers open it read-only."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb

from revwh.settings import Settings

META_SCHEMA = "revwh_meta"


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or is in a state we cannot work with."""


@contextmanager
def connect(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = settings.warehouse_path
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `revwh demo` or `revwh run` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"cannot open {path} ({exc}). Another process is writing to it: wait for it to "
            "finish (writing tasks share one Airflow pool slot)") from None
    try:
        yield con
    finally:
        con.close()


def schema_exists(con: duckdb.DuckDBPyConnection, schema: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.schemata where schema_name = ?", [schema]
    ).fetchone()[0])


def relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [schema]).fetchall()]
