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


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cast(col: str, kind: str) -> str:
    value = f"nullif(trim({sql_name(col)}), '')"
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
    kept = check_into(con, relation, contract, source=source, origin=origin, target="__checked")
    return Checked(good=kept.arrow(), rejects=kept.rejects, missing_columns=kept.missing_columns)


@dataclass
class Kept:
    """One input checked in DuckDB: table `table` holds its rows, typed, with `__line` (the
    input's order) and `__reason` (empty for a row that fits), until they are landed."""
    con: duckdb.DuckDBPyConnection
    table: str
    columns: list[str]
    rows: int
    rejects: pa.Table
    missing_columns: list[str] = field(default_factory=list)

    def select(self, *extra: str, columns: list[str] | None = None) -> str:
        """SQL for the rows that fit: `columns` (select expressions for `self.columns`, default
        the columns as they are) and then `extra`. The rows come in input order: the table was
        filled in that order and DuckDB keeps insertion order (no sort needed)."""
        cols = columns or [sql_name(c) for c in self.columns]
        return f"select {', '.join(cols + list(extra))} from {self.table} where __reason = ''"

    def arrow(self) -> pa.Table:
        return self.con.sql(self.select()).to_arrow_table()


def check_into(con: duckdb.DuckDBPyConnection, relation: str, contract: TableContract,
               *, source: str, origin: str, target: str) -> Kept:
    """Check the text relation `relation` (all VARCHAR, with a `__line` column) by the contract
    in one pass into table `target` (see `Kept`). Rows that do not fit come back as rejects
    with their reasons and raw text (JSON of the row's fields, built for rejects only)."""
    present = [r[0] for r in con.execute(f"describe {relation}").fetchall() if r[0] != "__line"]
    missing = [c for c in contract.columns if c not in present]
    if missing:
        log.warning("%s %s: expected columns missing, loaded as null: %s",
                    source, contract.name, ", ".join(missing))
    # each cast once: the innermost select casts, the next derives the reasons from the casts
    casts, typed, checks = [], [], []
    for i, col in enumerate(present):
        kind = contract.columns.get(col)
        if kind is None or kind == "string":
            typed.append(f"{sql_name(col)}::VARCHAR as {sql_name(col)}")
        else:
            casts.append(f"{_cast(col, kind)} as __cast_{i}")
            typed.append(f"__cast_{i} as {sql_name(col)}")
            checks.append(
                f"case when __cast_{i} is null and nullif(trim({sql_name(col)}), '') is not null "
                f"then '{col}: ' || {sql_name(col)} || ' is not a valid {kind}' end")
        if col in contract.required:
            checks.append(f"case when nullif(trim({sql_name(col)}), '') is null "
                          f"then 'missing required {col}' end")
    for col in missing:
        typed.append(f"null::{SQL_TYPES[contract.columns[col]]} as {sql_name(col)}")
        if col in contract.required:
            checks.append(f"'missing required {col}'")
    reason = f"concat_ws('; ', {', '.join(checks)})" if checks else "''"
    raw = "to_json(struct_pack(" + ", ".join(
        f"{sql_name(c)} := {sql_name(c)}" for c in present) + "))::varchar"
    cast_src = f"(select *, {', '.join(casts)} from {relation})" if casts else relation
    # the raw text (JSON of the row's fields as read) is built for rejects only
    con.execute(f"create or replace table {target} as select __reason, __line, "
                f"{', '.join(typed)}, case when __reason <> '' then {raw} end as __raw "
                f"from (select *, {reason} as __reason from {cast_src} src)")
    rejects = con.sql(
        "select $1 as source, $2 as table_name, $3 as origin, __line::bigint as line, "
        f"__reason as reason, __raw as raw_text from {target} where __reason <> '' "
        "order by __line", params=[source, contract.name, origin]).to_arrow_table()
    rows = con.execute(f"select count(*) from {target}").fetchall()[0][0] - rejects.num_rows
    return Kept(con=con, table=target, columns=present + missing, rows=rows,
                rejects=rejects.cast(REJECT_SCHEMA), missing_columns=missing)


