"""Revenue (closed-won bookings) forecasts per level, backtested, reconciled (DESIGN §5).

Series: bookings by close month for the company, each segment, region and owner (and the
owner x segment x region cells below them, see `forecasting.reconcile`), from the first month
the series booked anything to the last full month before the as-of date. Zero months are
kept as zeros.

Models per series (`forecasting.models`, `forecasting.baselines`): Prophet (primary, with a
quarter-end effect), Prophet with the open verifier-weighted pipeline as an extra regressor
(company, segment and region series, for the month ahead, whose pipeline is known at the
origin), seasonal naive and ETS. Every series is backtested at rolling origins: the company at
each of the last 12 months, the other levels at the last quarter starts (4 for segments and
regions, 3 for the 40-odd owners, to keep within the time budget), horizons 1 to
`forecast_horizon_months`; quarterly rows come from the same fits. The published model of a
series is the one with the lowest pooled monthly backtest MASE: Prophet unless a baseline or
the pipeline variant beats it, and Prophet when the history is too short to backtest (under 12
months before every origin; `selected_by` = default). The `model` column says what was used,
month by month ("prophet_pipeline" for the month ahead then "prophet"; "naive" / "mean" where a
model fell back on a short history; "zero" for a series that never booked; "zero_inactive" for
a rep who left: no opportunity created in the last 6 months and none open).

Monthly forecasts cover `forecast_horizon_months` months from the first month after the last
full one; quarterly rows cover every quarter those months touch (their remaining months are
forecast too), the current quarter including what it already booked (`actual_to_date`).
Quarterly intervals come from summed monthly sample paths, not summed monthly intervals.

Levels are reconciled with MinT (shrinkage); see `forecasting.reconcile` for why. Each series'
80% interval moves with its reconciliation adjustment. The backtest scores the reconciled
forecasts too (models `mint` and `bottom_up`, at the owners' origins).

Speed: series are fitted in a process pool (2 workers, REVWH_FORECAST_WORKERS), BLAS limited to
one thread per worker; only the selected model is refitted on the full history.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from forecasting import backtest as bt
from forecasting.baselines import (
    ets_forecast,
    mean_forecast,
    seasonal_naive_forecast,
    zero_forecast,
)
from forecasting.data import MartData
from forecasting.models import (  # noqa: F401
    INTERVAL,
    MIN_MONTHS_PROPHET,
    Forecast,
    fit_prophet,
    months,
    prophet_forecast,
    restore_blas,
    seed_for,
    single_thread_blas,
)
from forecasting.reconcile import Hierarchy, _cell_row, build_hierarchy, reconcile
from revwh.settings import Settings
from revwh.warehouse import connect

log = logging.getLogger(__name__)

# rolling origins per level: the company at each of the last 12 months; the other levels at
# the last quarter starts (quarterly backtests need them; owners, 40 series, get 3 to keep the
# job within its time budget). Reconciliation is scored at the owners' origins.
ORIGINS = {"company": 12, "segment": 4, "region": 4, "owner": 3, "owner_cell": 3}
MONTHLY_ORIGIN_LEVELS = ("company",)
PIPELINE_LEVELS = ("company", "segment", "region")
PIPELINE_MAX_HORIZON = 1  # the month ahead: the open pipeline as it stands now
MIN_TRAIN = 12  # months before an origin for a backtest row
MIN_BACKTEST_ROWS = 3  # fewer: not enough evidence to overrule the primary model
INACTIVE_MONTHS = 6
RESIDUAL_WINDOW = 24
BASELINE_MODELS = ("seasonal_naive", "ets")


# ---- series --------------------------------------------------------------------------------

def forecast_start(as_of: str | date | pd.Timestamp) -> pd.Timestamp:
    """The first month not yet fully booked: the as-of day counts (marts are built through the
    end of it), so 2026-11-01 -> November and 2026-11-30 -> December."""
    return (pd.Timestamp(as_of) + pd.Timedelta(days=1)).to_period("M").to_timestamp()


def monthly_bookings(settings: Settings, as_of: str) -> pd.DataFrame:
    """Company closed-won amount per month (ds, y), every month up to the last full one, zeros
    included (the benchmark's input series)."""
    start = forecast_start(as_of)
    with connect(settings, read_only=True) as con:
        won = con.df("select close_date, amount from marts.fct_opportunity where is_won "
                     "and close_date < cast(? as date)", [start.date().isoformat()])
    if won.empty:
        return pd.DataFrame({"ds": pd.to_datetime([]), "y": []})
    ds = pd.to_datetime(won["close_date"]).dt.to_period("M").dt.to_timestamp()
    y = won.assign(ds=ds).groupby("ds")["amount"].sum()
    idx = pd.date_range(y.index.min(), start - pd.offsets.MonthBegin(1), freq="MS")
    return pd.DataFrame({"ds": idx, "y": y.reindex(idx, fill_value=0.0).astype(float).values})


@dataclass
class SeriesSet:
    months: pd.DatetimeIndex  # history months (absolute index 0..T-1)
    hierarchy: Hierarchy
    Y: np.ndarray  # nodes x T
    starts: np.ndarray  # per node: index of its first booked month (T if none)
    inactive_cells: np.ndarray  # per cell
    pipeline: np.ndarray  # nodes x (T + pad) x PIPELINE_MAX_HORIZON: x_t(h)


def build_series(data: MartData) -> SeriesSet:
    opps = data.opportunities
    start = forecast_start(data.as_of)
    cells = sorted(set(zip(opps["owner_id"], opps["segment"], opps["region"])))
    if not cells:
        cells = [("unassigned", "Unknown", "Unknown")]
    hier = build_hierarchy(cells)
    cell_index = {c: j for j, c in enumerate(hier.cells)}
    won = opps[opps["is_won"] & opps["close_date"].notna() & (opps["close_date"] < start)]
    month = won["close_date"].dt.to_period("M").dt.to_timestamp()
    first = month.min() if len(won) else start - pd.offsets.MonthBegin(1)
    idx = pd.date_range(first, start - pd.offsets.MonthBegin(1), freq="MS")
    T = len(idx)
    cell_y = np.zeros((len(cells), T))
    pos = idx.get_indexer(month)
    cj = [cell_index[c] for c in zip(won["owner_id"], won["segment"], won["region"])]
    np.add.at(cell_y, (np.asarray(cj, dtype=int), pos), won["amount"].to_numpy(dtype=float))
    Y = hier.S @ cell_y
    nonzero = Y != 0
    starts = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), T)
    # a rep who left: nothing created in the last INACTIVE_MONTHS months and nothing open
    recent = opps["created_at"] >= data.as_of - pd.DateOffset(months=INACTIVE_MONTHS)
    active_owners = set(opps.loc[recent | ~opps["is_closed"], "owner_id"])
    inactive = np.array([c[0] not in active_owners for c in hier.cells])
    return SeriesSet(idx, hier, Y, starts, inactive, _pipeline_matrix(data, hier, idx, start))


