"""Fixtures for the activity readers: a revwh home in a temporary folder, real DuckDB, real dlt."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from revwh.settings import Settings, load_settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BODY_MARKERS = ("BODY-MARKER-mail-3c9f", "BODY-MARKER-cal-7d1e", "SYNTHETIC-BODY-7f3a",
                "API-BODY-MARKER-5e2b")


@dataclass
class Home:
    path: Path
    env: dict

    def settings(self, **changes) -> Settings:
        s = load_settings(env=self.env)
        return replace(s, **changes) if changes else s

    @property
    def mail(self) -> Path:
        return Path(self.env["REVWH_MAIL_DIR"])

    @property
    def calendar(self) -> Path:
        return Path(self.env["REVWH_CALENDAR_DIR"])

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        con = duckdb.connect(str(self.path / "warehouse.duckdb"), read_only=True)
        try:
            rel = con.sql(sql, params=params or [])
            cols = rel.columns
            return [dict(zip(cols, map(_naive_utc, row))) for row in rel.fetchall()]
        finally:
            con.close()

    def tables(self) -> list[str]:
        return [r["table_name"] for r in self.query(
            "select table_name from information_schema.tables where table_schema = 'raw_activity'")]

    def count(self, table: str, where: str = "true") -> int:
        if table not in self.tables():
            return 0
        return self.query(f"select count(*) as n from raw_activity.{table} where {where}")[0]["n"]

    def text_everywhere(self, needle: str) -> list[str]:
        """Every table.column of the warehouse whose text holds ``needle``."""
        hits = []
        con = duckdb.connect(str(self.path / "warehouse.duckdb"), read_only=True)
        try:
            cols = con.sql("select table_schema, table_name, column_name from "
                           "information_schema.columns where data_type = 'VARCHAR'").fetchall()
            for schema, table, col in cols:
                n = con.sql(f'select count(*) from "{schema}"."{table}" where "{col}" like $1',
                            params=[f"%{needle}%"]).fetchall()[0][0]
                if n:
                    hits.append(f"{schema}.{table}.{col}")
        finally:
            con.close()
        return hits


def _naive_utc(value):
    """Raw timestamps land as timestamptz (dlt's default): compare them as naive UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def make_home(tmp_path: Path) -> Home:
    mail = tmp_path / "mail"
    calendar = tmp_path / "calendar"
    shutil.copytree(FIXTURES / "mail", mail, symlinks=True)
    shutil.copytree(FIXTURES / "calendar", calendar)
    env = {"REVWH_HOME": str(tmp_path / "home"), "REVWH_MAIL_DIR": str(mail),
           "REVWH_CALENDAR_DIR": str(calendar), "REVWH_MAX_REJECT_SHARE": "0.5"}
    return Home(tmp_path / "home", env)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)