def _csv_reject(path: Path, contract: TableContract, source: str, reason: str) -> pa.Table:
    raw = path.read_bytes()[:4096].decode("utf-8", "replace")
    return pa.table({"source": [source], "table_name": [contract.name], "origin": [str(path)],
                     "line": [0], "reason": [f"file is not readable as CSV: {reason}"],
                     "raw_text": [raw]}, schema=REJECT_SCHEMA)


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """The delimiter and the header's column names (made unique) of a CSV file. Read here, so
    that DuckDB needs no sniffing pass over the file (which costs more than parsing a small
    file)."""
    import csv

    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        sample = f.read(1 << 16)
    first = sample.splitlines()[0] if sample.strip() else ""
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader([first], delimiter=delimiter), [])
    names: list[str] = []
    for i, name in enumerate(header):
        name = name or f"column{i}"
        while name in names:
            name += "_"
        names.append(name)
    return delimiter, names


def check_csv_into(con: duckdb.DuckDBPyConnection, path: Path, contract: TableContract, *,
                   source: str, target: str) -> Kept | pa.Table:
    """Read one CSV export with DuckDB and check it into table `target` of `con`. Broken lines
    become rejects, never a crash; a file that is not CSV at all comes back as a single reject
    (an arrow table) instead of a `Kept`."""
    delimiter, header = _csv_header(path)
    if not header:
        return _csv_reject(path, contract, source, "no header line")
    helper = target.replace(".", "_")  # names of this connection's temporary helpers
    rejects, scans = f"{helper}_broken", f"{helper}_scans"
    columns = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in header) + "}"
    renamed = ", ".join(f"{sql_name(c)} as {sql_name(normalise_column(c))}" for c in header)
    try:
        con.execute(
            f"create or replace temp view {helper}_rows as select row_number() over () + 1 "
            f"as __line, {renamed} from read_csv({sql_literal(str(path))}, auto_detect = false, "
            f"header = true, delim = {sql_literal(delimiter)}, quote = '\"', escape = '\"', "
            f"columns = {columns}, store_rejects = true, rejects_table = '{rejects}', "
            f"rejects_scan = '{scans}')")
        kept = check_into(con, f"{helper}_rows", contract, source=source, origin=str(path),
                          target=target)
    except duckdb.Error as exc:  # unreadable as CSV at all: the whole file is one reject
        return _csv_reject(path, contract, source, str(exc))
    broken = con.sql(
        "select $1 as source, $2 as table_name, $3 as origin, line::bigint as line, "
        "error_type || ': ' || error_message as reason, csv_line as raw_text "
        f"from {rejects} order by line",
        params=[source, contract.name, str(path)]).to_arrow_table()
    con.execute(f"drop view {helper}_rows; drop table {rejects}; drop table {scans}")
    kept.rejects = pa.concat_tables([kept.rejects, broken.cast(REJECT_SCHEMA)])
    return kept


def check_csv(path: Path, contract: TableContract, *, source: str) -> Checked:
    """Read one CSV export and check it. Broken lines become rejects, never a crash."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        kept = check_csv_into(con, path, contract, source=source, target="__checked")
        if isinstance(kept, pa.Table):
            return Checked(good=pa.table({}), rejects=kept)
        return Checked(good=kept.arrow(), rejects=kept.rejects,
                       missing_columns=kept.missing_columns)
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Records (API pages), arrow tables, JSON and Parquet files: the same checks as for CSV.

def _text(value) -> str | None:
    """A JSON value as the text a CSV export would hold for it."""
    import json

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _reject_row(source: str, table: str, origin: str, line: int, reason: str, raw: str) -> dict:
    return {"source": source, "table_name": table, "origin": origin, "line": line,
            "reason": reason, "raw_text": raw}


def _raw_json(record) -> str:
    import json

    # ensure_ascii: broken text (lone surrogates from undecodable bytes) survives as escapes
    return json.dumps(record, ensure_ascii=True, default=str)


def check_arrow(table: pa.Table, contract: TableContract, *, source: str, origin: str,
                lines: list[int] | None = None) -> Checked:
    """Check an arrow table (any column types; nested values become JSON text) by the contract.
    Column names are normalised (`normalise_column`); `lines` numbers the rows for rejects."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        names = [normalise_column(n) for n in table.column_names]
        seen: set[str] = set()
        keep = []
        for i, n in enumerate(names):
            if n and n not in seen:
                seen.add(n)
                keep.append(i)
        src = pa.table({names[i]: table.column(i) for i in keep}) if keep else pa.table(
            {"__empty": pa.array([None] * table.num_rows, pa.string())})
        line_col = pa.array(lines if lines is not None else range(1, src.num_rows + 1), pa.int64())
        src = src.append_column("__line", line_col)
        con.register("__arrow_src", src)
        cols = []
        for field_ in src.schema:
            if field_.name == "__line":
                continue
            t = field_.type
            if pa.types.is_nested(t):
                cols.append(f"to_json({sql_name(field_.name)})::VARCHAR as {sql_name(field_.name)}")
            elif pa.types.is_timestamp(t) and t.tz is not None:
                cols.append(f"strftime({sql_name(field_.name)}, '%Y-%m-%d %H:%M:%S.%f%z') as {sql_name(field_.name)}")
            else:
                cols.append(f"{sql_name(field_.name)}::VARCHAR as {sql_name(field_.name)}")
        con.execute(f"create temp view __rows as select __line, {', '.join(cols)} from __arrow_src")
        return check_relation(con, "__rows", contract, source=source, origin=origin)
    finally:
        con.close()


