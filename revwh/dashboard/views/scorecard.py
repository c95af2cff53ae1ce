"""The rep scorecard (rep_scorecard, being built)."""

from __future__ import annotations

import streamlit as st

from revwh.dashboard import ui
from revwh.dashboard.data import Published
from revwh.dashboard.filters import Filters

TITLE = "Rep scorecard"
URL = "scorecard"


def render(published: Published, filters: Filters) -> None:
    st.title(TITLE)
    ui.available(published, "marts.rep_scorecard")
