"""Pieces every page uses: section headers that say when their data was published, the notes
for missing or empty data, the warehouse-state banners, number formats."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from revwh.dashboard.data import Published
from revwh.settings import Settings


def section(title: str, published: Published, kind: str, *notes: str) -> None:
    """A chart's header and caption: which published version it shows, what it shows and
    which filters apply."""
    st.subheader(title)
    release = published.release(kind)
    stamp = (f"published {release.published_at:%Y-%m-%d %H:%M} UTC ({release.version}, "
             f"data as of {release.logical_date:%Y-%m-%d})" if release else "not published")
    st.caption(" · ".join([stamp, *(n for n in notes if n)]))


def available(published: Published, *relations: str) -> bool:
    """True when every relation is published; otherwise say which are not (yet)."""
    missing = published.missing(*relations)
    if missing:
        st.info(f"Not published yet: {', '.join(missing)}. This section fills in after the "
                "next nightly run that publishes it.")
    return not missing


def has_rows(frame: pd.DataFrame) -> bool:
    if frame.empty:
        st.info("No rows for these filters: widen the period or clear a filter.")
    return not frame.empty


def money(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "–"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def source(settings: Settings) -> str:
    return (str(settings.published_path) if settings.target == "duckdb"
            else "the PostgreSQL warehouse")


def empty_warehouse(settings: Settings) -> None:
    st.title("RevOps dashboard")
    st.warning(f"The warehouse is empty: nothing has been published yet ({source(settings)}). Run "
               "`revwh demo` for demo data or `revwh run --date YYYY-MM-DD`, then reload.")


def freshness(published: Published, stale_hours: float) -> None:
    """A banner when the newest publish is older than `stale_hours`."""
    age = published.hours_since_publish()
    if age > stale_hours:
        newest = max(r.published_at for r in published.releases)
        st.warning(f"The data is stale: the last publish was {age:,.0f} hours ago "
                   f"({newest:%Y-%m-%d %H:%M} UTC), more than the {stale_hours:g} hours allowed "
                   "(setting dashboard_stale_hours). Check the nightly run (`revwh status`).")
