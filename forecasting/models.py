"""The forecasting models on one monthly series, behind one interface.

Every model takes the history `y` (monthly values, oldest first, the first month `start`) and a
horizon, and returns a `Forecast`: the point forecast per future month, sample paths (for
intervals, and for quarterly sums whose intervals are not the sum of monthly intervals) and the
in-sample fitted values (residuals feed the MinT reconciliation).

- `prophet`: Prophet (bundled Stan model, MAP fit with L-BFGS) with a quarter-end regressor
  (bookings spike in the last month of a quarter) and, from 24 months of history, a yearly
  seasonality of Fourier order 3; additive. Sample paths add the parameter uncertainty a MAP
  fit leaves out (see `_predict`).
- `prophet_pipeline`: the same plus the open verifier-weighted pipeline as an extra regressor
  (see `pipeline_regressor`).
- baselines (`forecasting.baselines`): seasonal naive, ETS, and for thin series the mean and zero.

Bookings are never negative: point forecasts and samples are clipped at zero. Runs are
reproducible: the Stan optimiser and numpy's sampling are seeded from the series key.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SEED = 20240101
INTERVAL = 0.8
N_SAMPLES = 400
MIN_MONTHS_PROPHET = 6  # fewer: the mean baseline
MIN_MONTHS_YEARLY = 24  # yearly seasonality needs two seasons of history
QUARTER_END_MONTHS = (3, 6, 9, 12)
# additive seasonality (Prophet's default) with a low-order yearly cycle: on two to three years
# of monthly history a multiplicative or higher-order yearly term chases single spikes
PROPHET_PARAMS = {"seasonality_mode": "additive", "yearly_order": 3}


@dataclass
class Forecast:
    model: str
    mean: np.ndarray  # (horizon,)
    samples: np.ndarray  # (horizon, N_SAMPLES)
    fitted: np.ndarray = field(default_factory=lambda: np.array([]))  # (n,), NaN where none
    months_model: list[str] | None = None  # per month, where months come from two models

    def clipped(self) -> Forecast:
        return Forecast(self.model, np.clip(self.mean, 0.0, None),
                        np.clip(self.samples, 0.0, None), self.fitted, self.months_model)

    def quantiles(self, width: float = INTERVAL) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = (1 - width) / 2, 1 - (1 - width) / 2
        lower = np.quantile(self.samples, lo, axis=1)
        upper = np.quantile(self.samples, hi, axis=1)
        return np.minimum(lower, self.mean), np.maximum(upper, self.mean)


def seed_for(*key) -> int:
    """A stable seed for one fit (same key, same seed, in any process and any order)."""
    return (SEED + zlib.crc32("|".join(map(str, key)).encode())) % (2**31 - 1)


def months(start: pd.Timestamp, n: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), periods=n, freq="MS")


def quarter_end(ds: pd.DatetimeIndex) -> np.ndarray:
    return np.isin(ds.month, QUARTER_END_MONTHS).astype(float)


_prophet_logging_quiet = False


_BLAS_LIBS: dict[str, tuple | None] = {}


def _blas_libs() -> list:
    """(setter, getter) of every OpenBLAS library loaded in this process (numpy's, scipy's;
    the process maps are read each time, as a library may have been loaded since)."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    for path in paths - set(_BLAS_LIBS):
        _BLAS_LIBS[path] = None
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{name}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{name}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None and _BLAS_LIBS[path] is None:
                    _BLAS_LIBS[path] = (setter, getter)
    return [v for k, v in _BLAS_LIBS.items() if k in paths and v is not None]


def single_thread_blas() -> list:
    """Limit the OpenBLAS libraries loaded in this process to one thread and return what to
    pass to `restore_blas`. The fits here are tiny: BLAS threads only spin (an ETS fit takes
    ten times the CPU with them) and fight the other pool worker for the cores. No extra
    dependency (what threadpoolctl does, for OpenBLAS only)."""
    changed = []
    for setter, getter in _blas_libs():
        previous = int(getter())
        if previous != 1:
            setter(1)
            changed.append((setter, previous))
    return changed


class one_blas_thread:
    """Context manager: single-threaded BLAS inside, the caller's setting restored after."""

    def __enter__(self):
        self.changed = single_thread_blas()
        return self

    def __exit__(self, *exc):
        restore_blas(self.changed)


def restore_blas(changed: list) -> None:
    for setter, previous in changed:
        setter(previous)


def _quiet() -> None:
    global _prophet_logging_quiet
    if not _prophet_logging_quiet:
        for name in ("cmdstanpy", "prophet", "prophet.plot"):
            logging.getLogger(name).setLevel(logging.ERROR)
        _prophet_logging_quiet = True


_FastProphet = None


def _prophet_class():
    """Prophet with a numpy version of `regressor_column_matrix` (the same matrix; Prophet builds
    it with `pandas.crosstab` on every fit and predict, a fifth of a short series' fit time)."""
    global _FastProphet
    if _FastProphet is not None:
        return _FastProphet
    from prophet import Prophet

    class FastProphet(Prophet):
        def regressor_column_matrix(self, seasonal_features, modes):
            names = [str(c).split("_delim_")[0] for c in seasonal_features.columns]
            members: dict[str, set[int]] = {}
            for i, name in enumerate(names):
                members.setdefault(name, set()).add(i)

            def group(name, parts):
                cols = set().union(*(members.get(p, set()) for p in set(parts))) if len(
                    parts) else set()
                if cols:
                    members.setdefault(name, set()).update(cols)

            if self.train_holiday_names is not None:
                group("holidays", list(self.train_holiday_names.unique()))
            for mode in ("additive", "multiplicative"):
                group(mode + "_terms", modes[mode])
                group("extra_regressors_" + mode, [r for r, p in self.extra_regressors.items()
                                                    if p["mode"] == mode])
                modes[mode].append(mode + "_terms")
                modes[mode].append("extra_regressors_" + mode)
            modes[self.holidays_mode].append("holidays")
            cols = sorted(members)
            matrix = np.zeros((len(names), len(cols)), dtype=np.int64)
            for j, c in enumerate(cols):
                matrix[sorted(members[c]), j] = 1
            component_cols = pd.DataFrame(matrix, columns=pd.Index(cols, name="component"),
                                          index=pd.Index(range(len(names)), name="col"))
            for name in ("additive_terms", "multiplicative_terms"):
                if name not in component_cols:
                    component_cols[name] = 0
            component_cols = component_cols.drop(columns="zeros", errors="ignore")
            if self.train_component_cols is not None:
                component_cols = component_cols[self.train_component_cols.columns]
            return component_cols, modes

    _FastProphet = FastProphet
    return FastProphet


