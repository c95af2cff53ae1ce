"""Forecast vs actual: closed-won bookings against the published revenue forecast and its
interval, earlier published forecasts against what happened, and backtest accuracy over time."""

from __future__ import annotations

from dataclasses import replace

import altair as alt
import pandas as pd
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import DIMENSIONS, Filters, rep_names

TITLE = "Forecast vs actual"
URL = "forecast"

# forecast level for a chosen filter, most specific first: (dimension, level, marts column)
LEVELS = (("rep", "owner", "owner_id"), ("segment", "segment", "segment"),
          ("region", "region", "region"))


def _level(filters: Filters) -> tuple[str | None, str, str | None]:
    """The forecast level the filters select: the most specific chosen dimension."""
    for dim, level, column in LEVELS:
        if getattr(filters, dim):
            return dim, level, column
    return None, "company", None


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if not ui.available(published, "forecast.revenue_forecast", "marts.fct_opportunity"):
        return
    dim, level, column = _level(filters)
    grain = st.radio("Grain", ("month", "quarter"), horizontal=True, key="forecast_grain")
    # the forecast exists per level: other dimensions would make the actuals incomparable
    only = replace(filters, **{d: () for d in DIMENSIONS if d != dim})
    values = tuple(getattr(filters, dim)) if dim else ("all",)
    names = rep_names(published) if level == "owner" else {}
    label = {v: names.get(v, v) for v in values}
    note = f"forecast level: {level}" + (
        f" ({', '.join(d for d in filters.chosen() if d != dim)} filter not applicable: forecasts "
        "exist per company, segment, region and rep)" if len(filters.chosen()) > 1 else "")

    actual = _actuals(published, only, grain, column)
    forecast = _forecast(published, filters, level, grain, values)
    ui.section("Bookings: actual and forecast", published, "forecast",
               only.where(period='close_date').scope, note)
    if not ui.has_rows(forecast):
        return
    _headline(forecast, label)
    st.altair_chart(_actual_forecast_chart(actual, forecast, label))

    ui.section("Published forecasts against what happened", published, "forecast",
               only.where(period='period_start').scope, note)
    _snapshots(published, only, level, grain, values, actual, label)

    ui.section("Backtest accuracy over time", published, "forecast",
               f"rolling-origin backtests, {level} level, {grain}ly · lower MASE is better; "
               "below 1 beats the seasonal-naive baseline")
    _backtests(published, level, grain, values)


def _actuals(published: Published, only: Filters, grain: str, column: str | None) -> pd.DataFrame:
    cond = only.where(period="close_date", segment="segment", region="region", rep="owner_id")
    level_value = column or "'all'"
    return published.frame(
        f"select cast(date_trunc('{grain}', close_date) as date) as period_start, "
        f"{level_value} as level_value, sum(amount) as actual "
        f"from marts.fct_opportunity where is_won and {cond.sql} group by 1, 2 order by 1",
        cond.params)


def _forecast(published: Published, filters: Filters, level: str, grain: str,
              values: tuple[str, ...]) -> pd.DataFrame:
    marks = ", ".join("?" * len(values))
    return published.frame(
        "select level_value, period_start, yhat, yhat_lower, yhat_upper, model, interval_width, "
        "backtest_mase, selected_by from forecast.revenue_forecast where level = ? and grain = ? "
        f"and level_value in ({marks}) and period_start between ? and ? order by period_start",
        [level, grain, *values, filters.start, filters.end])


def _headline(forecast: pd.DataFrame, label: dict) -> None:
    first = forecast[forecast["period_start"] == forecast["period_start"].min()]
    total = first[["yhat", "yhat_lower", "yhat_upper"]].sum()
    row = first.iloc[0]
    who = ", ".join(label[v] for v in first["level_value"])
    cols = st.columns(3)
    cols[0].metric(f"Forecast {pd.Timestamp(row['period_start']):%Y-%m} ({who})",
                   ui.money(total["yhat"]))
    cols[1].metric(f"{row['interval_width']:.0%} interval",
                   f"{ui.money(total['yhat_lower'])} – {ui.money(total['yhat_upper'])}")
    cols[2].metric("Backtest MASE", f"{row['backtest_mase']:.2f}",
                   help="mean absolute scaled error of the chosen model in rolling-origin "
                        "backtests; below 1 beats the seasonal-naive baseline")
    st.caption(f"model: {row['model']}, chosen by {row['selected_by']}")


