"""The rep scorecard: per rep over the period, pipeline created, win rate, cycle length,
verifier velocity, response time and engagement; and one measure month by month."""

from __future__ import annotations

import altair as alt
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Filters

TITLE = "Rep scorecard"
URL = "scorecard"

# rep x month rows over the period: sums, and ratios rebuilt from their parts (medians and
# velocities weighted by what they are made of, as labelled)
PER_REP = """
select coalesce(max(owner_name), owner_id) as rep,
       sum(opportunities_created) as opportunities_created,
       sum(pipeline_created_amount) as pipeline_created,
       sum(closed) as closed, sum(won) as won,
       cast(sum(won) as double precision) / nullif(sum(closed), 0) as win_rate,
       sum(won_amount) as won_amount,
       sum(avg_won_cycle_days * won) / nullif(sum(won), 0) as won_cycle_days,
       sum(verifiers_verified) as verifiers_verified,
       avg(verifier_velocity) as verifier_velocity,
       sum(response_median_hours * buyer_responses) / nullif(sum(buyer_responses), 0)
           as response_hours,
       sum(response_over_24h_share * buyer_responses) / nullif(sum(buyer_responses), 0)
           as over_24h_share,
       sum(emails_outbound) as emails_outbound, sum(emails_inbound) as emails_inbound,
       sum(meetings_held) as meetings_held, sum(stakeholders_engaged) as stakeholders_engaged
from marts.rep_scorecard
where {where}
group by owner_id
order by won_amount desc nulls last
"""

MEASURES = {"pipeline created": "pipeline_created_amount", "won amount": "won_amount",
            "win rate": "win_rate", "verifier velocity": "verifier_velocity",
            "verifiers verified / 30 days": "verified_per_30_days",
            "response time (median hours)": "response_median_hours",
            "meetings held": "meetings_held", "new stakeholders": "stakeholders_engaged"}


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if not ui.available(published, "marts.rep_scorecard"):
        return
    cond = filters.where(period="month_start", owner="owner_id")
    table = published.frame(PER_REP.format(where=cond.sql), cond.params)
    ui.section("Reps over the period", published, "marts",
               "new-business deals", cond.scope)
    if not ui.has_rows(table):
        return
    st.dataframe(table, hide_index=True, column_config={
        "opportunities_created": "opps created", "verifiers_verified": "verifications",
        "emails_outbound": "e-mails out", "emails_inbound": "e-mails in",
        "meetings_held": "meetings", "stakeholders_engaged": "new stakeholders",
        "pipeline_created": st.column_config.NumberColumn("pipeline created", format="%,.0f"),
        "won_amount": st.column_config.NumberColumn("won amount", format="%,.0f"),
        "win_rate": st.column_config.NumberColumn("win rate", format="percent"),
        "won_cycle_days": st.column_config.NumberColumn("won cycle (days)", format="%.0f"),
        "verifier_velocity": st.column_config.NumberColumn(
            "verifier velocity", format="%,.0f", help="mean of the rep's monthly velocity"),
        "response_hours": st.column_config.NumberColumn(
            "answer time (h)", format="%.1f",
            help="monthly medians weighted by the number of answers"),
        "over_24h_share": st.column_config.NumberColumn("answers > 24 h", format="percent")})

    label = st.selectbox("Month by month", list(MEASURES), key="scorecard_measure")
    column = MEASURES[label]
    monthly = published.frame(
        f"select month_start, coalesce(owner_name, owner_id) as rep, {column} as value "
        f"from marts.rep_scorecard where {cond.sql} and {column} is not null order by 1",
        cond.params)
    ui.section(f"{label.capitalize()} by month", published, "marts", cond.scope)
    if not ui.has_rows(monthly):
        return
    st.altair_chart(alt.Chart(monthly).mark_line(point=True).encode(
        x=alt.X("month_start:T", title=None), y=alt.Y("value:Q", title=label),
        color=alt.Color("rep:N", title=None),
        tooltip=["rep", alt.Tooltip("month_start:T", format="%Y-%m"),
                 alt.Tooltip("value:Q", format=",.2f")]).properties(height=320))
