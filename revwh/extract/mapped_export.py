"""Other CRMs' exports (Pipedrive, Zoho, a spreadsheet) through a mapping file: no code needed.

A mapping (YAML, e.g. `revwh/extract/mappings/crm_sales_opportunities.yml`) names the source
files and, per canonical raw table (`opportunity`, `account`, `user`, ...), where each field comes
from:

    name: my_crm
    files:
      deals: {path: deals.csv}                 # CSV, JSON (array or lines) or Parquet
      people: {path: users.csv, optional: true}
    date_formats: ["%Y-%m-%d", "%d/%m/%Y"]     # tried in order for date/timestamp fields
    tables:
      - table: opportunity
        from: deals
        fields:
          id: deal_id                          # a column
          owner_id: {key: owner, prefix: "user-"}   # an id made from a natural key
          name: {template: "{company} - {product}"}
          stage_name: {column: status, values: {Won: Closed Won, Lost: Closed Lost}}
          is_won: {column: status, values: {Won: true}, default: false}
          amount: {column: value, multiply: 1000}
          created_date: {column: [first_contact, added], default: "{logical_date}"}
          close_date: {column: closed_on, format: "%m/%d/%Y"}
        constants: {currency_iso_code: USD}
      - table: user
        from: deals
        distinct: true                        # one row per id
        fields: {id: {key: owner, prefix: "user-"}, name: owner}

Rows of several mappings into one table are merged by id: the first mapping that yields an id
wins (so a fallback can come last). Rows land in `raw_salesforce` (so the marts build on them)
with `_source = mapped:<name>`, checked against the raw contract: a bad date, a non-numeric
amount or a missing id is a reject with the raw row; a field the table does not know is stored
as text. Tables the export lacks are created empty. Files are recorded with their hashes (and
the mapping's): a rerun over unchanged files lands nothing.

`folder` may be a local path or any fsspec URL (`s3://bucket/exports`, `memory://x`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import yaml

from revwh.contract import DATE, SALESFORCE, TIMESTAMP, TableContract
from revwh.raw.landing import LandResult, TableBatch, ensure_tables, land_labelled, pipeline_state
from revwh.raw.validate import REJECT_SCHEMA, check_records, normalise_column
from revwh.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = "revwh_mapped_exports"
DATASET = "raw_salesforce"
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


class MappingError(ValueError):
    """The mapping file is invalid; the message names the mapping, the table and the fix."""


@dataclass
class Mapping:
    name: str
    files: dict[str, dict]
    tables: list[dict]
    date_formats: list[str] = field(default_factory=lambda: ["%Y-%m-%d"])
    sha256: str = ""

    @property
    def source(self) -> str:
        """The rows' `_source`."""
        return f"mapped:{self.name}"

    @property
    def state_key(self) -> str:
        """dlt's source name (an identifier) under which the processed files are kept."""
        return "mapped_" + re.sub(r"[^a-z0-9_]", "_", self.name.lower())


def resolve_mapping(mapping_file: str | Path) -> Path:
    """A path, or the name of a shipped mapping (`crm_sales_opportunities`)."""
    path = Path(mapping_file)
    if path.is_file():
        return path
    shipped = MAPPINGS_DIR / f"{mapping_file}.yml"
    if shipped.is_file():
        return shipped
    raise MappingError(f"mapping {mapping_file} not found: give a file path or one of "
                       + ", ".join(p.stem for p in sorted(MAPPINGS_DIR.glob("*.yml"))))


def load_mapping(mapping_file: str | Path, contracts: dict[str, TableContract] = SALESFORCE) -> Mapping:
    path = resolve_mapping(mapping_file)
    text = path.read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping {path} is not valid YAML: {exc}") from None
    name = doc.get("name") or path.stem
    files = doc.get("files") or {}
    files = {k: ({"path": v} if isinstance(v, str) else dict(v)) for k, v in files.items()}
    tables = doc.get("tables") or []
    if not files or not tables:
        raise MappingError(f"mapping {path}: needs `files` and `tables`")
    for t in tables:
        where = f"mapping {path}, table {t.get('table')!r}"
        if t.get("table") not in contracts:
            raise MappingError(f"{where}: unknown table; use one of {', '.join(contracts)}")
        if t.get("from") not in files:
            raise MappingError(f"{where}: `from` must name one of the files: {', '.join(files)}")
        if "id" not in (t.get("fields") or {}):
            raise MappingError(f"{where}: map the `id` field (a column, or {{key: column}})")
    formats = doc.get("date_formats") or ["%Y-%m-%d"]
    return Mapping(name=name, files=files, tables=tables, date_formats=list(formats),
                   sha256=hashlib.sha256(text.encode()).hexdigest())


