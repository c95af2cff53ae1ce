"""What the dashboard reads: the published `marts` and `forecast` relations, read-only.

On DuckDB every publish renames a fresh replica over `published.duckdb` (`revwh.publish`), so
the dashboard opens that file read-only for each query and never waits for, or blocks, the
nightly writer; on PostgreSQL it reads the published views in a read-only session. Results are
cached per published version, so a new publish shows up on the next rerun.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

import duckdb
import pandas as pd
import streamlit as st

from revwh.publish import PUBLISHED_SCHEMA
from revwh.settings import Settings
from revwh.warehouse import META_SCHEMA, Connection, WarehouseError, connect_published

T = TypeVar("T")

RETRY_DELAY_SECONDS = 0.5


class PublishChanged(RuntimeError):
    """A publish landed between reading the versions and running a query: rerun the page so
    that every chart shows one version and says which."""


@dataclass(frozen=True)
class Release:
    """The published version of one kind (`marts` or `forecast`)."""

    kind: str
    version: str
    logical_date: date
    published_at: datetime  # UTC, naive (as revwh_meta stores it)


@dataclass(frozen=True)
class Published:
    """What is published right now: one read of `revwh_meta.versions` and the relation names."""

    settings: Settings
    releases: tuple[Release, ...]
    relations: frozenset[str]  # "schema.name"

    @property
    def token(self) -> str:
        return _token(self.settings, self.releases)

    def release(self, kind: str) -> Release | None:
        return next((r for r in self.releases if r.kind == kind), None)

    @property
    def as_of(self) -> date:
        """The logical date of the published marts: 'today' for every chart."""
        marts = self.release("marts")
        return (marts or self.releases[0]).logical_date

    def hours_since_publish(self) -> float:
        newest = max(r.published_at for r in self.releases)
        return (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600

    def missing(self, *relations: str) -> list[str]:
        return [r for r in relations if r not in self.relations]

    def frame(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """Run a read-only query against the published relations (cached per version)."""
        return _frame(self.token, sql, tuple(params), self.settings)


def published(settings: Settings) -> Published | None:
    """The published state, or None when nothing is published yet."""
    if settings.target == "duckdb" and not settings.published_path.exists():
        return None
    return _with_retry(settings, lambda con: _read_state(settings, con))


def _read_state(settings: Settings, con: Connection) -> Published | None:
    if not con.schema_exists(META_SCHEMA):
        return None
    releases = _releases(con)
    relations = frozenset(f"{schema}.{name}" for schema in PUBLISHED_SCHEMA.values()
                          for name in con.relations(schema))
    if not releases or not relations:
        return None
    return Published(settings, releases, relations)


def _releases(con: Connection) -> tuple[Release, ...]:
    rows = con.execute("select kind, version, logical_date, published_at "
                       f"from {META_SCHEMA}.versions where status = 'published' order by kind")
    return tuple(Release(kind, version, _as_date(day), published_at)
                 for kind, version, day, published_at in rows)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _token(settings: Settings, releases: tuple[Release, ...]) -> str:
    # one warehouse per dashboard process: the target and replica path suffice (no DSN secrets)
    where = "postgres" if settings.target == "postgres" else str(settings.published_path)
    return f"{where}|" + ",".join(r.version for r in releases)


@st.cache_data(max_entries=512, show_spinner=False)
def _frame(token: str, sql: str, params: tuple, _settings: Settings) -> pd.DataFrame:
    def run(con: Connection) -> pd.DataFrame:
        if _token(_settings, _releases(con)) != token:
            raise PublishChanged(token)
        return con.df(sql, params)

    return _with_retry(_settings, run)


def _with_retry(settings: Settings, read: Callable[[Connection], T]) -> T:
    """Open the published relations, read, close. A publish renames a new replica into place:
    an open that races it fails once at most, so try once more after a short pause."""
    try:
        with connect_published(settings) as con:
            return read(con)
    except (WarehouseError, duckdb.IOException):
        time.sleep(RETRY_DELAY_SECONDS)
    with connect_published(settings) as con:
        return read(con)
