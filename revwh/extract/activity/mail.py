"""extract_mail: every new message of the mail folder into raw_activity, in one streamed load."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from revwh.extract.activity import mailfiles as MF
from revwh.extract.activity.parallel import (
    SMALL_INPUT_BYTES,
    coalesced,
    default_workers,
    ordered_map,
    worker_pool,
)
from revwh.extract.activity.privacy import PrivacyConfig
from revwh.extract.activity.tables import EMAIL, MEETING, REJECTS, Rejects
from revwh.raw.landing import LandResult, land_stream, pipeline_state
from revwh.settings import Settings

log = logging.getLogger(__name__)

DATASET = "raw_activity"
MAIL_PIPELINE = "revwh_activity_mail_files"
MAIL_SOURCE = "mail_files"
ITEM_TABLES = (EMAIL, MEETING)  # what the reject share is measured against


class SourceUnreadable(RuntimeError):
    """The configured folder does not exist; the message names the setting to fix."""


def batch_id(source: str, logical_date: str, parts: list[str]) -> str:
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
    return f"{source}:{logical_date}:{digest}"


def _plan_mbox(src: MF.MailSource, prev: dict | None) -> tuple[list[MF.MailTask], dict | None]:
    st = src.path.stat()
    size = st.st_size
    known = prev if prev and prev.get("kind") == "mbox" else None
    if known and known.get("offset") == size and known.get("mtime_ns") == st.st_mtime_ns:
        return [], None  # untouched since the last run
    h = hashlib.sha256()
    start = hashed = 0
    if known and 0 < known.get("offset", 0) <= size:
        hashed = known["offset"]
        MF.sha256_file(src.path, 0, hashed, h)
        if h.hexdigest() == known.get("prefix_sha256"):
            start = hashed  # the same bytes, perhaps with mail appended: parse what is new
        else:
            log.info("mail: %s was rewritten, parsing it again from the start", src.key)
    elif known:
        log.info("mail: %s shrank, parsing it again from the start", src.key)
    MF.sha256_file(src.path, hashed, size, h)
    state = {"kind": "mbox", "offset": size, "prefix_sha256": h.hexdigest(),
             "mtime_ns": st.st_mtime_ns}
    if start >= size:
        return [], state
    tasks = [MF.MailTask("mbox", str(src.path), src.key, src.mailbox, a, b)
             for a, b in MF.mbox_ranges(src.path, start, size)]
    return tasks, state


def _plan_maildir(src: MF.MailSource, prev: dict | None) -> tuple[list[MF.MailTask], dict | None]:
    names = MF.maildir_messages(src.path)
    done = set(prev.get("names", ())) if prev and prev.get("kind") == "maildir" else set()
    new = sorted(n for n in names if n not in done)
    if not new:
        return [], None
    tasks = []
    for i in range(0, len(new), MF.FILES_PER_TASK):
        chunk = new[i:i + MF.FILES_PER_TASK]
        tasks.append(MF.MailTask("maildir", str(src.path), src.key, src.mailbox,
                                 names=[(names[n], f"{src.key}/{names[n]}") for n in chunk]))
    return tasks, {"kind": "maildir", "names": sorted(done | set(names))}


def plan(settings: Settings, sources: list[MF.MailSource], processed: dict
         ) -> tuple[list[MF.MailTask], dict, list[str], Rejects, list[str]]:
    """Tasks for what is new, the state after landing them, skipped keys, planning rejects."""
    tasks: list[MF.MailTask] = []
    updates: dict = {}
    skipped: list[str] = []
    rejects = Rejects(MAIL_SOURCE)
    ident: list[str] = []
    eml_batches: dict[str, list[tuple[str, str]]] = {}
    for src in sources:
        prev = processed.get(src.key)
        try:
            if src.kind == "mbox":
                new_tasks, state = _plan_mbox(src, prev)
            elif src.kind == "maildir":
                new_tasks, state = _plan_maildir(src, prev)
            else:
                sha = MF.sha256_file(src.path).hexdigest()
                if prev and prev.get("sha256") == sha:
                    new_tasks, state = [], None
                else:
                    eml_batches.setdefault(src.mailbox, []).append((str(src.path), src.key))
                    new_tasks, state = [], {"kind": "eml", "sha256": sha}
        except OSError as exc:
            rejects.add(EMAIL, src.key, None, f"file could not be read: {exc.strerror or exc}", "")
            continue
        if not new_tasks:
            skipped.append(src.key)  # nothing new to read (perhaps a new mtime to remember)
            if state is None:
                continue
        tasks += new_tasks
        if state is not None:
            updates[src.key] = state
            ident.append(f"{src.key}:{state.get('offset', '')}:{state.get('sha256', '')}:"
                         f"{len(state.get('names', ()))}")
    root = settings.mail_path
    for mailbox, files in eml_batches.items():
        for i in range(0, len(files), MF.FILES_PER_TASK):
            chunk = files[i:i + MF.FILES_PER_TASK]
            tasks.append(MF.MailTask("eml", str(root), mailbox, mailbox,
                                     names=[(str(Path(p).relative_to(root)), key)
                                            for p, key in chunk]))
    return tasks, updates, skipped, rejects, ident


def _task_bytes(task: MF.MailTask) -> int:
    return task.end - task.start if task.kind == "mbox" else 4096 * len(task.names)


def extract_mail(settings: Settings, logical_date: str) -> LandResult:
    """Land the headers of every new message under ``settings.mail_path`` (mbox files, Maildir
    folders, .eml files) into raw_activity.activity_email / activity_email_recipient."""
    root = settings.mail_path
    if not root.is_dir():
        raise SourceUnreadable(
            f"mail folder {root} does not exist: set REVWH_MAIL_DIR to the folder of mbox files, "
            "Maildir folders or .eml files, or run `revwh demo-data` to generate demo sources")
    sources = MF.discover(root)
    if not sources:
        log.warning("mail: no mbox, Maildir or .eml file under %s", root)
    state = pipeline_state(settings, MAIL_PIPELINE, DATASET, MAIL_SOURCE)
    processed: dict = dict(state.get("processed_files", {}))
    tasks, updates, skipped, plan_rejects, ident = plan(settings, sources, processed)
    bid = batch_id(MAIL_SOURCE, logical_date, ident)
    if not tasks and not len(plan_rejects):
        log.info("mail: nothing new in %d sources", len(sources))
        if updates:  # e.g. an mbox touched but not grown: remember its new mtime
            land_stream(settings, pipeline_name=MAIL_PIPELINE, dataset=DATASET,
                        source=MAIL_SOURCE, batch_id=bid, items=iter(()),
                        state_update={"processed_files": {**processed, **updates}})
        return LandResult(source=MAIL_SOURCE, batch_id=bid, skipped=skipped)
    config = PrivacyConfig.from_settings(settings)
    total = sum(_task_bytes(t) for t in tasks)
    workers = default_workers(settings.extra) if total > SMALL_INPUT_BYTES else 1

    with worker_pool(workers) as pool:
        def items():
            if len(plan_rejects):
                yield REJECTS, plan_rejects.take()
            results = ordered_map(MF.run_task, [(t, config, MAIL_SOURCE) for t in tasks], pool)
            yield from coalesced(t for tables in results for t in tables)

        result = land_stream(settings, pipeline_name=MAIL_PIPELINE, dataset=DATASET,
                             source=MAIL_SOURCE, batch_id=bid, items=items(),
                             state_update={"processed_files": {**processed, **updates}},
                             item_tables=ITEM_TABLES)
    result.skipped = skipped
    log.info("mail: landed %s, %d rejects, %d sources unchanged", result.rows, result.rejects,
             len(skipped))
    return result
