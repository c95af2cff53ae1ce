"""The issue's checks on the demo data (scale 1, seed 42), through the real pipeline steps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.job import RELATIONS
from tests.forecasting.conftest import DS, DemoForecast


def _accuracy(demo: DemoForecast, model: str, level: str, grain: str = "month",
              horizon: int = 0) -> pd.Series:
    acc = demo.table("forecast_accuracy")
    row = acc[(acc["model"] == model) & (acc["level"] == level) & (acc["grain"] == grain)
              & (acc["horizon"] == horizon)]
    assert len(row) == 1, (model, level, grain, horizon)
    return row.iloc[0]


def test_every_table_is_published_with_run_id_and_as_of_date(demo: DemoForecast):
    for name in RELATIONS:
        frame = demo.table(name)
        assert len(frame), name
        assert set(frame["run_id"]) <= {demo.first["version"], demo.second["version"]}, name
        assert {str(d)[:10] for d in frame["as_of_date"]} == {DS}, name


def test_company_monthly_prophet_beats_seasonal_naive_in_the_backtest(demo: DemoForecast):
    prophet = _accuracy(demo, "prophet", "company")
    naive = _accuracy(demo, "seasonal_naive", "company")
    assert prophet["n"] >= 50  # 12 rolling origins, horizons 1-6
    assert prophet["mase"] < 1.0
    assert prophet["mase"] < naive["mase"]


def test_company_monthly_80_percent_interval_covers_70_to_90_percent(demo: DemoForecast):
    coverage = _accuracy(demo, "prophet", "company")["coverage"]
    assert 0.70 <= coverage <= 0.90, coverage


def test_every_series_is_backtested_against_both_baselines(demo: DemoForecast):
    bt = demo.table("forecast_backtest")
    models = bt.groupby(["level", "level_value"])["model"].agg(set)
    assert set(models.index.get_level_values("level")) == {"company", "segment", "region",
                                                          "owner"}
    for key, found in models.items():
        assert {"prophet", "seasonal_naive", "ets"} <= found, key
    acc = demo.table("forecast_accuracy")
    for level in ("company", "segment", "region", "owner"):
        for model in ("prophet", "seasonal_naive", "ets", "mint", "bottom_up"):
            sub = acc[(acc["level"] == level) & (acc["model"] == model)]
            assert {"month", "quarter"} <= set(sub["grain"]), (level, model)
            assert sub["coverage"].between(0, 1).all()


def test_published_forecast_names_the_model_it_used(demo: DemoForecast):
    rf = demo.table("revenue_forecast")
    assert set(rf["grain"]) == {"month", "quarter"}
    assert (rf["interval_width"] == 0.8).all()
    bt = demo.table("forecast_backtest")
    candidates = bt[(bt["grain"] == "month") & bt["model"].isin(
        ["prophet", "prophet_pipeline", "seasonal_naive", "ets"])]
    acc = (candidates.assign(e=lambda f: (f["actual"] - f["yhat"]).abs() / f["scale"])
           .groupby(["level", "level_value", "model"])["e"].mean().unstack())
    months = rf[(rf["grain"] == "month") & (rf["selected_by"] == "backtest")]
    first = months.sort_values("period_start").groupby(["level", "level_value"]).first()
    baseline_won = 0
    for (level, value), row in first.iterrows():
        scores = acc.loc[(level, value)].dropna()
        best = scores.idxmin()
        if scores.get("prophet", np.inf) <= scores[best]:
            best = "prophet"
        label = row["model"].split("+")[0]
        if best in ("seasonal_naive", "ets"):
            baseline_won += 1
            assert label in (best, "naive", "mean", "zero"), (level, value, label, best)
        else:
            assert label.startswith("prophet") or label in ("mean", "zero"), (level, value)
    assert baseline_won > 0  # on the demo, baselines win some owner series


def test_levels_add_up_to_the_company_total(demo: DemoForecast):
    rf = demo.table("revenue_forecast")
    company = rf[rf["level"] == "company"].set_index(["grain", "period_start"])["yhat"]
    for level in ("segment", "region", "owner"):
        sums = rf[rf["level"] == level].groupby(["grain", "period_start"])["yhat"].sum()
        gap = ((sums - company).abs() / company).max()
        assert gap < 0.005, (level, gap)
    assert (rf["yhat_lower"] <= rf["yhat"] + 1e-6).all()
    assert (rf["yhat"] <= rf["yhat_upper"] + 1e-6).all()
    assert (rf["yhat_lower"] >= 0).all()


def test_cli_summary_rows_are_there(demo: DemoForecast):
    rf = demo.table("revenue_forecast")
    company = rf[(rf["level"] == "company") & (rf["grain"] == "month")]
    assert len(company) == demo.settings.forecast_horizon_months
    assert str(company["period_start"].min())[:10] == "2026-11-01"


def test_verifier_and_markov_win_probabilities_beat_stage_on_brier(demo: DemoForecast):
    score = demo.table("win_probability_score").set_index("method")
    assert set(score.index) == {"stage", "verifier", "markov"}
    assert score.loc["verifier", "brier"] < score.loc["stage", "brier"]
    assert score.loc["markov", "brier"] < score.loc["stage", "brier"]
    assert (score["n_deals"] > 100).all()
    # the time split: learnt before the cut-off, scored after it
    assert (pd.to_datetime(score["train_cutoff"]) < pd.Timestamp(DS)).all()


def test_win_probability_for_every_open_opportunity(demo: DemoForecast):
    wp = demo.table("opportunity_win_probability")
    open_ids = demo.marts("select opportunity_id from marts.fct_opportunity where not is_closed")
    assert set(wp["opportunity_id"]) == set(open_ids["opportunity_id"])
    for col in ("p_stage", "p_verifier", "p_markov", "p_win"):
        assert wp[col].between(0, 1).all(), col
    assert (wp["expected_days_to_close"].dropna() > 0).all()
    assert (pd.to_datetime(wp["expected_close_date"].dropna()) > pd.Timestamp(DS)).all()
    assert wp["p_verifier"].std() > wp["p_stage"].std() / 2  # the verifier vector separates


def test_pipeline_forecast_sums_the_open_deals(demo: DemoForecast):
    pf = demo.table("pipeline_forecast")
    wp = demo.table("opportunity_win_probability")
    assert len(pf) == 6  # current and next quarter x three methods
    assert [str(q)[:10] for q in sorted(pf["quarter_start"].unique())] == ["2026-10-01",
                                                                          "2027-01-01"]
    assert pf["is_primary"].sum() == 2
    close = pd.to_datetime(wp["close_date"]).clip(lower=pd.Timestamp(DS))
    current = wp[close < pd.Timestamp("2027-01-01")]
    row = pf[(pf["quarter_start"].astype(str).str[:10] == "2026-10-01")
             & (pf["method"] == "markov")].iloc[0]
    assert row["n_open"] == len(current)
    p = current["p_markov"].to_numpy()
    a = current["amount"].to_numpy()
    assert np.isclose(row["expected"], np.sum(a * p))
    assert np.isclose(row["variance"], np.sum(a ** 2 * p * (1 - p)))
    assert row["p10"] < row["expected"] < row["p90"]
    assert row["closed_won_to_date"] > 0


def test_forecast_runs_are_reproducible(demo: DemoForecast):
    for name in RELATIONS:
        if name == "forecast_snapshot":
            continue
        a = demo.table(name, demo.first["version"]).drop(columns="run_id")
        b = demo.table(name, demo.second["version"]).drop(columns="run_id")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, obj=name)


def test_rerun_for_the_same_date_replaces_its_snapshot_rows(demo: DemoForecast):
    snap = demo.table("forecast_snapshot")
    rf = demo.table("revenue_forecast")
    assert len(snap) == len(rf)
    assert set(snap["run_id"]) == {demo.second["version"]}
    first = demo.table("forecast_snapshot", demo.first["version"])
    assert len(first) == len(rf)


def test_the_job_reports_its_speed(demo: DemoForecast):
    fits = demo.first["prophet_fits"]
    assert fits >= 100
    assert 0 < demo.first["seconds_per_prophet_fit"] < 2.0
    print(f"\nforecast step: {demo.seconds:.1f} s, {fits} Prophet fits, "
          f"{demo.first['seconds_per_prophet_fit']} s per fit")
    # the target is 2 minutes on this 2-core machine; the bound leaves room for a busy machine
    assert demo.seconds < 300
