"""What the API readers share: credentials, the window, and a load where one mailbox or
calendar that fails becomes a reject while the others land (its cursor stays where it was)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time

import pyarrow as pa

from revwh.extract.activity.calendar import extraction_window
from revwh.extract.activity.http import ApiError
from revwh.extract.activity.mail import DATASET, ITEM_TABLES, batch_id
from revwh.extract.activity.tables import EMAIL, REJECTS, Rejects
from revwh.raw.landing import LandResult, land_stream, pipeline_state
from revwh.settings import Settings

log = logging.getLogger(__name__)


class MissingCredentials(ApiError):
    """No token in the environment; the message names the variable to set."""


def credential(explicit: str | None, *names: str, env: dict | None = None) -> str:
    env = os.environ if env is None else env
    if explicit:
        return explicit
    for n in names:
        if env.get(n):
            return env[n]
    raise MissingCredentials(f"no access token: set {' or '.join(names)}")


def env_list(explicit: Iterable[str] | None, name: str, default: str) -> list[str]:
    if explicit:
        return list(explicit)
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def window_datetimes(settings: Settings, logical_date: str) -> tuple[datetime, datetime]:
    ws, we = extraction_window(settings, logical_date)
    return (datetime.combine(ws, time(), UTC), datetime.combine(we, time(), UTC))


def iso_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Unit = Callable[[dict | None, dict], Iterator[list[tuple[str, pa.Table]]]]


def run_units(settings: Settings, *, pipeline_name: str, source: str, logical_date: str,
              units: dict[str, Unit], table: str = EMAIL) -> LandResult:
    """Land every unit (a mailbox or calendar: ``key -> sync(previous cursor, out)``) in one
    load. A unit puts its new cursor in ``out["cursor"]`` once it has read everything; a unit
    that fails is a reject with the reason and keeps its previous cursor."""
    state = pipeline_state(settings, pipeline_name, DATASET, source)
    cursors: dict = dict(state.get("cursors", {}))
    updated: dict = {}
    failed: list[str] = []

    def items():
        for key, sync in units.items():
            out: dict = {}
            try:
                for tables in sync(cursors.get(key), out):
                    yield from tables
            except ApiError as exc:
                if exc.status == 401 or isinstance(exc, MissingCredentials):
                    raise  # the credentials are wrong for every unit: fail the run loudly
                log.warning("%s: %s failed, its cursor stays: %s", source, key, exc)
                failed.append(key)
                rejects = Rejects(source)
                rejects.add(table, key, None, f"{key}: {exc}", "")
                yield REJECTS, rejects.take()
                continue
            if "cursor" in out:
                updated[key] = out["cursor"]

    bid = batch_id(source, logical_date, [f"{k}:{cursors.get(k)}" for k in units])
    result = land_stream(settings, pipeline_name=pipeline_name, dataset=DATASET, source=source,
                         batch_id=bid, items=items(),
                         state_update=lambda: {"cursors": {**cursors, **updated}},
                         item_tables=ITEM_TABLES)
    result.skipped = failed
    return result


def parse_iso(value: str) -> datetime | date:
    """``2024-03-14T10:00:00+01:00``, ``...Z``, ``2024-03-14T09:00:00.0000000`` (Graph: UTC
    when asked for) or a date."""
    v = value.strip()
    if len(v) == 10:
        return date.fromisoformat(v)
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    if "." in v[19:]:  # fractions beyond microseconds (Graph sends 7 digits)
        head, _, rest = v.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        v = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    return datetime.fromisoformat(v)