# -- reading source files ---------------------------------------------------------------------

@dataclass
class SourceFile:
    key: str
    location: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _fetch(folder: str | Path, rel: str) -> tuple[str, bytes] | None:
    folder_s = str(folder)
    if "://" in folder_s:
        import fsspec

        fs, root = fsspec.core.url_to_fs(folder_s)
        location = root.rstrip("/") + "/" + rel
        if not fs.exists(location):
            return None
        with fs.open(location, "rb") as f:
            return folder_s.rstrip("/") + "/" + rel, f.read()
    path = Path(folder) / rel
    if not path.is_file():
        return None
    return str(path), path.read_bytes()


def read_rows(src: SourceFile, source: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(line, {column: text}) for every row of the file, and rejects for unreadable lines."""
    suffix = Path(src.location).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"src{suffix or '.csv'}"
        path.write_bytes(src.data)
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            rows = [{normalise_column(k): _text(v) for k, v in r.items()} for r in table.to_pylist()]
            return list(enumerate(rows, start=1)), []
        if suffix in (".json", ".jsonl", ".ndjson"):
            return _json_rows(src, source)
        return _csv_rows(path, src, source)


def _text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_rows(src: SourceFile, source: str):
    text = src.data.decode("utf-8", "replace").lstrip("\ufeff")
    try:
        doc = json.loads(text)
        records = doc if isinstance(doc, list) else next(
            (doc[k] for k in ("records", "results", "data") if isinstance(doc.get(k), list)), [doc])
        pairs = list(enumerate(records, start=1))
    except json.JSONDecodeError:
        pairs = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    pairs.append((n, json.loads(line)))
                except json.JSONDecodeError:
                    pairs.append((n, line))
    rows, rejects = [], []
    for n, rec in pairs:
        if isinstance(rec, dict):
            rows.append((n, {normalise_column(k): _text(v) for k, v in rec.items()}))
        else:
            rejects.append({"source": source, "table_name": src.key, "origin": src.location,
                            "line": n, "reason": "not a JSON object", "raw_text": str(rec)[:4000]})
    return rows, rejects


def _csv_rows(path: Path, src: SourceFile, source: str):
    import duckdb

    con = duckdb.connect()
    try:
        try:
            rel = con.sql("select * from read_csv(?, all_varchar = true, header = true, "
                          "store_rejects = true, normalize_names = false)", params=[str(path)])
            names = [normalise_column(c) for c in rel.columns]
            data = rel.fetchall()
        except duckdb.Error as exc:
            return [], [{"source": source, "table_name": src.key, "origin": src.location, "line": 0,
                         "reason": f"file is not readable as CSV: {exc}",
                         "raw_text": src.data[:4096].decode("utf-8", "replace")}]
        rows = [(i + 2, dict(zip(names, r))) for i, r in enumerate(data)]
        broken = con.sql("select line, error_type || ': ' || error_message, csv_line "
                         "from reject_errors order by line").fetchall()
    finally:
        con.close()
    rejects = [{"source": source, "table_name": src.key, "origin": src.location, "line": int(line),
                "reason": reason, "raw_text": raw} for line, reason, raw in broken]
    return rows, rejects


# -- applying a mapping -----------------------------------------------------------------------

def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.strip().lower()).strip("-")


def _date(value: str, formats: list[str], kind: str) -> str:
    """An export's date in one of `formats` -> ISO; left as it was when none fits (the contract
    check then rejects the row with the value in the reason)."""
    for fmt in formats:
        try:
            dt = datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        return dt.date().isoformat() if kind == DATE else dt.isoformat(sep=" ")
    return value


def field_value(spec, row: dict, *, kind: str | None, formats: list[str], logical_date: str):
    """The value of one canonical field for one source row."""
    if not isinstance(spec, dict):
        spec = {"column": spec}
    if "value" in spec:
        return spec["value"]
    if "template" in spec:
        values = {k: (v or "") for k, v in row.items()}
        text = spec["template"].format_map(_Missing(values)).strip()
        return text or None
    columns = spec.get("column") if "column" in spec else spec.get("key")
    columns = columns if isinstance(columns, list) else [columns]
    raw = next((row.get(normalise_column(c)) for c in columns
                if row.get(normalise_column(c)) not in (None, "")), None)
    if raw is None:
        default = spec.get("default")
        return default.replace("{logical_date}", logical_date) if isinstance(default, str) else default
    if "key" in spec:
        return f"{spec.get('prefix', '')}{slug(raw)}"
    if "values" in spec:
        values = {str(k).strip().lower(): v for k, v in spec["values"].items()}
        mapped = values.get(raw.strip().lower(), spec.get("default", raw) if "default" in spec else raw)
        return mapped
    if "multiply" in spec:
        try:
            number = float(raw.replace(",", "")) * float(spec["multiply"])
            return int(number) if number.is_integer() else number
        except ValueError:
            return raw
    if kind in (DATE, TIMESTAMP):
        fmts = [spec["format"]] if spec.get("format") else formats
        return _date(raw, fmts, kind)
    return raw


class _Missing(dict):
    def __missing__(self, key):
        return ""


def map_rows(mapping: Mapping, rows_by_file: dict[str, list[tuple[int, dict]]], logical_date: str,
             modstamp: str) -> dict[str, list[dict]]:
    """Canonical rows per table; the first mapping entry that yields an id wins."""
    out: dict[str, dict] = {}
    for entry in mapping.tables:
        table = entry["table"]
        contract = SALESFORCE[table]
        seen = out.setdefault(table, {})
        formats = [entry["date_format"]] if entry.get("date_format") else mapping.date_formats
        new: dict = {}
        anonymous = []
        for line, row in rows_by_file.get(entry["from"], []):
            rec = {name: field_value(spec, row, kind=contract.columns.get(name), formats=formats,
                                     logical_date=logical_date)
                   for name, spec in entry["fields"].items()}
            rec.update(entry.get("constants") or {})
            rec.setdefault("system_modstamp", modstamp)
            rec.setdefault("is_deleted", False)
            rid = rec.get("id")
            if rid in (None, ""):
                if not entry.get("distinct"):  # a dimension taken from a fact row: no entity
                    anonymous.append(rec)  # rejected by the contract check: missing id
                continue
            if rid in seen or (entry.get("distinct") and rid in new):
                continue
            new[rid] = rec
        seen.update(new)
        if anonymous:
            seen.update({f"__anonymous_{table}_{len(seen) + i}": r for i, r in enumerate(anonymous)})
    return {t: list(rows.values()) for t, rows in out.items()}


def extract_mapped(settings: Settings, logical_date: str, mapping_file: str | Path,
                   folder: str | Path) -> LandResult:
    """Load one CRM export through its mapping into `raw_salesforce` as one batch."""
    mapping = load_mapping(mapping_file)
    source = mapping.source
    files: dict[str, SourceFile] = {}
    for key, spec in mapping.files.items():
        got = _fetch(folder, spec["path"])
        if got is None:
            if spec.get("optional"):
                log.info("%s: optional file %s not present", source, spec["path"])
                continue
            from revwh.extract.file_drop import SourceUnreadable

            raise SourceUnreadable(f"{source}: {spec['path']} not found in {folder}: the mapping "
                                   f"{mapping.name} needs it (mark it `optional: true` if not)")
        files[key] = SourceFile(key=key, location=got[0], data=got[1])
    digest = hashlib.sha256((mapping.sha256 + "".join(
        f"{k}:{f.sha256}" for k, f in sorted(files.items()))).encode()).hexdigest()
    batch_id = f"{source}:{logical_date}:{digest[:12]}"
    state = pipeline_state(settings, PIPELINE, DATASET, mapping.state_key)
    if state.get("digest") == digest:
        log.info("%s: export and mapping unchanged since they were landed", source)
        return LandResult(source=source, batch_id=batch_id, skipped=[f.location for f in files.values()])
    ensure_tables(settings, pipeline_name=PIPELINE, dataset=DATASET, source=mapping.state_key,
                  contracts=SALESFORCE)

    rows_by_file: dict[str, list[tuple[int, dict]]] = {}
    file_rejects: list[dict] = []
    for key, src in files.items():
        rows, rejects = read_rows(src, source)
        rows_by_file[key] = rows
        file_rejects.extend(rejects)
    modstamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    batches = []
    for table, records in map_rows(mapping, rows_by_file, logical_date, modstamp).items():
        checked = check_records(records, SALESFORCE[table], source=source,
                                origin=f"{folder}#{mapping.name}:{table}")
        batches.append(TableBatch(table=table, good=checked.good, rejects=checked.rejects))
    if file_rejects:
        batches.append(TableBatch(table="_rejects", good=pa.table({}),
                                  rejects=pa.Table.from_pylist(file_rejects, schema=REJECT_SCHEMA)))
    result = land_labelled(settings, pipeline_name=PIPELINE, dataset=DATASET,
                           source=mapping.state_key, label=source, batch_id=batch_id, batches=batches,
                  state_update={"digest": digest,
                                "files": {f.location: f.sha256 for f in files.values()}})
    log.info("%s: landed %d rows (%d rejects)", source, result.total_rows, result.rejects)
    return result