def _pipeline_matrix(data: MartData, hier: Hierarchy, idx: pd.DatetimeIndex,
                     start: pd.Timestamp) -> np.ndarray:
    """x[node, t, h-1]: the verifier-weighted open pipeline closing in month t as it stood at
    the end of month t-h (what a forecast made h months ahead could know). Close dates already
    past at the snapshot count for the next month (the deal is still open)."""
    pad = 24
    T = len(idx)
    out = np.zeros((len(hier.cells), T + pad, PIPELINE_MAX_HORIZON))
    p = data.weighted_pipeline
    if len(p) and T:
        origin = (p["snapshot_date"] + pd.Timedelta(days=1)).dt.to_period("M")
        close = p["close_date"].fillna(p["snapshot_date"]).dt.to_period("M")
        h = np.maximum((close - origin).map(lambda d: d.n).to_numpy(dtype=int) + 1, 1)
        t0 = idx[0].to_period("M")
        t = (origin - t0).map(lambda d: d.n).to_numpy(dtype=int) + h - 1
        cell_index = {c: j for j, c in enumerate(hier.cells)}
        cj = np.array([cell_index.get(c, -1) for c in
                       zip(p["owner_id"], p["segment"], p["region"])], dtype=int)
        keep = (h <= PIPELINE_MAX_HORIZON) & (t >= 0) & (t < T + pad) & (cj >= 0)
        np.add.at(out, (cj[keep], t[keep], h[keep] - 1), p["weighted"].to_numpy()[keep])
    return np.einsum("nc,cth->nth", hier.S, out)


