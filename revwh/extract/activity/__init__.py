"""Email and calendar activity readers (DESIGN §3, §4): files and APIs into raw_activity.

Entry points the nightly DAG and the CLI call (each one load, state committed with it):

- :func:`extract_mail` — mbox files, Maildir folders and .eml files under ``settings.mail_path``
- :func:`extract_calendars` — .ics files under ``settings.calendar_path``
- :func:`extract_graph` — Microsoft Graph messages and calendarView (delta links)
- :func:`extract_gmail` — Gmail messages (format=metadata, historyId)
- :func:`extract_google_calendar` — Google Calendar events (syncToken)

Headers only; bodies and attachments are never read. Privacy settings are applied before a
value lands (see :mod:`revwh.extract.activity.privacy`).
"""

from __future__ import annotations

import importlib

__all__ = [
    "extract_calendars",
    "extract_gmail",
    "extract_google_calendar",
    "extract_graph",
    "extract_mail",
]


_MODULES = {"extract_calendars": "calendar", "extract_mail": "mail", "extract_graph": "graph",
            "extract_gmail": "gmail", "extract_google_calendar": "google_calendar"}


def __getattr__(name: str):
    # loaded when asked for: the readers import pyarrow, the API readers an HTTP client, and
    # a build imports only the privacy settings from this package
    if name not in _MODULES:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
