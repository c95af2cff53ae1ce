"""The Streamlit entrypoint (`revwh dashboard` runs `streamlit run` on this file).

Every rerun reads what is published now (a few milliseconds), shows the warehouse-state
banners, the sidebar filters, and the chosen page."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType

import streamlit as st

from revwh.dashboard import data, filters, ui
from revwh.dashboard.views import PAGES
from revwh.settings import load_settings

REFRESH_EVERY = "60s"


def _page(module: ModuleType, published: data.Published, chosen: filters.Filters) -> st.Page:
    def run() -> None:
        module.render(published, chosen)

    return st.Page(run, title=module.TITLE, url_path=module.URL, default=module is PAGES[0])


@st.fragment(run_every=REFRESH_EVERY)
def _follow(token: str) -> None:
    """Rerun the app when a new publish lands, so an open dashboard follows the nightly run."""
    now = data.published(load_settings())
    if now is None or now.token != token:
        st.rerun(scope="app")


def main() -> None:
    st.set_page_config(page_title="revwh RevOps", layout="wide")
    settings = load_settings()
    published = data.published(settings)
    if published is None:
        ui.empty_warehouse(settings)
        return
    ui.freshness(published, settings.dashboard_stale_hours)
    chosen = filters.sidebar(published)
    page = st.navigation([_page(m, published, chosen) for m in PAGES])
    with st.sidebar:
        _follow(published.token)
    try:
        page.run()
    except data.PublishChanged:
        st.rerun()
    st.divider()
    rendered = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", timespec="milliseconds")
    st.caption(f"Read-only from {ui.source(settings)} · {page.title} rendered {rendered} UTC")


main()
