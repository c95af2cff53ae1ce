"""The dashboard's pages, in navigation order. Each module has TITLE, URL and
render(published, filters)."""

from revwh.dashboard.views import (
    engagement,
    forecast,
    pipeline,
    scorecard,
    verifiers,
    weighted,
    win_loss,
)

PAGES = (forecast, pipeline, weighted, verifiers, win_loss, engagement, scorecard)
