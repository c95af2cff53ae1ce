"""Reads from the published marts: everything the forecast job needs, in plain frames.

Only the published `marts` schema is read (never a candidate), with SQL that runs on DuckDB and
PostgreSQL alike; the shaping happens in pandas. Column lists are explicit so that marts growing
new columns (they are being extended) change nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from revwh.settings import Settings
from revwh.warehouse import connect

OPPORTUNITY_COLUMNS = ("opportunity_id", "opportunity_type", "segment", "region", "owner_id",
                       "stage_name", "stage_order", "is_closed", "is_won", "amount", "created_at",
                       "close_date", "verifier_score")
DAILY_COLUMNS = ("snapshot_date", "opportunity_id", "stage_name", "stage_order", "is_open",
                 "is_won", "amount", "close_date", "verifier_score")
EVENT_COLUMNS = ("opportunity_id", "verifier_key", "status", "event_date", "event_sequence")
UNASSIGNED = "unassigned"


@dataclass
class MartData:
    """The marts as of one date: opportunities, their daily states, verifier events, the
    verifier-weighted pipeline on month-end snapshots and the verifier catalogue's keys."""

    as_of: pd.Timestamp
    opportunities: pd.DataFrame
    daily: pd.DataFrame
    events: pd.DataFrame
    weighted_pipeline: pd.DataFrame
    verifiers: list[str]


def _cols(cols) -> str:
    return ", ".join(cols)


def load(settings: Settings, as_of: str) -> MartData:
    """Read the published marts. Rows dated after `as_of` are ignored (a rerun for an earlier
    date sees what was known then, as far as the marts keep history)."""
    as_of_ts = pd.Timestamp(as_of)
    with connect(settings, read_only=True) as con:
        opps = con.df(f"select {_cols(OPPORTUNITY_COLUMNS)} from marts.fct_opportunity "
                      "where created_at < cast(? as date) + 1", [as_of])
        daily = con.df(f"select {_cols(DAILY_COLUMNS)} from marts.fct_opportunity_daily "
                       "where snapshot_date <= cast(? as date)", [as_of])
        events = con.df(f"select {_cols(EVENT_COLUMNS)} from marts.fct_verifier_event "
                        "where event_date <= cast(? as date)", [as_of])
        # verifier-weighted open pipeline on month-end snapshots (the pipeline regressor)
        pipe = con.df(
            "select v.snapshot_date, v.opportunity_id, v.verifier_weighted_pipeline as weighted, "
            "d.close_date from marts.opportunity_verifier_score as v "
            "inner join marts.fct_opportunity_daily as d "
            "on d.opportunity_id = v.opportunity_id and d.snapshot_date = v.snapshot_date "
            "where v.is_open and v.snapshot_date <= cast(? as date) "
            "and extract(day from cast(v.snapshot_date + 1 as date)) = 1", [as_of])
        verifiers = [r[0] for r in con.execute(
            "select distinct verifier_key from marts.fct_verifier_event order by 1")]
    return MartData(as_of=as_of_ts, opportunities=_opportunities(opps), daily=_daily(daily),
                    events=_events(events), weighted_pipeline=_pipeline(pipe, opps),
                    verifiers=verifiers)


def from_frames(as_of, opportunities: pd.DataFrame, daily: pd.DataFrame | None = None,
                events: pd.DataFrame | None = None, pipeline: pd.DataFrame | None = None,
                verifiers: list[str] | tuple = ()) -> MartData:
    """MartData from frames shaped like the marts' columns (hand-made data in tests, or
    another source); missing frames are empty."""
    def empty(cols):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})

    daily = empty(DAILY_COLUMNS) if daily is None else daily
    events = empty(EVENT_COLUMNS) if events is None else events
    pipeline = empty(("snapshot_date", "opportunity_id", "weighted", "close_date")) \
        if pipeline is None else pipeline
    return MartData(as_of=pd.Timestamp(as_of), opportunities=_opportunities(opportunities),
                    daily=_daily(daily), events=_events(events),
                    weighted_pipeline=_pipeline(pipeline, opportunities),
                    verifiers=list(verifiers))


def _opportunities(opps: pd.DataFrame) -> pd.DataFrame:
    opps = opps.copy()
    for col in ("segment", "region"):
        opps[col] = opps[col].fillna("Unknown").astype(str)
    opps["owner_id"] = opps["owner_id"].fillna(UNASSIGNED).astype(str)
    opps["opportunity_type"] = opps["opportunity_type"].fillna("Unknown").astype(str)
    opps["amount"] = pd.to_numeric(opps["amount"], errors="coerce").fillna(0.0).astype(float)
    opps["created_at"] = pd.to_datetime(opps["created_at"])
    opps["close_date"] = pd.to_datetime(opps["close_date"])
    for col in ("is_closed", "is_won"):
        opps[col] = opps[col].astype("boolean").fillna(False).astype(bool)
    opps["verifier_score"] = pd.to_numeric(opps["verifier_score"]).fillna(0.0).astype(float)
    return opps.sort_values("opportunity_id", kind="stable").reset_index(drop=True)


def _daily(daily: pd.DataFrame) -> pd.DataFrame:
    daily = daily.copy()
    daily["snapshot_date"] = pd.to_datetime(daily["snapshot_date"])
    daily["close_date"] = pd.to_datetime(daily["close_date"])
    daily["amount"] = pd.to_numeric(daily["amount"]).fillna(0.0).astype(float)
    daily["verifier_score"] = pd.to_numeric(daily["verifier_score"]).fillna(0.0).astype(float)
    for col in ("is_open", "is_won"):
        daily[col] = daily[col].astype("boolean").fillna(False).astype(bool)
    daily["stage_name"] = daily["stage_name"].astype(object)
    return daily.sort_values(["opportunity_id", "snapshot_date"], kind="stable").reset_index(
        drop=True)


def _events(events: pd.DataFrame) -> pd.DataFrame:
    events = events.copy()
    events["event_date"] = pd.to_datetime(events["event_date"])
    events["event_sequence"] = pd.to_numeric(events["event_sequence"])
    return events.sort_values(["opportunity_id", "verifier_key", "event_sequence"],
                              kind="stable").reset_index(drop=True)


def _pipeline(pipe: pd.DataFrame, opps: pd.DataFrame) -> pd.DataFrame:
    """One row per month-end snapshot x open opportunity: weighted amount, close month and the
    opportunity's hierarchy keys."""
    pipe = pipe.copy()
    pipe["snapshot_date"] = pd.to_datetime(pipe["snapshot_date"])
    pipe["close_date"] = pd.to_datetime(pipe["close_date"])
    pipe["weighted"] = pd.to_numeric(pipe["weighted"]).fillna(0.0).astype(float)
    keys = _opportunities(opps)[["opportunity_id", "segment", "region", "owner_id"]]
    return pipe.merge(keys, on="opportunity_id", how="inner")
