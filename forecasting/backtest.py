"""Rolling-origin backtests and their accuracy measures.

At each origin a model is fitted on the months before it and forecasts `horizon` months; every
forecast month with an actual becomes one backtest row. Quarterly rows come from the same fits:
at an origin that starts a quarter, quarter 1 is the sum of months 1-3 and quarter 2 of months
4-6 (point forecasts summed; intervals from the summed sample paths).

Measures, per model x level x grain x horizon (`accuracy`):
- MASE: mean |actual - forecast| / scale, where scale is the in-sample MAE of the seasonal
  naive forecast on the training part (lag 12 months or 4 quarters; lag 1 without a full year).
  Below 1: better than the seasonal naive baseline does in sample.
- sMAPE: mean 200 |a - f| / (|a| + |f|), in percent (0 where both are 0).
- coverage: the share of actuals inside the 80% interval.
`horizon = 0` rows pool all horizons.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecasting.models import Forecast, months

ModelFn = Callable[[np.ndarray, int, int], Forecast]  # (train, origin index, horizon)


def mase_scale(train: np.ndarray, season: int) -> float:
    train = np.asarray(train, dtype=float)
    lag = season if len(train) > season else 1
    if len(train) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return scale if scale > 0 else float("nan")


def quarter_sums(y: np.ndarray, start: pd.Timestamp) -> np.ndarray:
    """Complete calendar quarters of a monthly series (a partial first or last quarter dropped)."""
    ds = months(start, len(y))
    first = int(np.argmax((ds.month - 1) % 3 == 0)) if len(ds) else 0
    if len(ds) == 0 or (ds.month[first] - 1) % 3 != 0:
        return np.array([])
    usable = (len(y) - first) // 3 * 3
    return np.asarray(y[first:first + usable], dtype=float).reshape(-1, 3).sum(axis=1)


def backtest_series(y: np.ndarray, start: pd.Timestamp, origins: list[int], horizon: int,
                    models: dict[str, ModelFn], interval: float = 0.8) -> pd.DataFrame:
    """Backtest rows of one series: every model at every origin (an index into `y`: the first
    month forecast). Columns: model, model_used (what a thin training window fell back to),
    grain, origin, horizon, period_start, actual, yhat, lower, upper, scale."""
    y = np.asarray(y, dtype=float)
    ds = months(start, len(y))
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    rows = []
    for origin in origins:
        train = y[:origin]
        m_scale = mase_scale(train, 12)
        q_start = (ds[origin].month - 1) % 3 == 0
        q_scale = mase_scale(quarter_sums(train, start), 4) if q_start else float("nan")
        for name, fn in models.items():
            fc = fn(train, origin, horizon)
            lower, upper = fc.quantiles(interval)
            for h in range(1, horizon + 1):
                t = origin + h - 1
                if t >= len(y):
                    break
                rows.append((name, fc.model, "month", ds[origin], h, ds[t], y[t], fc.mean[h - 1],
                             lower[h - 1], upper[h - 1], m_scale))
            if not q_start:
                continue
            for q in range(horizon // 3):
                a, b = origin + 3 * q, origin + 3 * q + 3
                if b > len(y):
                    break
                paths = fc.samples[3 * q:3 * q + 3].sum(axis=0)
                point = float(fc.mean[3 * q:3 * q + 3].sum())
                rows.append((name, fc.model, "quarter", ds[origin], q + 1, ds[a],
                             float(y[a:b].sum()), point,
                             min(point, float(np.quantile(paths, lo_q))),
                             max(point, float(np.quantile(paths, hi_q))), q_scale))
    return pd.DataFrame(rows, columns=["model", "model_used", "grain", "origin", "horizon",
                                       "period_start", "actual", "yhat", "lower", "upper",
                                       "scale"])


def errors(bt: pd.DataFrame) -> pd.DataFrame:
    """Per-row error terms: scaled absolute error, sMAPE term, inside the interval."""
    err = (bt["actual"] - bt["yhat"]).abs()
    denom = bt["actual"].abs() + bt["yhat"].abs()
    return bt.assign(
        scaled_error=err / bt["scale"],
        smape=np.where(denom > 0, 200.0 * err / denom.where(denom > 0, 1.0), 0.0),
        covered=((bt["actual"] >= bt["lower"] - 1e-6) & (bt["actual"] <= bt["upper"] + 1e-6))
        .astype(float))


def accuracy(bt: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """MASE, sMAPE, coverage and n per group of `by` + horizon, plus horizon 0 (all pooled)."""
    if bt.empty:
        return pd.DataFrame(columns=[*by, "horizon", "mase", "smape", "coverage", "n",
                                     "n_mase"])
    e = errors(bt)

    def agg(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        out = frame.groupby(keys, dropna=False).agg(
            mase=("scaled_error", "mean"), smape=("smape", "mean"),
            coverage=("covered", "mean"), n=("actual", "size"),
            n_mase=("scaled_error", "count")).reset_index()
        return out

    per_h = agg(e, [*by, "horizon"])
    pooled = agg(e, by).assign(horizon=0)
    out = pd.concat([per_h, pooled[per_h.columns]], ignore_index=True)
    return out.sort_values([*by, "horizon"], kind="stable").reset_index(drop=True)


def rolling_origins(n: int, last: int, step: int, min_train: int, count: int) -> list[int]:
    """Up to `count` origins, every `step` months, ending at index `last` (inclusive), each with
    at least `min_train` months before it."""
    found = [o for o in range(last, min_train - 1, -step)][:count]
    return sorted(o for o in found if 0 < o < n)
