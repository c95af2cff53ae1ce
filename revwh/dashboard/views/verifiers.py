"""Verifiers: where open deals stand on each verifier (status mix), which verifiers lost deals
had in flight, and how long verifiers take from started to verified (cycle times)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Condition, Filters

TITLE = "Verifiers"
URL = "verifiers"

STATUSES = ["verified", "started", "regressed", "none"]
STATUS_COLORS = ["#54a24b", "#f2cf5b", "#e45756", "#bab0ac"]
LABELS = alt.Axis(labelLimit=260)


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    order = _verifier_order(published)
    if ui.available(published, "marts.verifier_status_mix"):
        _status_mix(published, filters, order)
    if ui.available(published, "marts.verifier_cycle_time"):
        _cycle_times(published, filters, order)


def _verifier_order(published: Published) -> list[str]:
    """Verifiers in buying-job order (the order a buyer usually works through them)."""
    if published.missing("marts.fct_verifier_event"):
        return []
    return list(published.frame(
        "select verifier_key, min(buying_job_order) as job from marts.fct_verifier_event "
        "group by 1 order by 2, 1")["verifier_key"])


def _status_mix(published: Published, filters: Filters, order: list[str]) -> None:
    cond = filters.where(period="snapshot_date")
    days = published.frame(f"select max(snapshot_date) as day from marts.verifier_status_mix "
                           f"where {cond.sql} having count(*) > 0", cond.params)
    ui.section("Status mix of open deals", published, "marts",
               "latest snapshot in the period", cond.scope)
    if not ui.has_rows(days):
        return
    latest = days["day"].iloc[0]
    share = st.radio("Share of", ("count", "amount"), horizontal=True, key="mix_share")
    mix = published.frame(
        f"select verifier_key, status, open_{share}_share as share, open_count, open_amount, "
        "lost_in_flight_rate from marts.verifier_status_mix where snapshot_date = ?", [latest])
    st.caption(f"snapshot {latest:%Y-%m-%d}")
    st.altair_chart(alt.Chart(mix).mark_bar().encode(
        y=alt.Y("verifier_key:N", sort=order, title=None, axis=LABELS),
        x=alt.X("share:Q", stack="normalize", title=f"share of open {share}",
                axis=alt.Axis(format="%")),
        color=alt.Color("status:N", scale=alt.Scale(domain=STATUSES, range=STATUS_COLORS)),
        order=alt.Order("status_rank:Q"),
        tooltip=["verifier_key", "status", alt.Tooltip("share:Q", format=".1%"), "open_count",
                 alt.Tooltip("open_amount:Q", format=",.0f")],
    ).transform_calculate(status_rank=f"indexof({STATUSES}, datum.status)")
        .properties(height=30 * max(len(order), 4)))

    trend = published.frame(
        "select snapshot_date, verifier_key, sum(case when status = 'verified' "
        f"then open_{share}_share else 0 end) as verified_share from marts.verifier_status_mix "
        f"where {cond.sql} group by 1, 2", cond.params)
    st.altair_chart(alt.Chart(trend).mark_rect().encode(
        x=alt.X("yearmonth(snapshot_date):O", title=None),
        y=alt.Y("verifier_key:N", sort=order, title=None, axis=LABELS),
        color=alt.Color("verified_share:Q", title="verified", scale=alt.Scale(scheme="greens"),
                        legend=alt.Legend(format="%")),
        tooltip=[alt.Tooltip("snapshot_date:T"), "verifier_key",
                 alt.Tooltip("verified_share:Q", format=".1%")]).properties(
        height=30 * max(len(order), 4), title="verified share of open deals over time"))

    lost = mix.groupby("verifier_key", as_index=False)["lost_in_flight_rate"].max()
    st.altair_chart(alt.Chart(lost).mark_bar(color="#e45756").encode(
        y=alt.Y("verifier_key:N", sort=order, title=None, axis=LABELS),
        x=alt.X("lost_in_flight_rate:Q", title="lost deals with this verifier in flight",
                axis=alt.Axis(format="%")),
        tooltip=["verifier_key", alt.Tooltip("lost_in_flight_rate:Q", format=".1%")])
        .properties(height=30 * max(len(order), 4)))


def _cycle_times(published: Published, filters: Filters, order: list[str]) -> None:
    cond = filters.where(period="quarter_start", segment="segment")
    by_quarter = _cycle_query(published, cond, "verifier_key, quarter_start")
    ui.section("Cycle time: started to verified (days)", published, "marts",
               "per quarter", cond.scope)
    if not ui.has_rows(by_quarter):
        return
    overall = _cycle_query(published, cond, "verifier_key")
    bars = alt.Chart(overall).encode(y=alt.Y("verifier_key:N", sort=order, title=None, axis=LABELS))
    st.altair_chart((bars.mark_bar().encode(x=alt.X("median_days:Q", title="days"),
                                            tooltip=["verifier_key", "cycles",
                                                     alt.Tooltip("median_days:Q", format=".1f"),
                                                     alt.Tooltip("p80_days:Q", format=".1f")])
                     + bars.mark_tick(color="black", thickness=2).encode(x="p80_days:Q"))
                    .properties(height=30 * max(len(order), 4),
                                title="median (bar) and p80 (tick) over the period"))
    st.altair_chart(alt.Chart(by_quarter).mark_line(point=True).encode(
        x=alt.X("quarter_start:T", title=None), y=alt.Y("median_days:Q", title="median days"),
        color=alt.Color("verifier_key:N", sort=order, title=None),
        tooltip=["verifier_key", alt.Tooltip("quarter_start:T"), "cycles",
                 alt.Tooltip("median_days:Q", format=".1f")]).properties(height=300))


def _cycle_query(published: Published, cond: Condition, by: str) -> pd.DataFrame:
    """Cycle-time figures per `by`; across quarters or segments, the mean of the mart's
    figures weighted by their cycles (medians do not add up exactly)."""
    return published.frame(
        f"select {by}, sum(cycles) as cycles, sum(median_days * cycles) / sum(cycles) "
        "as median_days, sum(p80_days * cycles) / sum(cycles) as p80_days "
        f"from marts.verifier_cycle_time where {cond.sql} group by {by} order by {by}",
        cond.params)
