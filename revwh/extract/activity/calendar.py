"""extract_calendars: the meetings of every .ics file in the extraction window, into raw.

The window is ``logical_date - calendar_days_back`` to ``logical_date + calendar_days_ahead``
(UTC midnights). State per file: its content hash and the window already expanded. A changed
file is expanded over the whole window again (staging keeps the latest batch of a calendar); an
unchanged one only over the part of the window that is new since the last run (the days that
entered at the front as the logical date moved on), so a rerun for the same day lands nothing.
"""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta
from pathlib import Path

from revwh.extract.activity import icsfiles as IF
from revwh.extract.activity.mail import DATASET, ITEM_TABLES, SourceUnreadable, batch_id
from revwh.extract.activity.mailfiles import sha256_file
from revwh.extract.activity.parallel import (
    coalesced,
    default_workers,
    ordered_map,
    worker_pool,
)
from revwh.extract.activity.privacy import PrivacyConfig
from revwh.extract.activity.tables import MEETING, REJECTS, Rejects
from revwh.raw.landing import LandResult, land_stream, pipeline_state
from revwh.settings import Settings

log = logging.getLogger(__name__)

CALENDAR_PIPELINE = "revwh_activity_calendar_files"
CALENDAR_SOURCE = "calendar_files"
SMALL_CALENDAR_BYTES = 4 << 20


def extraction_window(settings: Settings, logical_date: str) -> tuple[date, date]:
    day = date.fromisoformat(str(logical_date)[:10])
    return (day - timedelta(days=settings.calendar_days_back),
            day + timedelta(days=settings.calendar_days_ahead))


def discover(root: Path) -> list[tuple[Path, str, str]]:
    """(path, key, calendar name) of every .ics file under ``root``."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() == ".ics" and not any(
                part.startswith(".") for part in p.relative_to(root).parts):
            key = p.relative_to(root).as_posix()
            out.append((p, key, key[: -len(p.suffix)]))
    return out


def windows_to_expand(prev: dict | None, sha: str, ws: date, we: date
                      ) -> tuple[list[tuple[date, date]], tuple[date, date]]:
    """(windows still to expand, window covered afterwards) for one file."""
    if not prev or prev.get("sha256") != sha or "window" not in prev:
        return [(ws, we)], (ws, we)
    pws, pwe = (date.fromisoformat(x) for x in prev["window"])
    if we < pws or ws > pwe:  # no overlap with what was done: do the window afresh
        return [(ws, we)], (ws, we)
    todo = []
    if ws < pws:
        todo.append((ws, pws))
    if we > pwe:
        todo.append((pwe, we))
    return todo, (min(ws, pws), max(we, pwe))


def extract_calendars(settings: Settings, logical_date: str) -> LandResult:
    """Land the meetings (one row per occurrence) and attendees of every .ics file under
    ``settings.calendar_path`` into raw_activity.activity_meeting / activity_meeting_attendee."""
    root = settings.calendar_path
    if not root.is_dir():
        raise SourceUnreadable(
            f"calendar folder {root} does not exist: set REVWH_CALENDAR_DIR to the folder of "
            ".ics files, or run `revwh demo-data` to generate demo sources")
    files = discover(root)
    if not files:
        log.warning("calendars: no .ics file under %s", root)
    ws, we = extraction_window(settings, logical_date)
    state = pipeline_state(settings, CALENDAR_PIPELINE, DATASET, CALENDAR_SOURCE)
    processed: dict = dict(state.get("processed_files", {}))
    default_tz = str(settings.extra.get("calendar_default_timezone", "UTC"))
    tasks: list[IF.CalendarTask] = []
    updates: dict = {}
    skipped: list[str] = []
    ident: list[str] = []
    plan_rejects = Rejects(CALENDAR_SOURCE)
    total = 0
    for path, key, name in files:
        try:
            sha = sha256_file(path).hexdigest()
            size = path.stat().st_size
        except OSError as exc:
            plan_rejects.add(MEETING, key, None, f"file could not be read: {exc.strerror or exc}",
                             "")
            continue
        todo, covered = windows_to_expand(processed.get(key), sha, ws, we)
        if not todo:
            skipped.append(key)
            continue
        parts = max(1, math.ceil(size / IF.PART_BYTES))
        windows = [(a.isoformat(), b.isoformat()) for a, b in todo]
        fresh = processed.get(key, {}).get("sha256") != sha
        tasks += [IF.CalendarTask(str(path), key, name, windows, part, parts, default_tz, fresh)
                  for part in range(parts)]
        updates[key] = {"sha256": sha, "window": [covered[0].isoformat(), covered[1].isoformat()]}
        ident.append(f"{key}:{sha}:{windows}")
        total += size
    bid = batch_id(CALENDAR_SOURCE, logical_date, ident)
    if not tasks and not len(plan_rejects):
        log.info("calendars: nothing new in %d files", len(files))
        return LandResult(source=CALENDAR_SOURCE, batch_id=bid, skipped=skipped)
    config = PrivacyConfig.from_settings(settings)
    workers = default_workers(settings.extra) if total > SMALL_CALENDAR_BYTES else 1
    # imported before the workers fork, so that each of them does not import them again
    import icalendar  # noqa: F401
    import recurring_ical_events  # noqa: F401
    with worker_pool(workers) as pool:
        def items():
            if len(plan_rejects):
                yield REJECTS, plan_rejects.take()
            results = ordered_map(IF.run_task, [(t, config, CALENDAR_SOURCE) for t in tasks], pool)
            yield from coalesced(t for tables in results for t in tables)

        result = land_stream(settings, pipeline_name=CALENDAR_PIPELINE, dataset=DATASET,
                             source=CALENDAR_SOURCE, batch_id=bid, items=items(),
                             state_update={"processed_files": {**processed, **updates}},
                             item_tables=ITEM_TABLES)
    result.skipped = skipped
    log.info("calendars: landed %s, %d rejects, %d files unchanged", result.rows, result.rejects,
             len(skipped))
    return result
