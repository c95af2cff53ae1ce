"""File drops: CSV, JSON (lines) or Parquet exports named after the raw tables
(`opportunity.csv`, `account.parquet`, ...) in a folder.

Each file is recorded with its content hash once landed, in the same transaction or load as its
rows; a rerun skips files already landed, and a changed file lands again as a new batch (staging
keeps the latest version of each record).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb

from revwh.contract import SALESFORCE, TableContract
from revwh.raw.direct import has_table, land_direct, landed_files
from revwh.raw.landing import LandResult, land_kept, pipeline_state, source_state, synced_pipeline
from revwh.raw.validate import check_file_into
from revwh.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = "revwh_salesforce_files"
DATASET = "raw_salesforce"
SOURCE = "salesforce_files"
SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
# DuckDB holds the checked rows until they land; beyond this it spills them to disk
MEMORY_LIMIT = "1GB"


class SourceUnreadable(RuntimeError):
    """The source folder is missing or empty; the message names the setting to fix."""


@dataclass(frozen=True)
class DropFile:
    path: Path
    contract: TableContract
    sha256: str

    @property
    def key(self) -> str:
        return self.path.name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def discover(folder: Path, contracts: dict[str, TableContract] = SALESFORCE) -> list[DropFile]:
    if not folder.is_dir():
        raise SourceUnreadable(
            f"file drop folder {folder} does not exist: set REVWH_SALESFORCE_FILE_DROP to the "
            "folder of CSV exports, or run `revwh demo-data` to generate demo sources")
    files = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES):
        contract = contracts.get(path.stem.lower())
        if contract is None:
            log.warning("file drop: %s matches no known table, left alone", path.name)
            continue
        files.append(DropFile(path=path, contract=contract, sha256=_sha256(path)))
    if not files:
        raise SourceUnreadable(
            f"file drop folder {folder} holds no export named after a known table "
            f"(expected e.g. opportunity.csv): check REVWH_SALESFORCE_FILE_DROP")
    return files


def extract_file_drop(settings: Settings, logical_date: str) -> LandResult:
    """Land every new or changed file of the Salesforce-shaped file drop as one batch.

    The files are checked in DuckDB (CSV parsed and type-checked there, several files at a
    time). On a DuckDB warehouse the warehouse connection appends the rows that fit in one
    transaction (see revwh.raw.direct); on other destinations dlt lands them (`land_kept`)."""
    files = discover(settings.file_drop_dir)
    if settings.target == "duckdb":
        return _into_duckdb(settings, logical_date, files)
    p = synced_pipeline(settings, PIPELINE, DATASET)
    processed = dict(source_state(p, SOURCE).get("processed_files", {}))
    todo, skipped, batch_id = _plan(files, processed, logical_date)
    if not todo:
        return LandResult(source=SOURCE, batch_id=batch_id, skipped=skipped)
    processed.update({f.key: f.sha256 for f in todo})
    with tempfile.TemporaryDirectory(prefix="revwh-file-drop-") as spill, \
            closing(duckdb.connect(config={"memory_limit": MEMORY_LIMIT,
                                           "temp_directory": spill})) as con:
        kept, rejects = _check(con, todo)
        result = land_kept(settings, p, source=SOURCE, batch_id=batch_id, kept=kept,
                           rejects=rejects, state_update={"processed_files": processed})
    result.skipped = skipped
    return result


def _into_duckdb(settings: Settings, logical_date: str, files: list[DropFile]) -> LandResult:
    processed, from_dlt = _processed_in_duckdb(settings)
    todo, skipped, batch_id = _plan(files, processed, logical_date)
    if not todo:
        return LandResult(source=SOURCE, batch_id=batch_id, skipped=skipped)
    # the first direct landing also records what dlt had landed
    landing = {**(processed if from_dlt else {}), **{f.key: f.sha256 for f in todo}}
    with closing(duckdb.connect(str(settings.warehouse_path))) as con:
        # the checked rows wait in an in-memory database that every cursor of `con` sees
        con.execute("attach ':memory:' as __file_drop")
        try:
            kept, rejects = _check(con, todo, scratch="__file_drop.")
            warehouse = con.execute("select current_database()").fetchall()[0][0]
            result = land_direct(con, catalog=warehouse, dataset=DATASET, source=SOURCE,
                                 batch_id=batch_id, kept=kept, rejects=rejects, files=landing,
                                 max_reject_share=settings.max_reject_share)
        finally:
            con.execute("detach __file_drop")
    result.skipped = skipped
    return result


def _processed_in_duckdb(settings: Settings) -> tuple[dict[str, str], bool]:
    """The files landed in the DuckDB warehouse, and whether the list comes from the dlt
    pipeline's state (a warehouse whose file drop dlt landed, before direct landing)."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with closing(duckdb.connect(str(settings.warehouse_path))) as con:
        processed = landed_files(con, DATASET, SOURCE)
        via_dlt = not processed and has_table(con, DATASET, "_dlt_pipeline_state") and bool(
            con.execute(f"select count(*) from {DATASET}._dlt_pipeline_state "
                        "where pipeline_name = ?", [PIPELINE]).fetchall()[0][0])
    if via_dlt:
        state = pipeline_state(settings, PIPELINE, DATASET, SOURCE)
        return dict(state.get("processed_files", {})), True
    return processed, False


def _plan(files: list[DropFile], processed: dict[str, str], logical_date: str):
    todo = [f for f in files if processed.get(f.key) != f.sha256]
    skipped = [f.key for f in files if f not in todo]
    digest = hashlib.sha256("".join(f.sha256 for f in todo).encode()).hexdigest()[:12]
    if not todo:
        log.info("file drop: all %d files already landed", len(files))
    return todo, skipped, f"{SOURCE}:{logical_date}:{digest}"


def _check(con: duckdb.DuckDBPyConnection, todo: list[DropFile], scratch: str = ""):
    """Check the files into tables `<scratch>__file_<i>` of `con`'s databases, several at a time:
    DuckDB parses a file of this size on one thread, so files in parallel use more cores."""
    def check(i: int, f: DropFile):
        with closing(con.cursor()) as cur:  # one connection per thread, the same databases
            cur.execute("set TimeZone = 'UTC'")
            kept = check_file_into(cur, f.path, f.contract, source=SOURCE,
                                   target=f"{scratch}__file_{i}")
        kept.con = con  # its table is read through `con` from now on
        return f.contract.name, kept

    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, len(todo))) as pool:
        kept = list(pool.map(check, range(len(todo)), todo))
    return kept, [k.rejects for _, k in kept]
