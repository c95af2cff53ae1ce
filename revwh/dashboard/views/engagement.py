"""Engagement and response times: e-mails and meetings on open deals over time, how fast reps
answer buyers (and buyers reps), human vs digital touches by journey phase, and how many buyer
stakeholders the deals engaged (multithreading) by outcome."""

from __future__ import annotations

import altair as alt
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Condition, Filters

TITLE = "Engagement"
URL = "engagement"

TOUCHES = {"emails_inbound": "e-mails from buyers", "emails_outbound": "e-mails to buyers",
           "meetings_held": "meetings held"}
MONTH = "cast(date_trunc('month', e.week_start) as date)"


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if not ui.available(published, "marts.opportunity_engagement"):
        return
    cond = filters.where(period="e.week_start", rep="e.owner_id", opportunity="e.opportunity_id")
    _touches(published, cond)
    _response_times(published, cond)
    _phases(published, cond)
    _stakeholders(published, cond)


def _touches(published: Published, cond: Condition) -> None:
    frame = published.frame(
        f"select {MONTH} as month, sum(e.emails_inbound) as emails_inbound, "
        "sum(e.emails_outbound) as emails_outbound, sum(e.meetings_held) as meetings_held "
        f"from marts.opportunity_engagement as e where {cond.sql} group by 1 order by 1",
        cond.params)
    ui.section("E-mails and meetings per month", published, "marts",
               "activity matched to opportunities", cond.scope)
    if not ui.has_rows(frame):
        return
    long = frame.melt(id_vars="month", var_name="touch", value_name="count")
    long["touch"] = long["touch"].map(TOUCHES)
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("yearmonth(month):O", title=None), y=alt.Y("count:Q", title="touches"),
        color=alt.Color("touch:N", title=None),
        tooltip=["touch", alt.Tooltip("month:T", format="%Y-%m"), "count"]).properties(height=280))


def _response_times(published: Published, cond: Condition) -> None:
    # medians do not add up: a month shows its weeks' medians weighted by their responses;
    # the share over 24 h weighted the same way is exact
    frame = published.frame(
        f"select {MONTH} as month, "
        "sum(e.buyer_to_rep_median_hours * e.buyer_to_rep_responses) "
        "/ nullif(sum(e.buyer_to_rep_responses), 0) as buyer_to_rep_hours, "
        "sum(e.rep_to_buyer_median_hours * e.rep_to_buyer_responses) "
        "/ nullif(sum(e.rep_to_buyer_responses), 0) as rep_to_buyer_hours, "
        "sum(e.buyer_to_rep_over_24h_share * e.buyer_to_rep_responses) "
        "/ nullif(sum(e.buyer_to_rep_responses), 0) as over_24h_share, "
        "sum(e.buyer_to_rep_responses) as responses, "
        "sum(e.rep_to_buyer_responses) as rep_responses "
        "from marts.opportunity_engagement as e "
        f"where {cond.sql} group by 1 having sum(e.buyer_to_rep_responses) > 0 order by 1",
        cond.params)
    ui.section("Response times (hours)", published, "marts",
               "per month: weekly medians weighted by their answers", cond.scope)
    if not ui.has_rows(frame):
        return
    weighted = "answers' weekly medians weighted by their number"
    answered = frame.dropna(subset=["rep_to_buyer_hours"])
    cols = st.columns(3)
    cols[0].metric("Rep answers a buyer in", f"{_weighted(frame, 'buyer_to_rep_hours'):.1f} h",
                   help=weighted)
    cols[1].metric("Rep answers after 24 h", f"{_weighted(frame, 'over_24h_share'):.0%}")
    buyer = _weighted(answered, "rep_to_buyer_hours", "rep_responses")
    cols[2].metric("Buyer answers a rep in", f"{buyer:.1f} h", help=weighted)
    long = frame.melt(id_vars="month", value_vars=["buyer_to_rep_hours", "rep_to_buyer_hours"],
                      var_name="direction", value_name="hours").dropna()
    long["direction"] = long["direction"].map({"buyer_to_rep_hours": "rep answers buyer",
                                               "rep_to_buyer_hours": "buyer answers rep"})
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("month:T", title=None), y=alt.Y("hours:Q", title="median hours"),
        color=alt.Color("direction:N", title=None),
        tooltip=["direction", alt.Tooltip("month:T", format="%Y-%m"),
                 alt.Tooltip("hours:Q", format=".1f")]).properties(height=260))


def _weighted(frame, column: str, weight: str = "responses") -> float:
    return (frame[column] * frame[weight]).sum() / max(frame[weight].sum(), 1)


def _phases(published: Published, cond: Condition) -> None:
    frame = published.frame(
        "select e.journey_phase, min(e.journey_phase_order) as phase_order, "
        "sum(e.human_touches) as human, sum(e.digital_touches) as digital "
        f"from marts.opportunity_engagement as e where e.journey_phase is not null and "
        f"{cond.sql} group by 1 order by 2", cond.params)
    ui.section("Human vs digital touches by journey phase", published, "marts",
               "journey phase = the deal's CRM stage that week", cond.scope)
    if not ui.has_rows(frame):
        return
    long = frame.melt(id_vars=["journey_phase", "phase_order"], var_name="touch",
                      value_name="count")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("journey_phase:N", sort=list(frame["journey_phase"]), title=None,
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("count:Q", stack="normalize", title="share of touches",
                axis=alt.Axis(format="%")),
        color=alt.Color("touch:N", title=None, scale=alt.Scale(
            domain=["human", "digital"], range=["#f58518", "#4c78a8"])),
        tooltip=["journey_phase", "touch", "count"]).properties(height=280))


def _stakeholders(published: Published, cond: Condition) -> None:
    frame = published.frame(
        "select s.stakeholders, case when o.is_won then 'won' when o.is_closed then 'lost' "
        "else 'open' end as outcome, count(*) as deals from (select e.opportunity_id, "
        "max(e.stakeholders_to_date) as stakeholders from marts.opportunity_engagement as e "
        f"where {cond.sql} group by 1) as s join marts.fct_opportunity as o "
        "on o.opportunity_id = s.opportunity_id group by 1, 2 order by 1", cond.params)
    ui.section("Buyer stakeholders engaged per deal", published, "marts",
               "multithreading: distinct buyer contacts in the deal's matched activity",
               cond.scope)
    if not ui.has_rows(frame):
        return
    st.altair_chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("stakeholders:O", title="stakeholders engaged", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("deals:Q", title="deals"), xOffset="outcome:N",
        color=alt.Color("outcome:N", title=None, scale=alt.Scale(
            domain=["won", "lost", "open"], range=["#54a24b", "#e45756", "#bab0ac"])),
        tooltip=["stakeholders", "outcome", "deals"]).properties(height=260))
