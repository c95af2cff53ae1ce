"""Win/loss: which patterns (rules over SPICED fields, stakeholders, verifiers, response times)
win more or less often than the base rate, with Wilson 95% intervals; win rates by cut; and the
reasons recorded on closed deals."""

from __future__ import annotations

import altair as alt
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Filters, quarter_start

TITLE = "Win/loss"
URL = "win-loss"

ALL_TIME = "all time"
CUTS = {"segment": "segment", "lead source": "lead_source", "rep": "owner"}


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if ui.available(published, "marts.win_loss_patterns"):
        _patterns(published, filters)
    if ui.available(published, "marts.win_rate"):
        _win_rates(published, filters)
    if ui.available(published, "marts.fct_win_loss"):
        _reasons(published, filters)


def _patterns(published: Published, filters: Filters) -> None:
    quarters = published.frame(
        "select distinct quarter from marts.win_loss_patterns where quarter_start between ? "
        "and ? order by 1 desc", [quarter_start(filters.start), filters.end])
    quarter = st.selectbox("Patterns over", [ALL_TIME, *quarters["quarter"]], key="wl_quarter")
    rows = published.frame(
        "select rule_id, description, closed, won, win_rate, base_rate, lift, wilson_lower, "
        "wilson_upper, interval_excludes_base_rate from marts.win_loss_patterns "
        "where quarter = ? and closed > 0 order by lift desc",
        ["all" if quarter == ALL_TIME else quarter])
    ui.section("Win-rate patterns with Wilson 95% intervals", published, "marts",
               f"closed new-business deals, {quarter}, company-wide (segment, region and rep "
               "filters do not apply) · the line is the base rate; a rule is marked when its "
               "interval excludes it")
    if not ui.has_rows(rows):
        return
    rows["significant"] = rows["interval_excludes_base_rate"].map(
        {True: "interval excludes base rate", False: "within noise"})
    order = list(rows["rule_id"])
    base = alt.Chart(rows).encode(y=alt.Y("rule_id:N", sort=order, title=None,
                                          axis=alt.Axis(labelLimit=320)))
    tooltip = ["rule_id", "description", "closed", "won",
               alt.Tooltip("win_rate:Q", format=".1%"), alt.Tooltip("base_rate:Q", format=".1%"),
               alt.Tooltip("lift:Q", format=".2f"), alt.Tooltip("wilson_lower:Q", format=".1%"),
               alt.Tooltip("wilson_upper:Q", format=".1%")]
    intervals = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("wilson_lower:Q", title="win rate", axis=alt.Axis(format="%")),
        x2="wilson_upper:Q", tooltip=tooltip,
        color=alt.Color("significant:N", title=None, scale=alt.Scale(
            domain=["interval excludes base rate", "within noise"],
            range=["#e45756", "#9ecae9"])))
    points = base.mark_point(filled=True, size=60).encode(
        x="win_rate:Q", color="significant:N", tooltip=tooltip)
    rate = alt.Chart(rows.head(1)).mark_rule(strokeDash=[4, 3], color="gray").encode(
        x="base_rate:Q")
    st.altair_chart((intervals + points + rate).properties(height=22 * len(rows) + 40))


def _win_rates(published: Published, filters: Filters) -> None:
    by = st.radio("Win rate by", list(CUTS), horizontal=True, key="wl_cut")
    # the cut's values are segments or reps: those filters apply to this chart
    own = {"segment": {"segment": "dimension_value"}, "owner": {"rep": "dimension_value"}}
    cond = filters.where(period="quarter_start", **own.get(CUTS[by], {}))
    # won ÷ closed summed over the quarters in the period stays exact
    rows = published.frame(
        "select dimension_label as value, sum(closed) as closed, sum(won) as won, "
        "cast(sum(won) as double precision) / sum(closed) as by_count, "
        "sum(won_amount) / nullif(sum(closed_amount), 0) as by_amount "
        "from marts.win_rate where dimension = ? and opportunity_type = 'all' "
        f"and quarter <> 'all' and {cond.sql} group by 1 order by 1", [CUTS[by], *cond.params])
    ui.section(f"Win rate by {by}, by count and by amount", published, "marts",
               "closed deals, quarters of close starting in the period", cond.scope)
    if not ui.has_rows(rows):
        return
    long = rows.melt(id_vars=["value", "closed", "won"], value_vars=["by_count", "by_amount"],
                     var_name="measure", value_name="win_rate")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        y=alt.Y("value:N", title=None), yOffset="measure:N",
        x=alt.X("win_rate:Q", title="win rate", axis=alt.Axis(format="%")),
        color=alt.Color("measure:N", title=None),
        tooltip=["value", "measure", "closed", "won", alt.Tooltip("win_rate:Q", format=".1%")])
        .properties(height=44 * len(rows) + 40))


def _reasons(published: Published, filters: Filters) -> None:
    cond = filters.where(period="close_date", segment="segment", region="region", rep="owner_id")
    rows = published.frame(
        "select coalesce(win_loss_reason, '(none recorded)') as reason, outcome, "
        f"count(*) as deals, sum(amount) as amount from marts.fct_win_loss where {cond.sql} "
        "group by 1, 2 order by 3 desc", cond.params)
    ui.section("Recorded win and loss reasons", published, "marts", cond.scope)
    if not ui.has_rows(rows):
        return
    st.altair_chart(alt.Chart(rows).mark_bar().encode(
        y=alt.Y("reason:N", sort="-x", title=None), x=alt.X("deals:Q", title="closed deals"),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["won", "lost"],
                                                     range=["#54a24b", "#e45756"])),
        tooltip=["reason", "outcome", "deals", alt.Tooltip("amount:Q", format=",.0f")])
        .properties(height=26 * rows["reason"].nunique() + 40))