# ---- one node: backtests, then the final fit (in worker processes) ---------------------------

@dataclass
class NodeTask:
    key: tuple[str, str]
    y: np.ndarray  # the node's own history (from its first booked month)
    start: pd.Timestamp
    origins: list[int]  # local indices, backtest rows
    keep_origins: list[int]  # local indices whose forecasts are kept for reconciliation
    horizon: int  # backtest horizon
    pipeline: np.ndarray | None  # local (len(y) + pad) x PIPELINE_MAX_HORIZON


@dataclass
class Kept:
    """A forecast kept after the worker: point, 80% interval, group (quarter) sums with their
    interval, in-sample fitted values, and the model behind each month."""
    model: str
    months_model: list[str]
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    group_mean: np.ndarray
    group_lower: np.ndarray
    group_upper: np.ndarray
    fitted: np.ndarray


@dataclass
class NodeResult:
    key: tuple[str, str]
    backtest: pd.DataFrame
    kept: dict[tuple[str, int], Kept]  # (model, local origin)
    prophet_fits: int
    prophet_seconds: float


def _keep(fc: Forecast, groups: list[list[int]]) -> Kept:
    lower, upper = fc.quantiles(INTERVAL)
    lo_q, hi_q = (1 - INTERVAL) / 2, 1 - (1 - INTERVAL) / 2
    gm, gl, gu = [], [], []
    for g in groups:
        g = [i for i in g if i < len(fc.mean)]
        paths = fc.samples[g].sum(axis=0)
        point = float(fc.mean[g].sum())
        gm.append(point)
        gl.append(min(point, float(np.quantile(paths, lo_q))))
        gu.append(max(point, float(np.quantile(paths, hi_q))))
    labels = list(fc.months_model or [fc.model] * len(fc.mean))
    return Kept(fc.model, labels, fc.mean, lower, upper, np.array(gm), np.array(gl),
                np.array(gu), np.asarray(fc.fitted, dtype=float))


def _thin(train: np.ndarray, horizon: int, seed: int) -> Forecast | None:
    if len(train) == 0 or not np.any(train):
        return zero_forecast(train, horizon)
    if len(train) < MIN_MONTHS_PROPHET:
        return mean_forecast(train, horizon, seed)
    return None


