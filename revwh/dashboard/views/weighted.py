"""Stage-weighted and verifier-weighted pipeline side by side: amount × the CRM stage's
probability against amount × the calibrated p(win | verifiers verified)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Filters, quarter_label, rep_names

TITLE = "Stage vs verifier weighted"
URL = "weighted"

GROUPS = {"close quarter": "cast(date_trunc('quarter', o.close_date) as date)",
          "segment": "o.segment", "region": "o.region", "rep": "o.owner_id"}
MEASURES = {"open_amount": "open pipeline", "stage_weighted": "stage-weighted",
            "verifier_weighted": "verifier-weighted"}
LATEST = "(select max(snapshot_date) from marts.opportunity_verifier_score)"


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    if not ui.available(published, "marts.fct_opportunity", "marts.opportunity_verifier_score"):
        return
    _now(published, filters)
    _trend(published, filters)
    _deals(published, filters)


def _now(published: Published, filters: Filters) -> None:
    by = st.radio("Compare by", list(GROUPS), horizontal=True, key="weighted_by")
    cond = filters.where(period="o.close_date", segment="o.segment", region="o.region",
                         rep="o.owner_id")
    frame = published.frame(
        f"select {GROUPS[by]} as grp, sum(o.amount) as open_amount, "
        "sum(o.amount * o.stage_score) as stage_weighted, "
        "sum(v.verifier_weighted_pipeline) as verifier_weighted "
        "from marts.fct_opportunity as o join marts.opportunity_verifier_score as v "
        f"on v.opportunity_id = o.opportunity_id and v.snapshot_date = {LATEST} "
        f"where not o.is_closed and {cond.sql} group by 1 order by 1", cond.params)
    ui.section("Open pipeline now", published, "marts",
               "open deals closing in the period", cond.scope)
    if not ui.has_rows(frame):
        return
    if by == "rep":
        frame["grp"] = frame["grp"].map(rep_names(published)).fillna(frame["grp"])
    elif by == "close quarter":
        frame["grp"] = [quarter_label(pd.Timestamp(d)) for d in frame["grp"]]
    frame["grp"] = frame["grp"].astype(str)
    totals = frame[list(MEASURES)].sum()
    cols = st.columns(3)
    for col, (key, name) in zip(cols, MEASURES.items()):
        col.metric(name.capitalize(), ui.money(totals[key]))
    long = frame.melt(id_vars="grp", value_vars=list(MEASURES), var_name="measure")
    long["measure"] = long["measure"].map(MEASURES)
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("grp:N", title=by, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("measure:N", sort=list(MEASURES.values())),
        y=alt.Y("value:Q", title="amount"),
        color=alt.Color("measure:N", title=None, sort=list(MEASURES.values())),
        tooltip=["grp", "measure", alt.Tooltip("value:Q", format=",.0f")]).properties(height=320))


def _trend(published: Published, filters: Filters) -> None:
    cond = filters.where(period="d.snapshot_date", opportunity="d.opportunity_id")
    frame = published.frame(
        "select d.snapshot_date, sum(d.amount * d.stage_score) as stage_weighted, "
        "sum(v.verifier_weighted_pipeline) as verifier_weighted "
        "from marts.fct_opportunity_daily as d join marts.opportunity_verifier_score as v "
        "on v.opportunity_id = d.opportunity_id and v.snapshot_date = d.snapshot_date "
        f"where d.is_open and (extract(day from cast(d.snapshot_date + 1 as date)) = 1 "
        f"or d.snapshot_date = {LATEST}) and {cond.sql} group by 1 order by 1", cond.params)
    ui.section("Weighted pipeline at each month end", published, "marts", cond.scope)
    if not ui.has_rows(frame):
        return
    long = frame.melt(id_vars="snapshot_date", var_name="measure")
    long["measure"] = long["measure"].map(MEASURES)
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("snapshot_date:T", title=None), y=alt.Y("value:Q", title="amount"),
        color=alt.Color("measure:N", title=None),
        tooltip=["measure", alt.Tooltip("snapshot_date:T"),
                 alt.Tooltip("value:Q", format=",.0f")]).properties(height=280))


def _deals(published: Published, filters: Filters) -> None:
    cond = filters.where(period="o.close_date", segment="o.segment", region="o.region",
                         rep="o.owner_id")
    frame = published.frame(
        "select o.opportunity_name, o.owner_id, o.stage_name, o.close_date, o.amount, "
        "o.stage_score, v.verifier_score, v.p_win_verifiers "
        "from marts.fct_opportunity as o join marts.opportunity_verifier_score as v "
        f"on v.opportunity_id = o.opportunity_id and v.snapshot_date = {LATEST} "
        f"where not o.is_closed and {cond.sql} "
        "order by abs(o.stage_score - v.p_win_verifiers) * o.amount desc limit 25", cond.params)
    ui.section("Where stage and verifiers disagree most", published, "marts",
               "open deals, largest |stage probability − p(win | verifiers)| × amount",
               cond.scope)
    if not ui.has_rows(frame):
        return
    frame["owner_id"] = frame["owner_id"].map(rep_names(published)).fillna(frame["owner_id"])
    st.dataframe(frame.rename(columns={"owner_id": "rep"}), hide_index=True, column_config={
        "opportunity_name": "opportunity", "stage_name": "stage",
        "close_date": st.column_config.DateColumn("close date", format="YYYY-MM-DD"),
        "amount": st.column_config.NumberColumn(format="%,.0f"),
        "stage_score": st.column_config.NumberColumn("stage p", format="percent"),
        "verifier_score": st.column_config.NumberColumn("verifier score", format="%.2f"),
        "p_win_verifiers": st.column_config.NumberColumn("p(win | verifiers)",
                                                         format="percent")})
