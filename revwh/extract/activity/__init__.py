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

from revwh.extract.activity.calendar import extract_calendars
from revwh.extract.activity.mail import extract_mail

__all__ = [
    "extract_calendars",
    "extract_gmail",
    "extract_google_calendar",
    "extract_graph",
    "extract_mail",
]


def __getattr__(name: str):
    # API readers import an HTTP client: load them when asked for
    if name == "extract_graph":
        from revwh.extract.activity.graph import extract_graph
        return extract_graph
    if name == "extract_gmail":
        from revwh.extract.activity.gmail import extract_gmail
        return extract_gmail
    if name == "extract_google_calendar":
        from revwh.extract.activity.google_calendar import extract_google_calendar
        return extract_google_calendar
    raise AttributeError(name)