class NodeModels:
    """The candidate models of one node, as fn(train, origin, horizon) -> Forecast, seeded by
    node and origin (so a fit's result never depends on the order or process it runs in)."""

    def __init__(self, key: tuple[str, str], start: pd.Timestamp, pipeline: np.ndarray | None):
        self.level, self.value = key
        self.start = start
        self.pipeline = pipeline
        self.fits, self.seconds = 0, 0.0
        self._plain: dict[tuple[int, int], Forecast] = {}

    def names(self) -> list[str]:
        extra = ["prophet_pipeline"] if self.pipeline is not None else []
        return ["prophet", *extra, *BASELINE_MODELS]

    def run(self, name: str, train: np.ndarray, origin: int, horizon: int) -> Forecast:
        return getattr(self, name)(np.asarray(train, dtype=float), origin, horizon)

    def _seed(self, origin: int, tag: str) -> int:
        return seed_for(self.level, self.value, origin, tag)

    def _prophet(self, train, origin, horizon, xreg=None, model="prophet") -> Forecast:
        started = time.perf_counter()
        fc = prophet_forecast(train, self.start, horizon, seed=self._seed(origin, model),
                              xreg=xreg, model=model)
        self.fits += 1
        self.seconds += time.perf_counter() - started
        return fc

    def prophet(self, train, origin, horizon) -> Forecast:
        thin = _thin(train, horizon, self._seed(origin, "thin"))
        if thin is not None:
            return thin
        key = (origin, horizon)
        if key not in self._plain:
            self._plain[key] = self._prophet(train, origin, horizon)
        return self._plain[key]

    def prophet_pipeline(self, train, origin, horizon) -> Forecast:
        """Prophet with the open verifier-weighted pipeline closing in the month as a regressor,
        for the month ahead (the pipeline then is known: the snapshot at the origin); later
        months are the plain Prophet forecast (the pipeline that far out is too thin yet)."""
        plain = self.prophet(train, origin, horizon)
        x = self.pipeline
        hist = x[:origin, 0] if x is not None else np.array([])
        if plain.model != "prophet" or not np.any(hist[-12:]) or not np.all(np.isfinite(hist)):
            return plain
        h = min(horizon, PIPELINE_MAX_HORIZON)
        # month origin+k-1 as known k months before it (k = 1..h)
        ahead = np.array([x[origin + k, k] for k in range(h)])
        fc = self._prophet(train, origin, h, xreg=np.concatenate([hist, ahead]),
                           model="prophet_pipeline")
        return Forecast("prophet_pipeline", np.concatenate([fc.mean, plain.mean[h:]]),
                        np.concatenate([fc.samples, plain.samples[h:]]), fc.fitted,
                        ["prophet_pipeline"] * h + ["prophet"] * (horizon - h))

    def seasonal_naive(self, train, origin, horizon) -> Forecast:
        return seasonal_naive_forecast(train, horizon, self._seed(origin, "seasonal_naive"))

    def ets(self, train, origin, horizon) -> Forecast:
        return ets_forecast(train, horizon, self._seed(origin, "ets"))


