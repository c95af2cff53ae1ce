"""The forecast job on the demo data: generated once per session at scale 1, landed with the
real extractor, marts built and published with the real pipeline steps, then the real forecast
step run twice for the same date (the second run checks reproducibility and that a rerun
replaces, not duplicates, its snapshot rows).

The quality gate is left out here (it is the marts' tests' subject and takes over a minute on
this machine); `publish_marts` publishes the built version directly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from revwh import pipeline
from revwh.demo import DEMO_AS_OF, generate
from revwh.settings import Settings, load_settings
from revwh.warehouse import connect

DS = str(DEMO_AS_OF)
SCALE, SEED = 1.0, 42


@dataclass
class DemoForecast:
    settings: Settings
    first: dict  # pipeline.forecast summary of the first run
    second: dict  # ... of the rerun
    seconds: float  # the first forecast step, wall time

    def table(self, name: str, schema: str = "forecast") -> pd.DataFrame:
        with connect(self.settings, read_only=True) as con:
            return con.df(f'select * from "{schema}"."{name}"')

    def marts(self, sql: str) -> pd.DataFrame:
        with connect(self.settings, read_only=True) as con:
            return con.df(sql)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoForecast:
    root: Path = tmp_path_factory.mktemp("forecast_demo")
    generate(root / "demo", scale=SCALE, seed=SEED)
    settings = load_settings(env={
        "REVWH_HOME": str(root / "home"),
        "REVWH_SALESFORCE_FILE_DROP": str(root / "demo" / "crm" / "salesforce"),
        "REVWH_MAIL_DIR": str(root / "no-mail"), "REVWH_CALENDAR_DIR": str(root / "no-calendar"),
        "REVWH_RETRIES": "0"})
    pipeline.extract_crm(settings, DS)
    built = pipeline.build(settings, DS)
    pipeline.publish_marts(settings, built["version"], built["relations"])
    started = time.perf_counter()
    first = pipeline.forecast(settings, DS)
    seconds = time.perf_counter() - started
    pipeline.publish_forecast(settings, first["version"], first["relations"])
    second = pipeline.forecast(settings, DS)
    pipeline.publish_forecast(settings, second["version"], second["relations"])
    return DemoForecast(settings, first, second, seconds)
