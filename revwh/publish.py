"""Write-audit-publish bookkeeping (DESIGN §3).

Each build writes a version schema (`marts_v…`, `forecast_v…`). Publishing repoints the stable
schema's views (`marts.x`, `forecast.x`) at a version in one transaction, so a reader sees the
old version or the new one, never a mix. The last `keep_versions` published versions stay for
`revwh rollback`; older ones are dropped.

DuckDB lets no other process open the file while a writer has it, so readers in other processes
(BI, the dashboard) would fail or wait through a whole nightly build. On DuckDB every publish
therefore also writes the published relations to a new file and renames it over
`<home>/published.duckdb`: readers open that file read-only, never wait for a writer, and each
open sees exactly one published state. PostgreSQL readers use the warehouse itself (MVCC).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from revwh.bi_access import grant_published
from revwh.settings import Settings
from revwh.warehouse import META_SCHEMA, Connection, connect, connect_published, warehouse_exists

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = {"marts": "marts", "forecast": "forecast"}


class PublishError(RuntimeError):
    """Publishing or rolling back cannot proceed; the message says why and what to do."""


@dataclass(frozen=True)
class Version:
    version: str
    kind: str
    logical_date: str
    status: str
    built_at: datetime
    published_at: datetime | None
    relations: list[str]


def _ensure_meta(con: Connection) -> None:
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(f"""create table if not exists {META_SCHEMA}.versions (
        version varchar primary key, kind varchar not null, logical_date date not null,
        status varchar not null, built_at timestamp not null, published_at timestamp,
        relations varchar)""")


def version_name(kind: str) -> str:
    """A new version's schema name: the kind and the time now (its build time, see
    `register_version`)."""
    return f"{kind}_v{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}"


def register_version(settings: Settings, version: str, logical_date: str) -> None:
    """Register `version` (a `version_name`) as a candidate, built at the time in its name."""
    kind, _, stamp = version.rpartition("_v")
    built_at = datetime.strptime(stamp, "%Y%m%d%H%M%S%f")
    with connect(settings) as con:
        _ensure_meta(con)
        con.execute(f"insert into {META_SCHEMA}.versions values (?, ?, ?, 'candidate', ?, null, null)",
                    [version, kind, logical_date, built_at])


def new_version(settings: Settings, kind: str, logical_date: str) -> str:
    """Register a candidate version and return its schema name."""
    version = version_name(kind)
    register_version(settings, version, logical_date)
    return version


def mark_failed(settings: Settings, version: str) -> None:
    with connect(settings) as con:
        _ensure_meta(con)
        con.execute(f"update {META_SCHEMA}.versions set status = 'failed' where version = ?",
                    [version])


def _versions(con: Connection, kind: str | None = None) -> list[Version]:
    where, params = ("where kind = ?", [kind]) if kind else ("", [])
    rows = con.execute(f"select version, kind, cast(logical_date as varchar), status, built_at, "
                       f"published_at, relations from {META_SCHEMA}.versions {where} "
                       f"order by built_at desc", params)
    return [Version(*r[:6], relations=json.loads(r[6]) if r[6] else []) for r in rows]


def versions(settings: Settings, kind: str | None = None) -> list[Version]:
    if not warehouse_exists(settings):
        return []
    with connect(settings, read_only=True) as con:
        if not con.schema_exists(META_SCHEMA):
            return []
        return _versions(con, kind)


def _point_views(con: Connection, kind: str, version: str, names: list[str]) -> None:
    target = PUBLISHED_SCHEMA[kind]
    con.execute(f'create schema if not exists "{target}"')
    for name in con.relations(target):
        # drop + create (not create-or-replace): a new version may change a view's columns
        con.execute(f'drop view if exists "{target}"."{name}"')
    for name in names:
        con.execute(f'create view "{target}"."{name}" as select * from "{version}"."{name}"')


def publish(settings: Settings, kind: str, version: str, names: list[str]) -> None:
    """Repoint every published view of `kind` at `version`, all in one transaction."""
    if not names:
        raise PublishError(f"{version} has no relations to publish")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with connect(settings) as con:
        _ensure_meta(con)
        missing = set(names) - set(con.relations(version))
        if missing:
            raise PublishError(f"{version} lacks {sorted(missing)}: the build did not finish; "
                               "rerun the build")
        with con.transaction():
            _point_views(con, kind, version, names)
            grant_published(settings, con, PUBLISHED_SCHEMA[kind])  # the views lost their grants
            con.execute(f"update {META_SCHEMA}.versions set status = 'retired' "
                        f"where kind = ? and status = 'published'", [kind])
            con.execute(f"update {META_SCHEMA}.versions set status = 'published', "
                        f"published_at = ?, relations = ? where version = ?",
                        [now, json.dumps(sorted(names)), version])
        _prune(con, kind, settings.keep_versions)
        _refresh_replica(settings, con)


def _refresh_replica(settings: Settings, con: Connection) -> None:
    """Write what is published now into a new replica file, then rename it into place."""
    if con.dialect != "duckdb":
        return
    final = settings.published_path
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con.execute(f"attach '{tmp}' as replica")
    try:
        for kind, schema in PUBLISHED_SCHEMA.items():
            if not con.schema_exists(schema):
                continue
            con.execute(f'create schema replica."{schema}"')
            for name in con.relations(schema):
                con.execute(f'create table replica."{schema}"."{name}" as '
                            f'select * from "{schema}"."{name}"')
        con.execute(f"create schema replica.{META_SCHEMA}")
        con.execute(f"create table replica.{META_SCHEMA}.versions as select * from "
                    f"{META_SCHEMA}.versions where status = 'published'")
    finally:
        con.execute("detach replica")
    os.replace(tmp, final)  # atomic: an open reader keeps the file it opened


def _prune(con: Connection, kind: str, keep: int) -> None:
    """Drop versions beyond the last `keep` published ones, and failed or abandoned candidates
    older than the newest published version."""
    history = _versions(con, kind)
    published = [v for v in history if v.status in ("published", "retired")]
    keep_names = {v.version for v in published[:keep]}
    newest = published[0].built_at if published else None
    for v in history:
        if v.version in keep_names:
            continue
        old_published = v.status in ("published", "retired", "rolled_back")
        stale_candidate = newest is not None and v.built_at < newest
        if old_published or stale_candidate:
            con.execute(f'drop schema if exists "{v.version}" cascade')
            con.execute(f"delete from {META_SCHEMA}.versions where version = ?", [v.version])
    _prune_generations(con)


def _prune_generations(con: Connection) -> None:
    """Drop the rows of versioned_incremental generation tables that no remaining version sees
    (replaced before the oldest version reading the table), and the tables no version reads."""
    from revwh.transform import versioned_state_schema

    state = versioned_state_schema()
    if not (con.schema_exists(state) and "versioned_generations" in con.relations(state)):
        return
    registry = f'"{state}".versioned_generations'
    gone = f"version not in (select version from {META_SCHEMA}.versions)"
    stale = {g for (g,) in con.execute(
        f"select distinct generation from {registry} where {gone}")}
    con.execute(f"delete from {registry} where {gone}")
    oldest = dict(con.execute(f"select generation, min(version) from {registry} "
                              "group by generation"))
    for generation in stale - set(oldest):
        con.execute(f'drop table if exists "{state}"."{generation}"')
    for generation, version in oldest.items():
        con.execute(f'delete from "{state}"."{generation}" where _revwh_to <= ?', [version])


def current(settings: Settings, kind: str = "marts") -> Version | None:
    return next((v for v in versions(settings, kind) if v.status == "published"), None)


def rollback(settings: Settings, kind: str = "marts") -> tuple[str, str]:
    """Point the published views back at the previous published version."""
    with connect(settings) as con:
        _ensure_meta(con)
        history = [v for v in _versions(con, kind) if v.status in ("published", "retired")]
        if len(history) < 2 or history[0].status != "published":
            raise PublishError(f"no earlier {kind} version to roll back to "
                               f"({len(history)} kept); nothing changed")
        now_v, prev = history[0], history[1]
        if not con.schema_exists(prev.version):
            raise PublishError(f"{prev.version} was pruned; nothing changed")
        with con.transaction():
            _point_views(con, kind, prev.version, prev.relations)
            grant_published(settings, con, PUBLISHED_SCHEMA[kind])  # the views lost their grants
            con.execute(f"update {META_SCHEMA}.versions set status = 'rolled_back' "
                        f"where version = ?", [now_v.version])
            con.execute(f"update {META_SCHEMA}.versions set status = 'published', "
                        f"published_at = ? where version = ?",
                        [datetime.now(timezone.utc).replace(tzinfo=None), prev.version])
        _refresh_replica(settings, con)
    return now_v.version, prev.version


def checksums(settings: Settings, kind: str = "marts") -> dict[str, str]:
    """An order-independent content hash of every published relation of `kind`."""
    target = PUBLISHED_SCHEMA[kind]
    with connect_published(settings) as con:
        return {name: con.scalar(
            f"select md5(coalesce(string_agg(h, ',' order by h), '')) from "
            f'(select md5({con.row_text("t")}) as h from "{target}"."{name}" as t) as rows')
            for name in con.relations(target)}


def row_counts(settings: Settings, kind: str = "marts") -> dict[str, int]:
    target = PUBLISHED_SCHEMA[kind]
    with connect_published(settings) as con:
        return {name: con.scalar(f'select count(*) from "{target}"."{name}"')
                for name in con.relations(target)}