def _quarters_of(horizon: int) -> list[list[int]]:
    return [list(range(3 * k, 3 * k + 3)) for k in range(horizon // 3)]


def backtest_node(task: NodeTask) -> NodeResult:
    """Every candidate model of one node at each of its origins (backtest rows), and at the
    reconciliation origins (forecasts kept, also where the node was too young for a row)."""
    models = NodeModels(task.key, task.start, task.pipeline)
    kept: dict[tuple[str, int], Kept] = {}
    quarters = _quarters_of(task.horizon)

    def fn_for(name):
        def run(train, origin, horizon):
            fc = models.run(name, train, origin, horizon)
            if origin in task.keep_origins:
                kept[(name, origin)] = _keep(fc, quarters)
            return fc
        return run

    rows = bt.backtest_series(task.y, task.start, task.origins, task.horizon,
                              {name: fn_for(name) for name in models.names()})
    for origin in task.keep_origins:
        if origin in task.origins:
            continue
        for name in models.names():
            train = task.y[:max(origin, 0)]
            fc = models.run(name, train, origin, task.horizon) if origin > 0 else \
                zero_forecast(train, task.horizon)
            kept[(name, origin)] = _keep(fc, quarters)
    return NodeResult(task.key, rows, kept, models.fits, models.seconds)


@dataclass
class FinalTask:
    key: tuple[str, str]
    model: str
    y: np.ndarray
    start: pd.Timestamp
    horizon: int
    groups: list[list[int]]
    pipeline: np.ndarray | None


def final_fit(task: FinalTask) -> tuple[Kept, int, float]:
    """The selected model fitted on the node's whole history."""
    models = NodeModels(task.key, task.start, task.pipeline)
    if task.model == "zero_inactive":
        fc = zero_forecast(task.y, task.horizon)
        fc.model = "zero_inactive"
    else:
        fc = models.run(task.model, task.y, len(task.y), task.horizon)
    return _keep(fc, task.groups), models.fits, models.seconds


# ---- the whole job ---------------------------------------------------------------------------

@dataclass
class RevenueResult:
    revenue_forecast: pd.DataFrame
    forecast_backtest: pd.DataFrame
    forecast_accuracy: pd.DataFrame
    selection: pd.DataFrame
    stats: dict


def _origins(level: str, T: int, months_idx: pd.DatetimeIndex) -> list[int]:
    count = ORIGINS.get(level, 3)
    if level in MONTHLY_ORIGIN_LEVELS:
        return list(range(max(T - count, 1), T))
    cands = [t for t in range(1, T) if (months_idx[t].month - 1) % 3 == 0]
    return cands[-count:]


def _quarter_groups(start: pd.Timestamp, horizon: int) -> tuple[int, list[list[int]],
                                                               list[pd.Timestamp]]:
    """Months to forecast (to the end of the last quarter the horizon touches), the month
    indices of each quarter, and each quarter's first month."""
    end = (start + pd.DateOffset(months=horizon - 1)).to_period("Q").end_time.normalize()
    total = len(pd.date_range(start, end, freq="MS"))
    ds = months(start, total)
    groups: dict[pd.Timestamp, list[int]] = {}
    for i, d in enumerate(ds):
        groups.setdefault(d.to_period("Q").start_time, []).append(i)
    return total, list(groups.values()), list(groups)


def forecast_revenue(data: MartData, run_id: str, horizon: int, workers: int | None = None
                     ) -> RevenueResult:
    started = time.perf_counter()
    series = build_series(data)
    hier, T = series.hierarchy, len(series.months)
    f_start = forecast_start(data.as_of)
    final_h, groups, q_starts = _quarter_groups(f_start, horizon)
    bt_h = max(horizon, 1)
    # every node runs at the owner origins (quarter starts) so that reconciliation is scored
    recon_origins = _origins("owner", T, series.months) if T else []
    tasks = []
    for i, (level, value) in enumerate(hier.nodes):
        s = int(series.starts[i])
        y = series.Y[i, s:] if s < T else np.array([])
        local = [o - s for o in _origins(level, T, series.months) if o - s >= MIN_TRAIN]
        keep = [o - s for o in recon_origins]
        pipe = series.pipeline[i, s:] if level in PIPELINE_LEVELS and s < T else None
        tasks.append(NodeTask((level, value), y, series.months[s] if s < T else f_start,
                              local, keep, bt_h, pipe))
    with _Pool(workers) as pool:
        order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i].origins)
                       * (2 if tasks[i].pipeline is not None else 1))
        results = pool.map(backtest_node, tasks, order)
        by_key = {r.key: r for r in results}
        backtest = _concat_backtests(results)
        selection = _select(hier, series, backtest)
        finals = pool.map(final_fit, [
            FinalTask(t.key, "zero_inactive" if sel["inactive"] else sel["selected"], t.y,
                      t.start, final_h, groups, t.pipeline)
            for t, (_, sel) in zip(tasks, selection.iterrows())])
    fit_s = time.perf_counter() - started
    final = {t.key: k for t, (k, _, _) in zip(tasks, finals)}
    recon_bt = _reconciled_backtest(series, by_key, selection, recon_origins, bt_h)
    backtest = pd.concat([backtest, recon_bt], ignore_index=True) if len(recon_bt) else backtest
    accuracy = bt.accuracy(backtest[backtest["level"] != "owner_cell"],
                           ["model", "level", "grain"])
    forecast = _final_forecast(series, final, selection, f_start, final_h, groups, q_starts,
                               horizon)
    as_of = data.as_of.date()
    forecast.insert(0, "as_of_date", as_of)
    forecast.insert(0, "run_id", run_id)
    backtest = backtest.assign(run_id=run_id, as_of_date=as_of)
    accuracy = accuracy.assign(run_id=run_id, as_of_date=as_of)
    n_fits = sum(r.prophet_fits for r in results) + sum(f[1] for f in finals)
    fit_seconds = sum(r.prophet_seconds for r in results) + sum(f[2] for f in finals)
    stats = {"series": len([n for n in hier.nodes if n[0] != "owner_cell"]),
             "prophet_fits": n_fits,
             "seconds_per_prophet_fit": round(fit_seconds / max(n_fits, 1), 4),
             "fit_seconds": round(fit_s, 2),
             "seconds": round(time.perf_counter() - started, 2)}
    return RevenueResult(forecast, _backtest_table(backtest), _accuracy_table(accuracy),
                         selection, stats)


def _concat_backtests(results: list[NodeResult]) -> pd.DataFrame:
    frames = [r.backtest.assign(level=r.key[0], level_value=r.key[1])
              for r in results if len(r.backtest)]
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=["model", "model_used", "grain", "origin", "horizon",
                                 "period_start", "actual", "yhat", "lower", "upper", "scale",
                                 "level", "level_value"])


