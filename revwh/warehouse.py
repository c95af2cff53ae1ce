"""Connections to the warehouse: DuckDB (embedded default) or PostgreSQL, behind one small API.

DuckDB allows one writing process per file (DESIGN §3): writers open it briefly and close it;
readers open it read-only. SQL passed here uses `?` placeholders on both targets.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Sequence

from revwh.settings import Settings

if TYPE_CHECKING:  # imported where frames are made: importing revwh.pipeline does not wait for it
    import pandas as pd

META_SCHEMA = "revwh_meta"


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or is in a state we cannot work with."""


class Connection:
    """The calls the warehouse code needs, the same on DuckDB and PostgreSQL."""

    dialect: str

    def execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    def df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        raise NotImplementedError

    def write_frame(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        """Create or replace `schema.table` with the frame's rows."""
        raise NotImplementedError

    def row_text(self, alias: str) -> str:
        """SQL for a whole row of `alias` as text (for content checksums)."""
        raise NotImplementedError

    def scalar(self, sql: str, params: Sequence = ()):
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    def schema_exists(self, schema: str) -> bool:
        return bool(self.scalar(
            "select count(*) from information_schema.schemata where schema_name = ?", [schema]))

    def relations(self, schema: str) -> list[str]:
        return [r[0] for r in self.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema])]


class DuckDBConnection(Connection):
    dialect = "duckdb"

    def __init__(self, con):
        self.con = con

    def execute(self, sql, params=()):
        cur = self.con.execute(sql, list(params))
        return cur.fetchall() if cur.description else []

    def df(self, sql, params=()):
        return self.con.execute(sql, list(params)).df()

    def cursor(self) -> DuckDBConnection:
        """Another connection to the same database, for another thread."""
        return DuckDBConnection(self.con.cursor())

    def arrow(self, sql, params=()):
        """The result as a pyarrow Table (columnar all the way: no per-value conversion)."""
        return self.con.sql(sql, params=list(params)).to_arrow_table()

    def write_frame(self, schema, table, frame):
        self.con.register("__frame", frame)
        try:
            self.con.execute(f'create or replace table "{schema}"."{table}" as '
                             'select * from __frame')
        finally:
            self.con.unregister("__frame")

    def row_text(self, alias):
        return f"cast({alias} as varchar)"

    def close(self):
        self.con.close()


_PG_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision",
             "M": "timestamp", "O": "text"}


class PostgresConnection(Connection):
    dialect = "postgres"

    def __init__(self, con):
        self.con = con

    def execute(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    def df(self, sql, params=()):
        import pandas as pd

        with self.con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params))
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    def write_frame(self, schema, table, frame):
        cols = ", ".join(
            f'"{c}" {"date" if _is_date(frame[c]) else _PG_TYPES.get(frame[c].dtype.kind, "text")}'
            for c in frame.columns)
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False)
        buf.seek(0)
        with self.con.cursor() as cur:
            cur.execute(f'drop table if exists "{schema}"."{table}"')
            cur.execute(f'create table "{schema}"."{table}" ({cols})')
            cur.copy_expert(f'copy "{schema}"."{table}" from stdin with (format csv)', buf)

    def row_text(self, alias):
        return f"{alias}::text"

    def close(self):
        self.con.close()


def _is_date(series: pd.Series) -> bool:
    import datetime

    first = series.dropna().head(1).tolist()
    return bool(first) and type(first[0]) is datetime.date


@contextmanager
def connect(settings: Settings, read_only: bool = False) -> Iterator[Connection]:
    conn = _open_postgres(settings, read_only) if settings.target == "postgres" \
        else _open_duckdb(settings, read_only)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def connect_published(settings: Settings) -> Iterator[Connection]:
    """A read-only connection for readers of published data (BI, dashboard, `revwh query`).
    On DuckDB it opens the published replica, which no writer ever holds."""
    if settings.target == "postgres":
        with connect(settings, read_only=True) as conn:
            yield conn
        return
    path = settings.published_path
    if not path.exists():
        raise WarehouseError(f"nothing published yet ({path} is missing): run `revwh demo` or "
                             "`revwh run --date YYYY-MM-DD`")
    conn = _open_duckdb(settings, read_only=True, path=path)
    try:
        yield conn
    finally:
        conn.close()


def _open_duckdb(settings: Settings, read_only: bool, path=None) -> DuckDBConnection:
    import duckdb

    path = path or settings.warehouse_path
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `revwh demo` or `revwh run` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"cannot open {path} ({exc}). Another process is writing to it: wait for it to "
            "finish (writing tasks share one Airflow pool slot)") from None
    con.execute("set TimeZone = 'UTC'")
    return DuckDBConnection(con)


def _open_postgres(settings: Settings, read_only: bool) -> PostgresConnection:
    import psycopg2

    try:
        con = psycopg2.connect(settings.postgres_dsn,
                               options="-c TimeZone=UTC"
                               + (" -c default_transaction_read_only=on" if read_only else ""))
    except psycopg2.OperationalError as exc:
        raise WarehouseError(f"cannot connect to PostgreSQL ({str(exc).strip()}): check "
                             "REVWH_POSTGRES_DSN and that the server is running") from None
    con.autocommit = True  # transactions are explicit: Connection.transaction()
    return PostgresConnection(con)


def warehouse_exists(settings: Settings) -> bool:
    return settings.target == "postgres" or settings.warehouse_path.exists()