def check_records(records, contract: TableContract, *, source: str, origin: str,
                  first_line: int = 1) -> Checked:
    """Check JSON-like records (dicts of column -> value, as an API returns them).

    Values are turned into the text a CSV export would hold and checked like a CSV: a value that
    does not fit its contracted type, or a missing required value, makes the record a reject with
    its raw JSON. A record with broken text (undecodable bytes) or one that is not an object is a
    reject too. Keys new to the contract are kept as text columns."""
    columns: dict[str, None] = {}
    rows: list[dict] = []
    lines: list[int] = []
    rejects: list[dict] = []
    for i, record in enumerate(records):
        line = first_line + i
        if not isinstance(record, dict):
            rejects.append(_reject_row(source, contract.name, origin, line,
                                       "record is not a JSON object", _raw_json(record)))
            continue
        row = {}
        bad = None
        for key, value in record.items():
            text = _text(value)
            if text is not None:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    bad = f"{key}: broken text encoding"
                    break
            row[key] = text
            columns.setdefault(key, None)
        if bad:
            rejects.append(_reject_row(source, contract.name, origin, line, bad, _raw_json(record)))
            continue
        rows.append(row)
        lines.append(line)
    extra = pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA) if rejects else REJECT_SCHEMA.empty_table()
    if not rows:
        return Checked(good=pa.table({}), rejects=extra,
                       missing_columns=[c for c in contract.columns])
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    checked = check_arrow(table, contract, source=source, origin=origin, lines=lines)
    checked.rejects = pa.concat_tables([checked.rejects, extra])
    return checked


def _file_reject(path, contract: TableContract, source: str, reason: str) -> Checked:
    try:
        raw = Path(path).read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        raw = ""
    reject = pa.table({"source": [source], "table_name": [contract.name], "origin": [str(path)],
                       "line": [0], "reason": [reason], "raw_text": [raw]}, schema=REJECT_SCHEMA)
    return Checked(good=pa.table({}), rejects=reject)


