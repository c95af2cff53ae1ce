"""The sidebar filters (period, segment, region, rep) and the SQL conditions they make.

Marts differ in the dimensions they carry: a relation filters on its own columns where it has
them, through `marts.fct_opportunity` where it has an opportunity or owner id, and otherwise the
filter does not apply (every chart's caption says which filters did)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import streamlit as st

from revwh.dashboard.data import Published

DIMENSIONS = ("segment", "region", "rep")
OPPORTUNITY_COLUMN = {"segment": "segment", "region": "region", "rep": "owner_id"}


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    segment: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    rep: tuple[str, ...] = ()  # owner ids

    def chosen(self) -> list[str]:
        return [d for d in DIMENSIONS if getattr(self, d)]

    def where(self, *, period: str | None = None, segment: str | None = None,
              region: str | None = None, rep: str | None = None,
              opportunity: str | None = None, owner: str | None = None) -> Condition:
        """The conditions for a relation's columns: `period` a date column, `segment`,
        `region`, `rep` its own dimension columns, `opportunity` an opportunity id and `owner`
        a rep id, through which the other chosen dimensions filter (for `owner`: the reps who
        own opportunities in the chosen segments and regions)."""
        conditions: list[str] = []
        params: list = []
        if period:
            conditions.append(f"{period} between ? and ?")
            params += [self.start, self.end]
        own = {"segment": segment, "region": region, "rep": rep or owner}
        for dim, column in own.items():
            if column and getattr(self, dim):
                conditions.append(_in(column, getattr(self, dim), params))
        rest = [d for d in self.chosen() if not own[d]]
        via, key = (opportunity, "opportunity_id") if opportunity else (owner, "owner_id")
        if via and rest:
            inner = " and ".join(_in(OPPORTUNITY_COLUMN[d], getattr(self, d), params)
                                 for d in rest)
            conditions.append(f"{via} in (select {key} from marts.fct_opportunity where {inner})")
        ignored = [] if via else rest
        parts = [f"period {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"] if period else []
        applied = [d for d in self.chosen() if d not in ignored]
        if applied:
            parts.append("filtered by " + ", ".join(applied))
        if ignored:
            parts.append(f"{' and '.join(ignored)} filter{'s' * (len(ignored) > 1)} "
                         "not applicable (no such column)")
        return Condition(" and ".join(conditions) or "true", params, " · ".join(parts))


@dataclass(frozen=True)
class Condition:
    """A SQL condition with `?` parameters, and the caption text saying what it filters."""

    sql: str
    params: list
    scope: str


def _in(column: str, values: tuple[str, ...], params: list) -> str:
    params += list(values)
    return f"{column} in ({', '.join('?' * len(values))})"


def default_period(as_of: date, horizon_months: int) -> tuple[date, date]:
    """The last four quarters, the current one and the forecast horizon."""
    start = quarter_start(as_of)
    return date(start.year - 1, start.month, 1), add_months(as_of, horizon_months) - timedelta(1)


def sidebar(published: Published) -> Filters:
    options = published.frame("select distinct segment, region from marts.fct_opportunity")
    names = rep_names(published)
    start, end = default_period(published.as_of, published.settings.forecast_horizon_months)
    with st.sidebar:
        st.header("Filters")
        period = st.date_input("Period", value=(start, end), key="period")
        segment = st.multiselect("Segment", sorted(options["segment"].dropna().unique()),
                                 placeholder="all segments", key="segment")
        region = st.multiselect("Region", sorted(options["region"].dropna().unique()),
                                placeholder="all regions", key="region")
        rep = st.multiselect("Rep", sorted(names, key=lambda k: names[k]),
                             format_func=lambda k: names[k], placeholder="all reps", key="rep")
    # a range being picked has one end only until the second click: keep the default end
    chosen = tuple(period) if isinstance(period, (tuple, list)) else (period,)
    first = chosen[0] if chosen else start
    last = chosen[1] if len(chosen) > 1 else end
    return Filters(first, last, tuple(segment), tuple(region), tuple(rep))


def rep_names(published: Published) -> dict[str, str]:
    """Rep display names by owner id, from the opportunities."""
    frame = published.frame("select distinct owner_id, coalesce(owner_name, owner_id) as name "
                            "from marts.fct_opportunity")
    return dict(zip(frame["owner_id"], frame["name"]))
