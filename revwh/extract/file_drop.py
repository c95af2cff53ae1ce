"""File drops: CSV, JSON (lines) or Parquet exports named after the raw tables
(`opportunity.csv`, `account.parquet`, ...) in a folder.

Each file is recorded with its content hash once landed; a rerun skips files already landed, and a
changed file lands again as a new batch (staging keeps the latest version of each record).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from revwh.contract import SALESFORCE, TableContract
from revwh.raw.landing import LandResult, TableBatch, land, pipeline_state
from revwh.raw.validate import check_file
from revwh.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = "revwh_salesforce_files"
DATASET = "raw_salesforce"
SOURCE = "salesforce_files"
SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")


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
    """Land every new or changed file of the Salesforce-shaped file drop as one batch."""
    files = discover(settings.file_drop_dir)
    state = pipeline_state(settings, PIPELINE, DATASET, SOURCE)
    processed: dict[str, str] = dict(state.get("processed_files", {}))
    todo = [f for f in files if processed.get(f.key) != f.sha256]
    skipped = [f.key for f in files if f not in todo]
    digest = hashlib.sha256("".join(f.sha256 for f in todo).encode()).hexdigest()[:12]
    batch_id = f"{SOURCE}:{logical_date}:{digest}"
    if not todo:
        log.info("file drop: all %d files already landed", len(files))
        return LandResult(source=SOURCE, batch_id=batch_id, skipped=skipped)
    batches = []
    for f in todo:
        checked = check_file(f.path, f.contract, source=SOURCE)
        batches.append(TableBatch(table=f.contract.name, good=checked.good, rejects=checked.rejects))
    processed.update({f.key: f.sha256 for f in todo})
    result = land(settings, pipeline_name=PIPELINE, dataset=DATASET, source=SOURCE,
                  batch_id=batch_id, batches=batches,
                  state_update={"processed_files": processed})
    result.skipped = skipped
    return result
