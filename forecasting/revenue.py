"""Revenue forecast: monthly closed-won bookings, fitted with Prophet, written back as a
forecast version and published like the marts (DESIGN §3, §5)."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd

from revwh.settings import Settings
from revwh.warehouse import connect

log = logging.getLogger(__name__)

SEED = 20240101
INTERVAL = 0.8
MIN_MONTHS_FOR_PROPHET = 12


def monthly_bookings(settings: Settings, as_of: str) -> pd.DataFrame:
    """Closed-won amount per month from the published marts, every month up to the last full
    month before `as_of` (zeros included, so gaps are not mistaken for missing data)."""
    with connect(settings, read_only=True) as con:
        won = con.df(
            "select cast(date_trunc('month', close_date) as date) as ds, sum(amount) as y "
            "from marts.fct_opportunity where is_won "
            "and close_date < date_trunc('month', cast(? as date)) group by 1 order by 1", [as_of])
    if won.empty:
        return pd.DataFrame({"ds": pd.to_datetime([]), "y": []})
    months = pd.date_range(won["ds"].min(), pd.Timestamp(as_of).to_period("M").start_time
                           - pd.offsets.MonthBegin(1), freq="MS")
    won["ds"] = pd.to_datetime(won["ds"])
    return (pd.DataFrame({"ds": months}).merge(won, on="ds", how="left").fillna({"y": 0.0}))


def _prophet(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    from prophet import Prophet

    np.random.seed(SEED)  # interval sampling
    model = Prophet(interval_width=INTERVAL, yearly_seasonality=True, weekly_seasonality=False,
                    daily_seasonality=False, seasonality_mode="additive")
    model.fit(history, seed=SEED)
    future = model.make_future_dataframe(periods=horizon, freq="MS", include_history=False)
    out = model.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    return out.assign(model="prophet")


def _mean_baseline(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Too little history for Prophet: the mean month, with an interval from the spread."""
    start = (history["ds"].max() if len(history) else pd.Timestamp.today().normalize()
             .replace(day=1)) + pd.offsets.MonthBegin(1)
    ds = pd.date_range(start, periods=horizon, freq="MS")
    mean = float(history["y"].mean()) if len(history) else 0.0
    spread = float(history["y"].std(ddof=0)) * 1.2816 if len(history) > 1 else 0.0
    return pd.DataFrame({"ds": ds, "yhat": mean, "yhat_lower": mean - spread,
                         "yhat_upper": mean + spread, "model": "mean_baseline"})


def forecast_company(settings: Settings, as_of: str, run_id: str) -> pd.DataFrame:
    history = monthly_bookings(settings, as_of)
    horizon = settings.forecast_horizon_months
    if len(history) >= MIN_MONTHS_FOR_PROPHET:
        out = _prophet(history, horizon)
    else:
        log.warning("only %d months of bookings: forecasting with the mean baseline", len(history))
        out = _mean_baseline(history, horizon)
    # bookings cannot be negative: clip the forecast and its interval at zero
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        out[col] = out[col].clip(lower=0.0).round(2)
    return pd.DataFrame({
        "run_id": run_id, "as_of_date": date.fromisoformat(as_of), "level": "company",
        "level_value": "all", "period_start": pd.to_datetime(out["ds"]).dt.date,
        "yhat": out["yhat"], "yhat_lower": out["yhat_lower"], "yhat_upper": out["yhat_upper"],
        "interval_width": INTERVAL, "model": out["model"],
    })


def audit_forecast(frame: pd.DataFrame) -> list[str]:
    problems = []
    if frame.empty:
        problems.append("revenue_forecast is empty")
    if not np.isfinite(frame[["yhat", "yhat_lower", "yhat_upper"]].to_numpy()).all():
        problems.append("revenue_forecast has non-finite values")
    if ((frame["yhat_lower"] > frame["yhat"]) | (frame["yhat"] > frame["yhat_upper"])).any():
        problems.append("revenue_forecast has yhat outside its interval")
    return problems


def write_forecast(settings: Settings, schema: str, frame: pd.DataFrame) -> list[str]:
    with connect(settings) as con:
        con.execute(f'create schema if not exists "{schema}"')
        con.write_frame(schema, "revenue_forecast",
                        frame.sort_values(["level", "level_value", "period_start"]))
    return ["revenue_forecast"]
