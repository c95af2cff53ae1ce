"""The forecast job: read the published marts, build every forecast table (DESIGN §5), audit
them, write them into a candidate forecast version (write-audit-publish, `revwh.pipeline`).

Tables (each row carries `run_id`, the forecast version, and `as_of_date`):
- `revenue_forecast`: level (company, segment, region, owner) x level_value x grain (month,
  quarter) x period_start: yhat, yhat_lower, yhat_upper (80%), model, reconciliation, ...
- `forecast_backtest`: level, level_value, model, grain, origin, horizon, period_start,
  actual, yhat, lower, upper, scale (the MASE denominator).
- `forecast_accuracy`: model x level x grain x horizon (0 = all horizons): mase, smape,
  coverage, n.
- `pipeline_forecast`: quarter x win-probability method: expected, variance, p10, p90, n_open.
- `opportunity_win_probability`: open opportunity: p_stage, p_verifier, p_markov, p_win (the
  best-scored method), expected_days_to_close, expected_close_date.
- `win_probability_score`: method: Brier score (and skill, log loss, calibration) on closed
  deals after a time split.
- `forecast_snapshot`: every published revenue forecast: the previous published snapshot's
  rows (other as-of dates) plus this run's, so forecast accuracy over time is one join with
  the bookings. A rerun for the same as-of date replaces that date's rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data import load
from forecasting.pipeline_forecast import pipeline_forecast
from forecasting.reconcile import coherence_gaps
from forecasting.revenue import forecast_revenue
from forecasting.winprob import win_probabilities
from revwh.settings import Settings
from revwh.warehouse import connect

log = logging.getLogger(__name__)

PUBLISHED = "forecast"
COHERENCE_TOLERANCE = 0.005
RELATIONS = ("revenue_forecast", "forecast_backtest", "forecast_accuracy", "pipeline_forecast",
             "opportunity_win_probability", "win_probability_score", "forecast_snapshot")
SNAPSHOT_KEY = ("level", "level_value", "grain", "period_start")


@dataclass
class ForecastTables:
    tables: dict[str, pd.DataFrame]
    stats: dict = field(default_factory=dict)


def build_tables(settings: Settings, ds: str, run_id: str, workers: int | None = None
                 ) -> ForecastTables:
    started = time.perf_counter()
    data = load(settings, ds)
    read_s = time.perf_counter() - started
    revenue = forecast_revenue(data, run_id, settings.forecast_horizon_months, workers=workers)
    t = time.perf_counter()
    win = win_probabilities(data, run_id)
    win_s = time.perf_counter() - t
    pipe = pipeline_forecast(data, win.opportunities, win.scores, run_id)
    snapshot = merge_snapshot(previous_snapshot(settings), revenue.revenue_forecast,
                              data.as_of.date())
    tables = {
        "revenue_forecast": revenue.revenue_forecast,
        "forecast_backtest": revenue.forecast_backtest,
        "forecast_accuracy": revenue.forecast_accuracy,
        "pipeline_forecast": pipe,
        "opportunity_win_probability": win.opportunities,
        "win_probability_score": win.scores,
        "forecast_snapshot": snapshot,
    }
    stats = {**revenue.stats, "read_seconds": round(read_s, 2),
             "win_probability_seconds": round(win_s, 2),
             "build_seconds": round(time.perf_counter() - started, 2)}
    return ForecastTables(tables, stats)


def previous_snapshot(settings: Settings) -> pd.DataFrame | None:
    """The published forecast_snapshot (what every earlier published run forecast), if any."""
    with connect(settings, read_only=True) as con:
        if "forecast_snapshot" not in con.relations(PUBLISHED):
            return None
        return con.df(f'select * from "{PUBLISHED}".forecast_snapshot')


def merge_snapshot(previous: pd.DataFrame | None, forecast: pd.DataFrame, as_of) -> pd.DataFrame:
    """This run's forecast rows plus the previous snapshot's rows of other as-of dates (a rerun
    for the same date replaces its rows, never duplicates them)."""
    current = forecast.copy()
    if previous is None or previous.empty:
        return _snapshot_order(current)
    prev = previous.copy()
    prev["as_of_date"] = pd.to_datetime(prev["as_of_date"]).dt.date
    prev = prev[prev["as_of_date"] != as_of]
    for col in current.columns:
        if col not in prev:
            prev[col] = np.nan
    prev = prev[current.columns]
    for col in ("period_start", "as_of_date"):
        prev[col] = pd.to_datetime(prev[col]).dt.date
    for col in current.columns:
        if current[col].dtype.kind == "f":
            prev[col] = pd.to_numeric(prev[col], errors="coerce").astype(float)
    if prev.empty:
        return _snapshot_order(current)
    return _snapshot_order(pd.concat([prev, current], ignore_index=True))


def _snapshot_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["as_of_date", "run_id", *SNAPSHOT_KEY], kind="stable") \
        .reset_index(drop=True)


def audit_tables(tables: dict[str, pd.DataFrame]) -> list[str]:
    """What must hold before a forecast is published; each problem as one line."""
    problems = []
    for name in RELATIONS:
        if name not in tables:
            problems.append(f"{name} is missing")
    if problems:
        return problems
    rf = tables["revenue_forecast"]
    values = rf[["yhat", "yhat_lower", "yhat_upper"]].to_numpy(dtype=float)
    if rf.empty or not (rf["level"] == "company").any():
        problems.append("revenue_forecast has no company rows")
    if not np.isfinite(values).all():
        problems.append("revenue_forecast has non-finite values")
    elif ((rf["yhat_lower"] > rf["yhat"] + 1e-6) | (rf["yhat"] > rf["yhat_upper"] + 1e-6)).any():
        problems.append("revenue_forecast has yhat outside its interval")
    elif (values < 0).any():
        problems.append("revenue_forecast has negative bookings")
    if len(rf):
        gaps = coherence_gaps(rf)
        bad = gaps[gaps["gap"] > COHERENCE_TOLERANCE]
        if len(bad):
            worst = bad.sort_values("gap").iloc[-1]
            problems.append(f"revenue_forecast levels do not add up: {worst['level']} "
                            f"{worst['grain']} {worst['period_start']} is off the company total "
                            f"by {worst['gap']:.2%} (> {COHERENCE_TOLERANCE:.1%})")
    acc = tables["forecast_accuracy"]
    if len(acc) and not acc["coverage"].between(0, 1).all():
        problems.append("forecast_accuracy has a coverage outside [0, 1]")
    wp = tables["opportunity_win_probability"]
    probs = wp[["p_stage", "p_verifier", "p_markov", "p_win"]].to_numpy(dtype=float)
    if not np.isfinite(probs).all():
        problems.append("opportunity_win_probability has missing or non-finite probabilities")
    elif ((probs < 0) | (probs > 1)).any():
        problems.append("opportunity_win_probability has probabilities outside [0, 1]")
    if wp["opportunity_id"].duplicated().any():
        problems.append("opportunity_win_probability has an opportunity twice")
    sc = tables["win_probability_score"]
    if len(sc) and not sc["brier"].between(0, 1).all():
        problems.append("win_probability_score has a Brier score outside [0, 1]")
    pf = tables["pipeline_forecast"]
    pv = pf[["expected", "variance", "p10", "p90"]].to_numpy(dtype=float)
    if not np.isfinite(pv).all() or (pv < 0).any():
        problems.append("pipeline_forecast has negative or non-finite values")
    elif (pf["p10"] > pf["p90"]).any():
        problems.append("pipeline_forecast has p10 above p90")
    snap = tables["forecast_snapshot"]
    if snap.duplicated(["as_of_date", *SNAPSHOT_KEY]).any():
        problems.append("forecast_snapshot has a forecast row twice for one as-of date")
    return problems


def write_tables(settings: Settings, schema: str, tables: dict[str, pd.DataFrame]) -> list[str]:
    with connect(settings) as con:
        con.execute(f'create schema if not exists "{schema}"')
        for name in RELATIONS:
            con.write_frame(schema, name, tables[name])
    return list(RELATIONS)