class _Pool:
    """A process pool of `workers` (default 2, REVWH_FORECAST_WORKERS), or in-process work."""

    def __init__(self, workers: int | None):
        self.workers = workers if workers is not None else int(
            os.environ.get("REVWH_FORECAST_WORKERS", "2"))
        self.pool = None

    def __enter__(self) -> _Pool:  # noqa: PYI034
        import prophet  # noqa: F401  (loaded once, before forking, outside the timed fits)

        self.blas = single_thread_blas() if self.workers <= 1 else []
        if self.workers > 1:
            # fork: workers inherit the imported Prophet and its Stan model (spawn would import
            # them again, and the caller's main module); no warehouse connection is open here
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context(method),
                                            initializer=_worker_init)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        restore_blas(self.blas)

    def map(self, fn, items: list, order: list[int] | None = None) -> list:
        order = order if order is not None else list(range(len(items)))
        if self.pool is None:
            out = {i: fn(items[i]) for i in order}
        else:
            futures = {i: self.pool.submit(fn, items[i]) for i in order}
            out = {i: f.result() for i, f in futures.items()}
        return [out[i] for i in range(len(items))]


def _worker_init() -> None:
    import prophet  # noqa: F401  (loaded once, outside the timed fits)

    from forecasting.models import _quiet
    _quiet()
    single_thread_blas()


def _select(hier: Hierarchy, series: SeriesSet, backtest: pd.DataFrame) -> pd.DataFrame:
    """Per node: the model with the lowest pooled monthly backtest MASE (Prophet when there is
    not enough evidence), and that MASE."""
    acc = bt.accuracy(backtest[backtest["grain"] == "month"], ["level", "level_value", "model"]) \
        if len(backtest) else pd.DataFrame()
    rows = []
    inactive_owner = {c[0] for c, off in zip(hier.cells, series.inactive_cells) if off}
    for level, value in hier.nodes:
        chosen, mase = "prophet", np.nan
        if len(acc):
            a = acc[(acc["level"] == level) & (acc["level_value"] == value) & (acc["horizon"] == 0)
                    & (acc["n_mase"] >= MIN_BACKTEST_ROWS)].dropna(subset=["mase"])
            if len(a):
                best = a.sort_values(["mase", "model"], kind="stable").iloc[0]
                prophet_row = a[a["model"] == "prophet"]
                chosen, mase = best["model"], float(best["mase"])
                if len(prophet_row) and float(prophet_row["mase"].iloc[0]) <= mase:
                    chosen, mase = "prophet", float(prophet_row["mase"].iloc[0])
        fixed = (level == "owner" and value in inactive_owner) or (
            level == "owner_cell" and value.split("|")[0] in inactive_owner)
        rows.append({"level": level, "level_value": value, "selected": chosen,
                     "backtest_mase": mase, "inactive": fixed})
    return pd.DataFrame(rows)


def _residuals(series: SeriesSet, fitted: list[np.ndarray | None], end: int) -> np.ndarray:
    """In-sample residuals (time x nodes) of each node's model over the last RESIDUAL_WINDOW
    months before `end` (absolute index); `fitted[i]` starts at node i's first month."""
    lo = max(0, end - RESIDUAL_WINDOW)
    out = np.full((end - lo, len(fitted)), np.nan)
    for i, f in enumerate(fitted):
        s = int(series.starts[i])
        if f is None or s >= end:
            continue
        y = series.Y[i, s:end]
        if len(f) < len(y):
            continue
        resid = np.full(end, np.nan)
        resid[s:end] = y - f[:len(y)]
        out[:, i] = resid[lo:end]
    return out


