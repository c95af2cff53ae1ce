"""Shared fixtures: real warehouses in temporary folders, the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from revwh.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_DROP = FIXTURES / "mini_drop"
REVWH = str(Path(sys.executable).parent / "revwh")

# Airflow imported by tests in this process keeps its files out of the user's ~/airflow (one
# folder per xdist worker: Airflow writes its config there on first import).
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".revwh" / "test-airflow" /
                                          os.environ.get("PYTEST_XDIST_WORKER", "main")))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


# the groups that take longest, started first so that the two workers finish together
LONGEST_FIRST = ("marts", "test_spine.py", "production", "airflow_demo", "test_gate.py",
                 "forecasting")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config, items):
    """`make test` runs two xdist workers (--dist loadgroup). Tests that share a session or
    module fixture must run on the same worker, or each worker would build it: the group is the
    folder under tests/ (each module for the cheap extract tests, each file at the top level),
    and the `airflow_demo` warehouse joins the dashboard tests and the DAG test."""
    tests = ROOT / "tests"
    groups = {}
    for item in items:
        parts = Path(item.fspath).relative_to(tests).parts
        group = "/".join(parts) if len(parts) == 1 or parts[0] == "extract" else parts[0]
        if group in ("dashboard", "test_airflow_dags.py"):
            group = "airflow_demo"
        groups[item.nodeid] = group
        item.add_marker(pytest.mark.xdist_group(group))
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(groups[item.nodeid], len(rank)))


@dataclass
class Home:
    """A revwh home folder with its environment: what a user's shell would have."""

    path: Path
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return load_settings(env=self.env)

    def revwh(self, *args: str, timeout: int = 900, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([REVWH, *args], env={**os.environ, **self.env, **extra_env},
                              capture_output=True, text=True, timeout=timeout, cwd=self.path)


def make_home(path: Path, **env: str) -> Home:
    base = {"REVWH_HOME": str(path), "REVWH_RETRIES": "0", "COLUMNS": "200"}
    base.update(env)
    return Home(path=path, env=base)


@pytest.fixture
def mini_home(tmp_path: Path) -> Home:
    """A home whose CRM source is the small hand-made Salesforce drop."""
    return make_home(tmp_path, REVWH_SALESFORCE_FILE_DROP=str(MINI_DROP))


@dataclass
class AirflowDemo:
    home: Home
    result: subprocess.CompletedProcess  # `revwh demo`'s output


@pytest.fixture(scope="session")
def airflow_demo(tmp_path_factory) -> AirflowDemo:
    """The README's main job, `revwh demo`, at a small scale, once per session: revenue_nightly
    and revenue_forecast through Airflow. Tests that need a whole published warehouse (marts,
    activity, win/loss, forecast) read this one."""
    home = make_home(tmp_path_factory.mktemp("airflow_demo") / "home")
    home.path.mkdir()
    result = home.revwh("demo", "--scale", "0.1", "--seed", "42", timeout=1800)
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    return AirflowDemo(home=home, result=result)


PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its DSN. A missing server fails the
    test: PostgreSQL is a supported target, never skipped."""
    import psycopg2

    try:
        admin = psycopg2.connect(f"{PG_SERVER}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER} ({exc}); start it with "
                    "scripts/ensure-services.sh")
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()