def check_json(path: Path, contract: TableContract, *, source: str, rename=None) -> Checked:
    """Read one JSON export and check it: a JSON array of objects, an object holding the records
    (`records` as in a Salesforce REST page, `results` as in HubSpot, or `data`), or JSON lines.
    Keys are normalised; records in Salesforce REST shape (with `attributes`) get Fivetran's
    snake_case names. A line that is not JSON or not UTF-8 is a reject; the rest loads."""
    import json

    rename = rename or normalise_column
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _file_reject(path, contract, source, f"file is not readable: {exc}")
    text = data.decode("utf-8", "surrogateescape").lstrip("\ufeff")
    stripped = text.lstrip()
    records: list = []
    lines: list[int] = []
    rejects: list[dict] = []
    parsed = None
    if stripped[:1] in ("[", "{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None  # may be JSON lines
    if isinstance(parsed, list) or (isinstance(parsed, dict) and any(
            isinstance(parsed.get(k), list) for k in ("records", "results", "data"))):
        if isinstance(parsed, dict):
            parsed = next(parsed[k] for k in ("records", "results", "data")
                          if isinstance(parsed.get(k), list))
        records = parsed
        lines = list(range(1, len(records) + 1))
    elif isinstance(parsed, dict):
        records, lines = [parsed], [1]
    else:
        for n, raw_line in enumerate(data.splitlines(), start=1):
            if not raw_line.strip():
                continue
            try:
                line_text = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.append(_reject_row(source, contract.name, str(path), n,
                                           f"broken text encoding: {exc.reason}",
                                           raw_line.decode("utf-8", "replace")))
                continue
            try:
                records.append(json.loads(line_text))
                lines.append(n)
            except json.JSONDecodeError as exc:
                rejects.append(_reject_row(source, contract.name, str(path), n,
                                           f"line is not valid JSON: {exc.msg}", line_text))
        if not records and not rejects:
            return _file_reject(path, contract, source, "file is not readable as JSON")
    if records and all(isinstance(r, dict) and isinstance(r.get("attributes"), dict)
                       for r in records[:1]):
        rename = salesforce_snake_name
    renamed = []
    for r in records:
        if isinstance(r, dict):
            r = {rename(k): v for k, v in r.items() if k != "attributes"}
        renamed.append(r)
    checked = Checked(good=pa.table({}), rejects=REJECT_SCHEMA.empty_table())
    if renamed:
        checked = _check_numbered(renamed, lines, contract, source=source, origin=str(path))
    if rejects:
        checked.rejects = pa.concat_tables([checked.rejects,
                                            pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA)])
    return checked


def _check_numbered(records: list, lines: list[int], contract: TableContract, *, source: str,
                    origin: str) -> Checked:
    # check_records numbers consecutively; keep the file's own line numbers
    checked = check_records(records, contract, source=source, origin=origin, first_line=0)
    if checked.rejects.num_rows:
        fixed = [lines[i] if 0 <= i < len(lines) else i
                 for i in checked.rejects.column("line").to_pylist()]
        checked.rejects = checked.rejects.set_column(
            checked.rejects.schema.get_field_index("line"), "line", pa.array(fixed, pa.int64()))
    return checked


def check_parquet(path: Path, contract: TableContract, *, source: str) -> Checked:
    """Read one Parquet export and check it like a CSV (values are checked as text)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(str(path))
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one reject
        return _file_reject(path, contract, source, f"file is not readable as Parquet: {exc}")
    return check_arrow(table, contract, source=source, origin=str(path))


def check_file(path: Path, contract: TableContract, *, source: str) -> Checked:
    """check_csv, check_json or check_parquet by the file's suffix (.csv, .json/.jsonl/.ndjson,
    .parquet/.pq)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        return check_json(path, contract, source=source)
    if suffix in (".parquet", ".pq"):
        return check_parquet(path, contract, source=source)
    return check_csv(path, contract, source=source)


def check_file_into(con: duckdb.DuckDBPyConnection, path: Path, contract: TableContract, *,
                    source: str, target: str) -> Kept:
    """Check one export of any format into table `target` of `con` (see `Kept`): CSV is
    read by DuckDB itself, JSON and Parquet through `check_file`."""
    if Path(path).suffix.lower() == ".csv":
        kept = check_csv_into(con, path, contract, source=source, target=target)
        if not isinstance(kept, pa.Table):
            return kept
        checked = Checked(good=pa.table({}), rejects=kept)
    else:
        checked = check_file(path, contract, source=source)
    if checked.good.num_columns:
        con.register("__arrow_good", checked.good)
        con.execute(f"create or replace table {target} as select '' as __reason, "
                    f"row_number() over () as __line, * from __arrow_good")
        con.unregister("__arrow_good")
    else:  # nothing readable
        con.execute(f"create or replace table {target} (__reason varchar, __line bigint)")
    return Kept(con=con, table=target, columns=checked.good.column_names,
                rows=checked.good.num_rows, rejects=checked.rejects,
                missing_columns=checked.missing_columns)


def salesforce_snake_name(api: str) -> str:
    """Fivetran's snake_case for a Salesforce API name (`StageName` -> `stage_name`,
    `Pain_Category__c` -> `pain_category_c`): the demo generator's naming when present."""
    try:
        from revwh.demo.naming import snake_name
    except ImportError:  # the same rule, kept here so that landing never depends on the demo
        import re

        s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", api)
        s = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", s)
        return re.sub(r"_+", "_", s).strip("_").lower()
    return snake_name(api)
