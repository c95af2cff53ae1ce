"""Unit tests on hand-made data: thin series, all-zero series, a rep who left, the
reconciliation, the Markov chain, the snapshot merge and the audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import backtest as bt
from forecasting.baselines import BASELINES, ets_forecast, mean_forecast, seasonal_naive_forecast
from forecasting.data import MartData, from_frames
from forecasting.job import audit_tables, merge_snapshot
from forecasting.models import fit_prophet, prophet_forecast
from forecasting.reconcile import build_hierarchy, reconcile, shrink_covariance
from forecasting.revenue import build_series, forecast_revenue, forecast_start
from forecasting.winprob import _absorb, fit_verifier

AS_OF = pd.Timestamp("2026-11-01")


def _opps(rows: list[dict]) -> pd.DataFrame:
    base = {"opportunity_type": "New Business", "segment": "SMB", "region": "NA",
            "stage_name": "Closed Won", "stage_order": 7, "is_closed": True, "is_won": True,
            "verifier_score": 1.0}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["opportunity_id"] = [f"o{i:04d}" for i in range(len(frame))]
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["close_date"] = pd.to_datetime(frame["close_date"])
    return frame


def _data(opps: pd.DataFrame) -> MartData:
    return from_frames(AS_OF, opps)


def _monthly_deals(owner: str, first: str, last: str, amount: float, segment="SMB",
                   region="NA", every: int = 1) -> list[dict]:
    out = []
    for k, month in enumerate(pd.date_range(first, last, freq="MS")):
        if k % every == 0:
            out.append({"owner_id": owner, "segment": segment, "region": region,
                        "amount": amount * (1.5 if month.month % 3 == 0 else 1.0),
                        "created_at": month - pd.Timedelta(days=20),
                        "close_date": month + pd.Timedelta(days=14)})
    return out


@pytest.fixture(scope="module")
def thin_run():
    """Ten months of company history: a steady rep, a rep who books every other month, a rep
    who left five months in (no opportunity since, none open) and a rep who never booked."""
    rows = (_monthly_deals("steady", "2026-01-01", "2026-10-01", 10_000)
            + _monthly_deals("patchy", "2026-01-01", "2026-10-01", 6_000, region="EMEA", every=2)
            + _monthly_deals("left", "2026-01-01", "2026-03-01", 8_000, segment="Enterprise"))
    rows.append({"owner_id": "never", "amount": 5_000, "is_won": False, "is_closed": False,
                 "stage_name": "Prospecting", "verifier_score": 0.0,
                 "created_at": "2026-10-20", "close_date": "2026-12-15"})
    data = _data(_opps(rows))
    return data, forecast_revenue(data, "run-thin", horizon=6, workers=1)


def test_forecast_starts_after_the_last_full_month():
    assert forecast_start("2026-11-01") == pd.Timestamp("2026-11-01")
    assert forecast_start("2026-11-30") == pd.Timestamp("2026-12-01")


def test_ten_months_of_history_still_forecast_every_level(thin_run):
    _, result = thin_run
    rf = result.revenue_forecast
    company = rf[(rf["level"] == "company") & (rf["grain"] == "month")]
    assert len(company) == 6
    assert (company["yhat"] > 0).all()
    # under 12 months before any origin: nothing to backtest, the primary model is used
    assert result.forecast_backtest.empty or not (
        result.forecast_backtest["level"] == "company").any()
    assert set(company["model"]) == {"prophet"}
    assert set(company["selected_by"]) == {"default"}
    # quarters: the current one includes what October already booked
    q = rf[(rf["level"] == "company") & (rf["grain"] == "quarter")]
    assert str(q["period_start"].iloc[0]) == "2026-10-01"
    assert q["actual_to_date"].iloc[0] == pytest.approx(10_000)  # October: only steady booked


def test_a_rep_who_left_is_forecast_at_zero_and_levels_still_add_up(thin_run):
    _, result = thin_run
    rf = result.revenue_forecast
    left = rf[(rf["level"] == "owner") & (rf["level_value"] == "left")]
    assert len(left) and (left["yhat"] == 0).all() and (left["yhat_upper"] == 0).all()
    assert set(left["model"]) == {"zero_inactive"}
    never = rf[(rf["level"] == "owner") & (rf["level_value"] == "never")]
    assert set(never["model"]) == {"zero"}
    company = rf[rf["level"] == "company"].set_index(["grain", "period_start"])["yhat"]
    for level in ("segment", "region", "owner"):
        sums = rf[rf["level"] == level].groupby(["grain", "period_start"])["yhat"].sum()
        assert np.allclose(sums, company.loc[sums.index], rtol=1e-9), level
    assert (rf["yhat_lower"] <= rf["yhat"]).all() and (rf["yhat"] <= rf["yhat_upper"]).all()


def test_inactive_rep_detection():
    rows = (_monthly_deals("steady", "2025-01-01", "2026-10-01", 10_000)
            + _monthly_deals("left", "2025-01-01", "2026-02-01", 8_000))
    series = build_series(_data(_opps(rows)))
    inactive = dict(zip((c[0] for c in series.hierarchy.cells), series.inactive_cells))
    assert inactive == {"steady": False, "left": True}


def test_thin_models_fall_back_and_say_so():
    ten = np.array([5.0, 7, 6, 9, 5, 8, 7, 6, 9, 8]) * 1000
    assert seasonal_naive_forecast(ten, 6).model == "naive"
    assert mean_forecast(ten[:3], 6).model == "mean"
    assert ets_forecast(ten, 6).model == "ets"
    fc = prophet_forecast(ten, pd.Timestamp("2026-01-01"), 6)
    assert fc.model == "prophet" and fc.mean.shape == (6,) and fc.samples.shape[0] == 6
    lower, upper = fc.quantiles()
    assert (lower <= fc.mean).all() and (fc.mean <= upper).all() and (lower >= 0).all()


def test_all_zero_months_give_zero_forecasts():
    zeros = np.zeros(30)
    for fc in (seasonal_naive_forecast(zeros, 6), ets_forecast(zeros, 6),
               mean_forecast(zeros, 6)):
        assert fc.model == "zero" and not fc.mean.any() and not fc.samples.any()
    # mostly-zero series (a rep with a deal now and then) stay non-negative
    sparse = np.zeros(30)
    sparse[[3, 11, 19, 27]] = 40_000
    for fc in (seasonal_naive_forecast(sparse, 6), ets_forecast(sparse, 6),
               prophet_forecast(sparse, pd.Timestamp("2024-01-01"), 6)):
        assert (fc.mean >= 0).all() and (fc.samples >= 0).all()


def test_benchmark_interfaces():
    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30, freq="MS"),
                            "y": np.linspace(1, 2, 30) * 1e5})
    for fn in (fit_prophet, *BASELINES.values()):
        out = fn(history, 6)
        assert list(out.columns[:4]) == ["ds", "yhat", "yhat_lower", "yhat_upper"]
        assert len(out) == 6 and str(out["ds"].iloc[0])[:10] == "2026-07-01"


def test_rolling_origin_backtest_and_measures():
    # a yearly pattern plus one per month: the seasonal naive forecast is always 12 short, and
    # so is its in-sample error (the MASE scale): MASE exactly 1
    y = np.array([10.0, 12, 14, 11, 13, 15, 12, 14, 16, 13, 15, 17] * 2) + np.arange(24)
    perfect = {"naive": lambda train, origin, h: seasonal_naive_forecast(train, h)}
    rows = bt.backtest_series(y, pd.Timestamp("2024-01-01"), [13, 15, 18], 6, perfect)
    month = rows[rows["grain"] == "month"]
    assert len(month) == 6 + 6 + 6 and np.allclose(month["actual"] - month["yhat"], 12)
    quarter = rows[rows["grain"] == "quarter"]
    assert len(quarter) == 2 + 2  # quarter starts (15: April, 18: July), two quarters each
    acc = bt.accuracy(rows, ["model", "grain"])
    m = acc[(acc["grain"] == "month") & (acc["horizon"] == 0)].iloc[0]
    assert m["mase"] == pytest.approx(1.0) and m["n"] == 18
    smape = np.mean(200 * 12 / (month["actual"] + month["yhat"]))
    assert m["smape"] == pytest.approx(smape)
    assert bt.mase_scale(np.array([1.0, 2.0]), 12) == 1.0  # lag 1 without a full season
    assert np.isnan(bt.mase_scale(np.zeros(20), 12))


def test_reconciliation_is_coherent_and_keeps_fixed_cells_at_zero():
    hier = build_hierarchy([("a", "SMB", "NA"), ("b", "SMB", "EMEA"), ("c", "Ent", "NA")])
    S = hier.S
    rng = np.random.default_rng(0)
    truth = rng.gamma(2.0, 10.0, size=(3, 6))
    base = S @ truth + rng.normal(0, 3, size=(S.shape[0], 6))
    base[hier.index("owner", "b")] = -5.0  # a negative base forecast
    resid = rng.normal(0, 1, size=(24, S.shape[0]))
    fixed = np.array([False, False, True])  # owner c left
    for method in ("mint", "bottom_up"):
        rec = reconcile(S, base, resid, fixed_zero=fixed, method=method)
        cells = rec[[hier.index("owner", o) for o in ("a", "b", "c")]]
        assert np.allclose(S @ cells, rec)  # every level adds up
        assert (cells >= 0).all() and not cells[2].any()
    cov = shrink_covariance(resid)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_absorbing_chain_probabilities_and_times():
    # A: stays 2 days in 3, else moves to B; B: wins or loses half the time each
    counts = {(("A", 0), ("A", 0)): 2, (("A", 0), ("B", 0)): 1,
              (("B", 0), "__won__"): 1, (("B", 0), "__lost__"): 1}
    index, won, days = _absorb(counts, [("A", 0), ("B", 0), ("C", 0)], None)
    assert won[index[("A", 0)]] == pytest.approx(0.5)
    assert days[index[("A", 0)]] == pytest.approx(3 + 1)  # 3 days in A, 1 in B
    assert days[index[("B", 0)]] == pytest.approx(1)
    assert np.isnan(won[index[("C", 0)]])  # never seen: unknown, not a guess


def test_verifier_logistic_regression_is_calibrated_in_the_large():
    rng = np.random.default_rng(1)
    n = 2000
    rows = pd.DataFrame({"opportunity_type": "New Business",
                         "verified_x": rng.integers(0, 2, n).astype(float),
                         "inflight_x": 0.0, "revisited": 0.0})
    p = 1 / (1 + np.exp(-(-1.0 + 2.0 * rows["verified_x"])))
    rows["won"] = (rng.random(n) < p).astype(float)
    model = fit_verifier(rows, ["x"])
    pred = model.predict(rows)
    assert abs(pred.mean() - rows["won"].mean()) < 0.01
    assert model.coef[-3] == pytest.approx(2.0, abs=0.3)  # verified_x


def test_snapshot_keeps_other_dates_and_replaces_a_rerun():
    def run(run_id, as_of, value):
        return pd.DataFrame({"run_id": run_id, "as_of_date": pd.Timestamp(as_of).date(),
                             "level": "company", "level_value": "all", "grain": "month",
                             "period_start": [pd.Timestamp("2026-12-01").date()],
                             "yhat": [value]})
    first = merge_snapshot(None, run("r1", "2026-10-01", 1.0), pd.Timestamp("2026-10-01").date())
    second = merge_snapshot(first, run("r2", "2026-11-01", 2.0), pd.Timestamp("2026-11-01").date())
    assert list(second["run_id"]) == ["r1", "r2"]
    rerun = merge_snapshot(second, run("r3", "2026-11-01", 3.0),
                           pd.Timestamp("2026-11-01").date())
    assert list(rerun["run_id"]) == ["r1", "r3"] and list(rerun["yhat"]) == [1.0, 3.0]


def test_audit_refuses_incoherent_levels_and_bad_probabilities(thin_run):
    data, result = thin_run
    from forecasting.pipeline_forecast import pipeline_forecast
    from forecasting.winprob import win_probabilities

    win = win_probabilities(data, "run-thin")
    tables = {"revenue_forecast": result.revenue_forecast,
              "forecast_backtest": result.forecast_backtest,
              "forecast_accuracy": result.forecast_accuracy,
              "pipeline_forecast": pipeline_forecast(data, win.opportunities, win.scores, "r"),
              "opportunity_win_probability": win.opportunities,
              "win_probability_score": win.scores,
              "forecast_snapshot": result.revenue_forecast}
    assert audit_tables(tables) == []
    broken = result.revenue_forecast.copy()
    owner = broken.index[broken["level"] == "owner"][0]
    broken.loc[owner, ["yhat", "yhat_upper"]] += 1_000_000
    assert any("do not add up" in p for p in audit_tables({**tables,
                                                           "revenue_forecast": broken}))
    wp = pd.DataFrame([{"opportunity_id": "o1", "p_stage": 0.5, "p_verifier": 0.4,
                        "p_markov": 1.5, "p_win": 0.4}])
    assert any("outside [0, 1]" in p for p in audit_tables({**tables,
                                                             "opportunity_win_probability": wp}))
