"""Baseline models every series is backtested against (and which publish where they win).

- `seasonal_naive`: the same month a year earlier; with under 12 months of history it falls
  back to the last month (`naive`). Intervals: normal, sigma from the in-sample seasonal
  differences, widening with every further season ahead.
- `ets`: exponential smoothing (statsmodels ETSModel: additive errors, damped additive trend,
  additive yearly seasonality from 24 months of history), intervals by simulation.
- `mean` (thin series, under 6 months) and `zero` (nothing booked ever: a rep who never closed,
  or the series of a rep who left).

`BASELINES` maps name -> fn(history frame (ds, y), horizon) -> frame, the benchmark's interface.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.models import N_SAMPLES, SEED, Forecast, months, one_blas_thread

SEASON = 12
Z80 = 1.2815515655446004


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def zero_forecast(y: np.ndarray, horizon: int) -> Forecast:
    return Forecast("zero", np.zeros(horizon), np.zeros((horizon, N_SAMPLES)),
                    np.zeros(len(y)))


def mean_forecast(y: np.ndarray, horizon: int, seed: int = SEED) -> Forecast:
    """The mean of the last (up to) 12 months, with a normal interval from their spread."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or not np.any(y):
        return zero_forecast(y, horizon)
    recent = y[-SEASON:]
    mu = float(recent.mean())
    sd = float(recent.std(ddof=1)) * np.sqrt(1 + 1 / len(recent)) if len(recent) > 1 else mu
    draws = mu + sd * _rng(seed).standard_normal((horizon, N_SAMPLES))
    return Forecast("mean", np.full(horizon, mu), draws, np.full(len(y), mu)).clipped()


def seasonal_naive_forecast(y: np.ndarray, horizon: int, seed: int = SEED) -> Forecast:
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0 or not np.any(y):
        return zero_forecast(y, horizon)
    m, name = (SEASON, "seasonal_naive") if n >= SEASON else (1, "naive")
    if n <= m:  # a single observation: naive with the value as its own spread
        return mean_forecast(y, horizon, seed)
    h = np.arange(1, horizon + 1)
    k = (h - 1) // m + 1  # seasons ahead
    mean = y[n - m + (h - 1) % m]
    resid = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(resid ** 2)))
    draws = mean[:, None] + sigma * np.sqrt(k)[:, None] * _rng(seed).standard_normal(
        (horizon, N_SAMPLES))
    fitted = np.concatenate([np.full(m, np.nan), y[:-m]])
    return Forecast(name, mean, draws, fitted).clipped()


def ets_forecast(y: np.ndarray, horizon: int, seed: int = SEED) -> Forecast:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4 or not np.any(y):
        return mean_forecast(y, horizon, seed)
    seasonal = "add" if n >= 2 * SEASON else None
    scale = float(np.abs(y).max()) or 1.0  # fit on a unit scale: better conditioned
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = ETSModel(y / scale, error="add", trend="add", damped_trend=True,
                           seasonal=seasonal, seasonal_periods=SEASON if seasonal else None,
                           initialization_method="heuristic" if seasonal else "estimated"
                           ).fit(disp=False, maxiter=200)
        except Exception:  # noqa: BLE001 - a fit that fails falls back to the simpler model
            res = ETSModel(y / scale, error="add", trend=None).fit(disp=False)
        mean = np.asarray(res.forecast(horizon)) * scale
        sims = np.asarray(res.simulate(horizon, repetitions=N_SAMPLES, anchor="end",
                                       rng=_rng(seed))).reshape(horizon, N_SAMPLES) * scale
    # centre the simulations on the point forecast (they are draws around it)
    sims = sims - sims.mean(axis=1, keepdims=True) + mean[:, None]
    if not (np.isfinite(mean).all() and np.isfinite(sims).all()):
        return mean_forecast(y, horizon, seed)
    return Forecast("ets", mean, sims, np.asarray(res.fittedvalues) * scale).clipped()


def _frame_fn(fn):
    def run(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        history = history.sort_values("ds")
        with one_blas_thread():
            fc = fn(history["y"].to_numpy(dtype=float), horizon)
        lower, upper = fc.quantiles()
        start = pd.Timestamp(history["ds"].iloc[-1]) + pd.offsets.MonthBegin(1)
        return pd.DataFrame({"ds": months(start, horizon), "yhat": fc.mean, "yhat_lower": lower,
                             "yhat_upper": upper, "model": fc.model})
    run.__name__ = fn.__name__
    return run


BASELINES = {"seasonal_naive": _frame_fn(seasonal_naive_forecast),
             "ets": _frame_fn(ets_forecast)}