def prophet_forecast(y: np.ndarray, start: pd.Timestamp, horizon: int, seed: int = SEED,
                     xreg: np.ndarray | None = None, model: str = "prophet") -> Forecast:
    """Prophet on a monthly series; `xreg` (length n + horizon) is an extra regressor."""
    Prophet = _prophet_class()
    _quiet()

    y = np.asarray(y, dtype=float)
    n = len(y)
    ds = months(start, n + horizon)
    params = dict(PROPHET_PARAMS)
    order = params.pop("yearly_order")
    yearly = order if n >= MIN_MONTHS_YEARLY and order else False
    qe = quarter_end(ds)
    use_qe = qe[:n].sum() >= 2 and qe[:n].sum() < n
    m = Prophet(interval_width=INTERVAL, yearly_seasonality=yearly, weekly_seasonality=False,
                daily_seasonality=False, uncertainty_samples=0, **params)
    frame = pd.DataFrame({"ds": ds, "y": np.concatenate([y, np.full(horizon, np.nan)])})
    if use_qe:
        m.add_regressor("quarter_end")
        frame["quarter_end"] = qe
    if xreg is not None:
        m.add_regressor("pipeline", mode="additive", standardize=True)
        frame["pipeline"] = np.asarray(xreg, dtype=float)
    m.fit(frame.iloc[:n], seed=seed)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        point, samples = _predict(m, frame.drop(columns="y"), n)
    finally:
        np.random.set_state(state)
    return Forecast(model, point[n:], samples, point[:n]).clipped()


def _predict(m, frame: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast over history and future, and N_SAMPLES future sample paths (horizon x
    samples), computing Prophet's seasonal features once (instead of once in `predict` and again
    in `predictive_samples`).

    The paths are Prophet's generative model (trend with future changepoints, seasonality,
    regressors, observation noise) plus what a MAP fit leaves out: the uncertainty of the fitted
    parameters. A linearisation of the model around the fit (columns: level, trend, each
    seasonal/regressor feature) gives the parameters' covariance sigma^2 (D'D)^-1; each path
    draws one parameter error, so it moves all its months together (quarter sums stay honest),
    and grows with the distance from the history. sigma is corrected for the degrees of freedom
    the fit used (n / (n - p)). Monthly bookings are short series: without this, 80% intervals
    cover about two thirds of the backtest actuals."""
    df = m.setup_dataframe(frame.copy())
    trend = np.asarray(m.predict_trend(df), dtype=float)
    features, _, components, _ = m.make_all_seasonality_features(df)
    x = features.to_numpy(dtype=float)
    beta = np.asarray(m.params["beta"])[0]
    is_mult = components["multiplicative_terms"].to_numpy().astype(bool)
    additive = x @ (beta * ~is_mult) * m.y_scale
    multiplicative = x @ (beta * is_mult)
    point = trend * (1 + multiplicative) + additive
    future = df.iloc[n:]
    trends = m.sample_predictive_trend_vectorized(future, N_SAMPLES, 0)  # (samples, horizon)
    sigma = float(np.asarray(m.params["sigma_obs"]).ravel()[0]) * m.y_scale
    t = df["t"].to_numpy(dtype=float)
    scale = 1 + multiplicative
    design = np.column_stack([scale, t * scale, x[:, is_mult] * trend[:, None],
                              x[:, ~is_mult] * m.y_scale])
    design = design[:, np.abs(design[:n]).max(axis=0) > 0]
    p = design.shape[1]
    sigma_df = sigma * np.sqrt(n / (n - p)) if n - p >= 3 else sigma * 2.0
    # columns on a unit scale (they range from 1 to millions), then back
    col_scale = np.abs(design[:n]).max(axis=0)
    unit = design / col_scale
    cov = np.linalg.pinv(unit[:n].T @ unit[:n])
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    param_draws = np.random.standard_normal((N_SAMPLES, p)) @ root.T * sigma_df
    design = unit
    noise = np.random.normal(0, sigma_df, trends.shape)
    paths = (trends * scale[n:] + additive[n:] + noise + param_draws @ design[n:].T)
    return point, paths.T


def fit_prophet(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Prophet on one monthly series given as a frame (ds, y): the benchmark's unit of work.
    Returns ds, yhat, yhat_lower, yhat_upper (80% interval)."""
    history = history.sort_values("ds")
    with one_blas_thread():
        fc = prophet_forecast(history["y"].to_numpy(), pd.Timestamp(history["ds"].iloc[0]), horizon)
    lower, upper = fc.quantiles()
    start = pd.Timestamp(history["ds"].iloc[-1]) + pd.offsets.MonthBegin(1)
    return pd.DataFrame({"ds": months(start, horizon), "yhat": fc.mean, "yhat_lower": lower,
                         "yhat_upper": upper, "model": fc.model})