def _actual_forecast_chart(actual: pd.DataFrame, forecast: pd.DataFrame, label: dict) -> alt.Chart:
    long = pd.concat([
        actual.assign(series="actual", value=actual["actual"]),
        forecast.assign(series="forecast", value=forecast["yhat"])])
    long["who"] = long["level_value"].map(label)
    band = forecast.assign(who=forecast["level_value"].map(label))
    x = alt.X("period_start:T", title=None)
    color = alt.Color("who:N", title=None)
    area = alt.Chart(band).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("yhat_lower:Q", title="bookings"), y2="yhat_upper:Q", color=color)
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=x, y="value:Q", color=color,
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  scale=alt.Scale(domain=["actual", "forecast"],
                                                  range=[[1, 0], [5, 3]])),
        tooltip=["who", "series", alt.Tooltip("period_start:T", format="%Y-%m"),
                 alt.Tooltip("value:Q", format=",.0f")])
    return (area + lines).properties(height=340)


def _snapshots(published: Published, only: Filters, level: str, grain: str,
               values: tuple[str, ...], actual: pd.DataFrame, label: dict) -> None:
    if not ui.available(published, "forecast.forecast_snapshot"):
        return
    marks = ", ".join("?" * len(values))
    snap = published.frame(
        "select as_of_date, level_value, period_start, yhat from forecast.forecast_snapshot "
        f"where level = ? and grain = ? and level_value in ({marks}) "
        "and period_start between ? and ?", [level, grain, *values, only.start, only.end])
    if not ui.has_rows(snap):
        return
    snap["forecast made"] = pd.to_datetime(snap["as_of_date"]).dt.strftime("%Y-%m-%d")
    snap["who"] = snap["level_value"].map(label)
    done = snap.merge(actual, on=["level_value", "period_start"], how="inner")
    done = done[pd.to_datetime(done["period_start"]) < pd.Timestamp(published.as_of)]
    x = alt.X("period_start:T", title=None)
    points = alt.Chart(snap).mark_point(filled=True).encode(
        x=x, y=alt.Y("yhat:Q", title="bookings"), color="forecast made:N", shape="who:N",
        tooltip=["forecast made", "who", alt.Tooltip("yhat:Q", format=",.0f")])
    line = alt.Chart(actual.assign(who=actual["level_value"].map(label))).mark_line(
        color="black").encode(x=x, y="actual:Q", detail="who:N")
    st.altair_chart((line + points).properties(height=280))
    if done.empty:
        st.caption("No published forecast has reached a closed period yet: the backtests below "
                   "measure accuracy until then.")
        return
    done["abs_pct_error"] = (done["yhat"] - done["actual"]).abs() / done["actual"].abs()
    st.dataframe(done.groupby("forecast made", as_index=False).agg(
        periods=("period_start", "count"), mean_abs_pct_error=("abs_pct_error", "mean")),
        hide_index=True)


def _backtests(published: Published, level: str, grain: str, values: tuple[str, ...]) -> None:
    if not ui.available(published, "forecast.forecast_backtest", "forecast.forecast_accuracy"):
        return
    marks = ", ".join("?" * len(values))
    by_origin = published.frame(
        "select origin, model, avg(abs(actual - yhat) / nullif(scale, 0)) as mase, "
        "avg(case when actual between lower and upper then 1.0 else 0.0 end) as coverage, "
        "count(*) as n from forecast.forecast_backtest "
        f"where level = ? and grain = ? and level_value in ({marks}) group by 1, 2 order by 1",
        [level, grain, *values])
    if not ui.has_rows(by_origin):
        return
    x = alt.X("origin:T", title="forecast origin")
    base = alt.Chart(by_origin).encode(x=x, color=alt.Color("model:N", title=None),
                                       tooltip=["model", alt.Tooltip("origin:T", format="%Y-%m"),
                                                alt.Tooltip("mase:Q", format=".2f"),
                                                alt.Tooltip("coverage:Q", format=".0%"), "n"])
    left, right = st.columns(2)
    left.altair_chart(base.mark_line(point=True).encode(y=alt.Y("mase:Q", title="MASE"))
                      .properties(height=260))
    right.altair_chart(base.mark_line(point=True).encode(
        y=alt.Y("coverage:Q", title="interval coverage", axis=alt.Axis(format="%")))
        .properties(height=260))
    accuracy = published.frame(
        "select model, horizon, mase, smape, coverage, n from forecast.forecast_accuracy "
        "where level = ? and grain = ? order by model, horizon", [level, grain])
    st.dataframe(accuracy, hide_index=True, column_config={
        "mase": st.column_config.NumberColumn("MASE", format="%.2f"),
        "smape": st.column_config.NumberColumn("sMAPE %", format="%.1f"),
        "coverage": st.column_config.NumberColumn("coverage", format="percent")})