def _adjust_interval(base, rec, lower, upper):
    """Move an interval with its point forecast from `base` to `rec` (shifted by the
    reconciliation adjustment). A lower bound at zero stays at zero: for a thin series (a rep's
    month) zero is a likely outcome, and reconciliation moves the typical month, not that."""
    base, rec = np.asarray(base, dtype=float), np.asarray(rec, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    shift = rec - base
    lo = np.where(lower <= 0, 0.0, np.clip(lower + shift, 0.0, None))
    hi = upper + shift
    return np.minimum(lo, rec), np.maximum(hi, rec)


def _reconciled_backtest(series: SeriesSet, by_key: dict, selection: pd.DataFrame,
                         origins: list[int], horizon: int) -> pd.DataFrame:
    """Backtest rows of the reconciled forecasts (MinT and bottom-up) at the owner origins,
    from each node's selected model there."""
    hier, T = series.hierarchy, len(series.months)
    n = len(hier.nodes)
    rows = []
    for origin in origins:
        base, lower, upper = (np.zeros((n, horizon)) for _ in range(3))
        q_base, q_lo, q_hi = (np.zeros((n, horizon // 3)) for _ in range(3))
        fitted: list[np.ndarray | None] = []
        for i, key in enumerate(hier.nodes):
            s = int(series.starts[i])
            k = by_key[key].kept.get((selection.iloc[i]["selected"], origin - s))
            if k is None or origin - s <= 0:
                fitted.append(None)
                continue
            fitted.append(k.fitted)
            base[i], lower[i], upper[i] = k.mean, k.lower, k.upper
            if len(k.group_mean):
                q_base[i], q_lo[i], q_hi[i] = k.group_mean, k.group_lower, k.group_upper
        young = np.array([series.starts[_cell_row(hier.S, j)] >= origin
                          for j in range(len(hier.cells))])
        resid = _residuals(series, fitted, origin)
        quarter_origin = (series.months[origin].month - 1) % 3 == 0
        for method in ("mint", "bottom_up"):
            rec = reconcile(hier.S, base, resid, fixed_zero=young, method=method)
            lo, hi = _adjust_interval(base, rec, lower, upper)
            q_rec = np.stack([rec[:, g].sum(axis=1) for g in _quarters_of(horizon)], axis=1) \
                if horizon >= 3 else np.zeros((n, 0))
            qlo, qhi = _adjust_interval(q_base, q_rec, q_lo, q_hi)
            for i, (level, value) in enumerate(hier.nodes):
                s = int(series.starts[i])
                if level == "owner_cell" or origin - s < MIN_TRAIN:
                    continue  # as for the base models: no row from a too-short history
                train = series.Y[i, s:origin]
                m_scale = bt.mase_scale(train, 12)
                for h in range(1, horizon + 1):
                    t = origin + h - 1
                    if t >= T:
                        break
                    rows.append((method, method, "month", series.months[origin], h,
                                 series.months[t], series.Y[i, t], rec[i, h - 1],
                                 lo[i, h - 1], hi[i, h - 1], m_scale, level, value))
                if not quarter_origin:
                    continue
                q_scale = bt.mase_scale(bt.quarter_sums(train, series.months[s]), 4) \
                    if s < origin else np.nan
                for q in range(horizon // 3):
                    a, b = origin + 3 * q, origin + 3 * q + 3
                    if b > T:
                        break
                    rows.append((method, method, "quarter", series.months[origin], q + 1,
                                 series.months[a], float(series.Y[i, a:b].sum()),
                                 float(q_rec[i, q]), float(qlo[i, q]), float(qhi[i, q]),
                                 q_scale, level, value))
    return pd.DataFrame(rows, columns=["model", "model_used", "grain", "origin", "horizon",
                                       "period_start", "actual", "yhat", "lower", "upper",
                                       "scale", "level", "level_value"])


def _final_forecast(series: SeriesSet, final: dict[tuple[str, str], Kept],
                    selection: pd.DataFrame, f_start: pd.Timestamp, final_h: int,
                    groups: list[list[int]], q_starts: list[pd.Timestamp], horizon: int
                    ) -> pd.DataFrame:
    hier, T = series.hierarchy, len(series.months)
    n = len(hier.nodes)
    kept = [final[key] for key in hier.nodes]
    base = np.stack([k.mean for k in kept])
    lower = np.stack([k.lower for k in kept])
    upper = np.stack([k.upper for k in kept])
    g_base = np.stack([k.group_mean for k in kept])
    g_lo = np.stack([k.group_lower for k in kept])
    g_hi = np.stack([k.group_upper for k in kept])
    resid = _residuals(series, [k.fitted for k in kept], T)
    rec = reconcile(hier.S, base, resid, fixed_zero=series.inactive_cells, method="mint")
    lo, hi = _adjust_interval(base, rec, lower, upper)
    g_rec = np.stack([rec[:, g].sum(axis=1) for g in groups], axis=1)
    glo, ghi = _adjust_interval(g_base, g_rec, g_lo, g_hi)
    # months of the current quarter already booked
    q0 = q_starts[0] if q_starts else f_start
    done = [t for t in range(T) if series.months[t] >= q0]
    booked = series.Y[:, done].sum(axis=1) if done else np.zeros(n)
    rows = []
    ds = months(f_start, final_h)
    for i, (level, value) in enumerate(hier.nodes):
        if level == "owner_cell":
            continue
        sel = selection.iloc[i]
        common = {"level": level, "level_value": value,
                  "selected_by": ("inactive" if sel["inactive"] else "backtest"
                                  if np.isfinite(sel["backtest_mase"]) else "default"),
                  "backtest_mase": sel["backtest_mase"]}
        labels = kept[i].months_model
        for h in range(min(horizon, final_h)):
            rows.append({**common, "grain": "month", "period_start": ds[h].date(),
                         "yhat": rec[i, h], "yhat_lower": lo[i, h], "yhat_upper": hi[i, h],
                         "model": labels[h], "actual_to_date": 0.0})
        for g, (idx, qs) in enumerate(zip(groups, q_starts)):
            extra = float(booked[i]) if g == 0 else 0.0
            used = sorted({labels[j] for j in idx}, key=labels.index)
            rows.append({**common, "grain": "quarter", "period_start": qs.date(),
                         "yhat": g_rec[i, g] + extra, "yhat_lower": glo[i, g] + extra,
                         "yhat_upper": ghi[i, g] + extra, "model": "+".join(used),
                         "actual_to_date": extra})
    out = pd.DataFrame(rows)
    out["interval_width"] = INTERVAL
    out["reconciliation"] = "mint_shrink"
    cols = ["level", "level_value", "grain", "period_start", "yhat", "yhat_lower", "yhat_upper",
            "model", "interval_width", "reconciliation", "selected_by", "backtest_mase",
            "actual_to_date"]
    out = out[cols]
    for c in ("yhat", "yhat_lower", "yhat_upper", "actual_to_date"):
        out[c] = out[c].astype(float)
    level_order = {lv: k for k, lv in enumerate(("company", "segment", "region", "owner"))}
    out = out.assign(_l=out["level"].map(level_order), _g=(out["grain"] != "month").astype(int))
    return out.sort_values(["_l", "level_value", "_g", "period_start"], kind="stable") \
        .drop(columns=["_l", "_g"]).reset_index(drop=True)


def _backtest_table(backtest: pd.DataFrame) -> pd.DataFrame:
    cols = ["run_id", "as_of_date", "level", "level_value", "model", "model_used", "grain",
            "origin", "horizon", "period_start", "actual", "yhat", "lower", "upper", "scale"]
    out = backtest[backtest["level"] != "owner_cell"][cols].copy()
    out["origin"] = pd.to_datetime(out["origin"]).dt.date
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    out["horizon"] = out["horizon"].astype("int64")
    for c in ("actual", "yhat", "lower", "upper", "scale"):
        out[c] = out[c].astype(float)
    return out.sort_values(["level", "level_value", "model", "grain", "origin", "horizon"],
                           kind="stable").reset_index(drop=True)


def _accuracy_table(acc: pd.DataFrame) -> pd.DataFrame:
    cols = ["run_id", "as_of_date", "model", "level", "grain", "horizon", "mase", "smape",
            "coverage", "n", "n_mase"]
    out = acc[cols].copy()
    out["horizon"] = out["horizon"].astype("int64")
    out["n"] = out["n"].astype("int64")
    out["n_mase"] = out["n_mase"].astype("int64")
    return out.reset_index(drop=True)
