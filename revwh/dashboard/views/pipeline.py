"""Pipeline for a quarter (the current one by default): the waterfall from the quarter's start
to its end, week by week, and coverage of the remaining quota per rep."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Filters, quarter_label, quarter_start, rep_names

TITLE = "Pipeline"
URL = "pipeline"

# the waterfall's movements in order, with the sign they move the pipeline by
STEPS = (("created", 1), ("pulled in", 1), ("pushed out", -1), ("won", -1), ("lost", -1),
         ("amount changes", 1))


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if not ui.available(published, "marts.pipeline_waterfall", "marts.pipeline_coverage"):
        return
    quarter = _pick_quarter(published, filters)
    if quarter is None:
        return
    _waterfall(published, quarter)
    _coverage(published, filters, quarter)


def _pick_quarter(published: Published, filters: Filters) -> date | None:
    quarters = published.frame(
        "select distinct period_start from marts.pipeline_waterfall "
        "where period_start between ? and ? order by 1",
        [quarter_start(filters.start), filters.end])
    if not ui.has_rows(quarters):
        return None
    options = [pd.Timestamp(q).date() for q in quarters["period_start"]]
    current = quarter_start(published.as_of)
    return st.selectbox("Quarter", options, format_func=quarter_label,
                        index=options.index(current) if current in options else len(options) - 1,
                        key="pipeline_quarter")


def _waterfall(published: Published, quarter: date) -> None:
    weeks = published.frame(
        "select week_start, start_amount, created_amount, pulled_in_amount, pushed_out_amount, "
        "won_amount, lost_amount, amount_change, end_amount, end_count, slip_rate "
        "from marts.pipeline_waterfall where period_start = ? order by week_start", [quarter])
    ui.section(f"Waterfall, {quarter_label(quarter)}", published, "marts",
               "pipeline closing in the quarter, company-wide (the waterfall mart has no "
               "segment, region or rep)")
    if not ui.has_rows(weeks):
        return
    moves = weeks[["created_amount", "pulled_in_amount", "pushed_out_amount", "won_amount",
                   "lost_amount", "amount_change"]].sum()
    start, end = float(weeks["start_amount"].iloc[0]), float(weeks["end_amount"].iloc[-1])
    cols = st.columns(4)
    cols[0].metric("Start of tracking", ui.money(start))
    cols[1].metric("Now / end", ui.money(end), ui.money(end - start))
    cols[2].metric("Won", ui.money(moves["won_amount"]))
    cols[3].metric("Pushed out (slipped)", ui.money(moves["pushed_out_amount"]))
    st.altair_chart(_waterfall_chart(start, end, moves.tolist()))
    st.altair_chart(alt.Chart(weeks).mark_area(opacity=0.5).encode(
        x=alt.X("week_start:T", title="week"), y=alt.Y("end_amount:Q", title="open pipeline"),
        tooltip=[alt.Tooltip("week_start:T"), alt.Tooltip("end_amount:Q", format=",.0f"),
                 "end_count", alt.Tooltip("slip_rate:Q", format=".1%")]).properties(height=200))


def _waterfall_chart(start: float, end: float, moves: list[float]) -> alt.Chart:
    rows, level = [{"step": "start", "low": 0.0, "high": start, "kind": "total"}], start
    for (name, sign), amount in zip(STEPS, moves):
        after = level + sign * amount
        rows.append({"step": name, "low": min(level, after), "high": max(level, after),
                     "kind": "up" if after >= level else "down"})
        level = after
    rows.append({"step": "end", "low": 0.0, "high": end, "kind": "total"})
    frame = pd.DataFrame(rows).assign(amount=lambda f: f["high"] - f["low"])
    order = [r["step"] for r in rows]
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("low:Q", title="pipeline amount"), y2="high:Q",
        color=alt.Color("kind:N", title=None, scale=alt.Scale(
            domain=["total", "up", "down"], range=["#4c78a8", "#54a24b", "#e45756"])),
        tooltip=["step", alt.Tooltip("amount:Q", format=",.0f")]).properties(height=320)


def _coverage(published: Published, filters: Filters, quarter: date) -> None:
    cond = filters.where(owner="owner_id")
    rows = published.frame(
        "select owner_id, quota, closed_won, open_pipeline, remaining_quota, coverage, "
        "avg_deal_size, win_rate, deals_needed from marts.pipeline_coverage "
        "where period_start = ? and as_of_date = (select max(as_of_date) from "
        f"marts.pipeline_coverage) and {cond.sql} order by coverage", [quarter, *cond.params])
    ui.section(f"Coverage, {quarter_label(quarter)}", published, "marts",
               "open pipeline closing in the quarter ÷ (quota − closed won)", cond.scope)
    if not ui.has_rows(rows):
        return
    rows["rep"] = rows["owner_id"].map(rep_names(published)).fillna(rows["owner_id"])
    total = rows[["quota", "closed_won", "open_pipeline", "remaining_quota"]].sum()
    cols = st.columns(4)
    cols[0].metric("Quota", ui.money(total["quota"]))
    cols[1].metric("Closed won", ui.money(total["closed_won"]))
    cols[2].metric("Open pipeline", ui.money(total["open_pipeline"]))
    cols[3].metric("Coverage", f"{total['open_pipeline'] / max(total['remaining_quota'], 1):.2f}×")
    bars = alt.Chart(rows).mark_bar().encode(
        y=alt.Y("rep:N", sort="-x", title=None), x=alt.X("coverage:Q", title="coverage (×)"),
        tooltip=["rep", alt.Tooltip("coverage:Q", format=".2f"),
                 alt.Tooltip("open_pipeline:Q", format=",.0f"),
                 alt.Tooltip("remaining_quota:Q", format=",.0f"),
                 alt.Tooltip("deals_needed:Q", format=".1f")])
    target = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q")
    st.altair_chart((bars + target).properties(height=max(160, 28 * len(rows))))
    st.dataframe(rows[["rep", "quota", "closed_won", "open_pipeline", "coverage", "win_rate",
                       "avg_deal_size", "deals_needed"]], hide_index=True, column_config={
        **{c: st.column_config.NumberColumn(c.replace("_", " "), format="%,.0f")
           for c in ("quota", "closed_won", "open_pipeline", "avg_deal_size")},
        "coverage": st.column_config.NumberColumn(format="%.2f×"),
        "win_rate": st.column_config.NumberColumn("win rate", format="percent"),
        "deals_needed": st.column_config.NumberColumn("deals needed", format="%.1f")})
