"""Check extracted rows against a raw contract: good rows come back typed, the rest as rejects.

DuckDB (in memory, never the warehouse file) does the work: it reads the file as text, records
structurally broken lines (column count, encoding) in its own rejects tables, and `try_cast`s
every contracted column. A row whose non-empty value does not cast, or whose required column is
empty, becomes a reject with the reason and its raw text. Columns the contract does not know are
kept as text; contracted columns the input lacks come back as typed nulls, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from revwh.contract import BOOLEAN, DATE, TIMESTAMP, TableContract

log = logging.getLogger(__name__)

SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "date": "DATE", "double": "DOUBLE",
             "bigint": "BIGINT", "boolean": "BOOLEAN"}

REJECT_SCHEMA = pa.schema([
    ("source", pa.string()), ("table_name", pa.string()), ("origin", pa.string()),
    ("line", pa.int64()), ("reason", pa.string()), ("raw_text", pa.string()),
])


@dataclass
class Checked:
    good: pa.Table
    rejects: pa.Table
    missing_columns: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.good.num_rows + self.rejects.num_rows


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(col: str, kind: str) -> str:
    value = f"nullif(trim({_q(col)}), '')"
    if kind == TIMESTAMP:  # offsets (+0000, Z) are honoured; stored as naive UTC
        return f"try_cast(try_cast({value} as timestamptz) as timestamp)"
    if kind == DATE:  # Salesforce sends dates, some exports send timestamps
        return f"try_cast(try_cast({value} as timestamp) as date)"
    if kind == BOOLEAN:
        return f"try_cast({value} as boolean)"
    return f"try_cast({value} as {SQL_TYPES[kind]})"


def normalise_column(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def check_relation(con: duckdb.DuckDBPyConnection, relation: str, contract: TableContract,
                   *, source: str, origin: str) -> Checked:
    """Split the text relation `relation` (all VARCHAR, with a `__line` column) by the contract."""
    present = [r[0] for r in con.execute(f"describe {relation}").fetchall() if r[0] != "__line"]
    missing = [c for c in contract.columns if c not in present]
    if missing:
        log.warning("%s %s: expected columns missing, loaded as null: %s",
                    source, contract.name, ", ".join(missing))
    checks, typed = [], []
    for col in present:
        kind = contract.columns.get(col)
        if kind is None or kind == "string":
            typed.append(f"{_q(col)}::VARCHAR as {_q(col)}")
        else:
            cast = _cast(col, kind)
            typed.append(f"{cast} as {_q(col)}")
            checks.append(
                f"case when nullif(trim({_q(col)}), '') is not null and {cast} is null then "
                f"'{col}: ' || {_q(col)} || ' is not a valid {kind}' end")
        if col in contract.required:
            checks.append(f"case when nullif(trim({_q(col)}), '') is null "
                          f"then 'missing required {col}' end")
    for col in missing:
        typed.append(f"null::{SQL_TYPES[contract.columns[col]]} as {_q(col)}")
        if col in contract.required:
            checks.append(f"'missing required {col}'")
    reason = f"concat_ws('; ', {', '.join(checks)})" if checks else "''"
    con.execute(f"create or replace temp table __checked as select {reason} as __reason, "
                f"__line, {', '.join(typed)}, "
                f"to_json(struct_pack({', '.join(f'{_q(c)} := {_q(c)}' for c in present)}))::varchar as __raw "
                f"from {relation} src")
    good = con.sql(f"select {', '.join(_q(c) for c in present + missing)} "
                       f"from __checked where __reason = '' order by __line").to_arrow_table()
    rejects = con.sql(
        "select $1 as source, $2 as table_name, $3 as origin, __line::bigint as line, "
        "__reason as reason, __raw as raw_text from __checked where __reason <> '' order by __line",
        params=[source, contract.name, origin]).to_arrow_table()
    return Checked(good=good, rejects=rejects.cast(REJECT_SCHEMA),
                   missing_columns=missing)


def check_csv(path: Path, contract: TableContract, *, source: str) -> Checked:
    """Read one CSV export and check it. Broken lines become rejects, never a crash."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        try:
            con.execute(
                "create temp table __src as select * from read_csv(?, all_varchar = true, "
                "header = true, store_rejects = true, normalize_names = false)", [str(path)])
        except duckdb.Error as exc:  # unreadable as CSV at all: the whole file is one reject
            raw = path.read_bytes()[:4096].decode("utf-8", "replace")
            reject = pa.table({"source": [source], "table_name": [contract.name],
                               "origin": [str(path)], "line": [0],
                               "reason": [f"file is not readable as CSV: {exc}"],
                               "raw_text": [raw]}, schema=REJECT_SCHEMA)
            return Checked(good=pa.table({}), rejects=reject)
        cols = [r[0] for r in con.execute("describe __src").fetchall()]
        renamed = ", ".join(f"{_q(c)} as {_q(normalise_column(c))}" for c in cols)
        con.execute(f"create temp view __rows as select row_number() over () + 1 as __line, "
                    f"{renamed} from __src")
        checked = check_relation(con, "__rows", contract, source=source, origin=str(path))
        broken = con.sql(
            "select $1 as source, $2 as table_name, $3 as origin, line::bigint as line, "
            "error_type || ': ' || error_message as reason, csv_line as raw_text "
            "from reject_errors order by line",
            params=[source, contract.name, str(path)]).to_arrow_table()
        checked.rejects = pa.concat_tables([checked.rejects, broken.cast(REJECT_SCHEMA)])
        return checked
    finally:
        con.close()
