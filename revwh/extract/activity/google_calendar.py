"""Google Calendar: events (recurring ones expanded by the API), incremental on syncToken.

The first run lists the window's events with ``singleEvents=true`` and ``showDeleted=true``
(``nextPageToken`` paging); the last page's ``nextSyncToken`` is the cursor. Later runs send
only the sync token and get what changed (cancelled instances come back as
``status: cancelled``). 410 Gone (token expired) starts that calendar over with a full sync.

Credentials: ``token`` argument, else REVWH_GOOGLE_CALENDAR_TOKEN, else REVWH_GOOGLE_TOKEN.
Calendars: ``calendars`` or REVWH_GOOGLE_CALENDARS (default ``primary``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from urllib.parse import quote

from revwh.extract.activity.apisource import (
    credential,
    env_list,
    iso_z,
    parse_iso,
    run_units,
    window_datetimes,
)
from revwh.extract.activity.http import HttpClient, SyncExpired
from revwh.extract.activity.meetingrows import MeetingRows, meeting_id
from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.extract.activity.tables import MEETING
from revwh.raw.landing import LandResult
from revwh.settings import Settings

log = logging.getLogger(__name__)

CALENDAR_URL = "https://www.googleapis.com/calendar/v3"
PIPELINE = "revwh_activity_google_calendar"
SOURCE = "google_calendar"
PAGE_SIZE = 250
_PARTSTAT = {"needsaction": "NEEDS-ACTION", "accepted": "ACCEPTED", "declined": "DECLINED",
             "tentative": "TENTATIVE"}


def _when(value: dict | None):
    """(datetime or date, zone name, all day) of a Google start/end/originalStartTime."""
    if not value:
        return None, None, False
    if value.get("dateTime"):
        return parse_iso(value["dateTime"]), value.get("timeZone"), False
    if value.get("date"):
        return date.fromisoformat(value["date"]), None, True
    return None, None, False


class GoogleCalendarReader:
    def __init__(self, client: HttpClient, privacy: Privacy, window: tuple[datetime, datetime]):
        self.client = client
        self.privacy = privacy
        self.window = window

    def sync(self, calendar: str, cursor: dict | None, out: dict):
        path = f"calendars/{quote(calendar)}/events"
        if cursor and cursor.get("sync_token"):
            try:
                yield from self._pages(path, calendar, {"syncToken": cursor["sync_token"]}, out)
                return
            except SyncExpired:
                log.info("Google Calendar: sync token of %s expired, syncing it again", calendar)
        yield from self._pages(path, calendar, {"timeMin": iso_z(self.window[0]),
                                                "timeMax": iso_z(self.window[1])}, out)

    def _pages(self, path: str, calendar: str, base: dict, out: dict):
        token = None
        while True:
            params = {**base, "singleEvents": "true", "showDeleted": "true",
                      "maxResults": PAGE_SIZE}
            if token:
                params["pageToken"] = token
            page = self.client.get(path, params)
            rows = MeetingRows(self.privacy, SOURCE)
            for ev in page.get("items") or ():
                self._event(rows, ev, calendar)
            yield rows.take()
            token = page.get("nextPageToken")
            if not token:
                if page.get("nextSyncToken"):
                    out["cursor"] = {"sync_token": page["nextSyncToken"]}
                return

    def _event(self, rows: MeetingRows, ev: dict, calendar: str) -> None:
        pid = ev.get("id")
        origin = f"google:{calendar}/{pid}"
        try:
            start, tz, all_day = _when(ev.get("start"))
            end, _, _ = _when(ev.get("end"))
            original, _, _ = _when(ev.get("originalStartTime"))
        except (ValueError, TypeError) as exc:
            rows.rejects.add(MEETING, origin, None, f"event times are not readable: {exc}", "")
            return
        cancelled = ev.get("status") == "cancelled"
        uid = ev.get("iCalUID")
        recurring = bool(ev.get("recurringEventId"))
        if uid:
            mid, rid = meeting_id(uid, original if recurring else None)
        else:
            mid, rid = pid, None
        if start is None and not cancelled:
            rows.rejects.add(MEETING, origin, None, "event without a start", "")
            return
        attendees = []
        for a in ev.get("attendees") or ():
            if not a.get("email"):
                continue
            attendees.append((a.get("displayName") or "", a["email"],
                              _PARTSTAT.get(str(a.get("responseStatus", "needsAction")).lower(),
                                            "NEEDS-ACTION"),
                              "NON-PARTICIPANT" if a.get("resource") else
                              "OPT-PARTICIPANT" if a.get("optional") else "REQ-PARTICIPANT"))
        org = ev.get("organizer") or {}
        rows.add(meeting_id=mid, uid=uid, recurrence_id=rid, calendar=calendar,
                 summary=ev.get("summary"), starts_at=start if start is not None else original,
                 ends_at=end, is_all_day=all_day,
                 status="CANCELLED" if cancelled else str(ev.get("status", "confirmed")).upper(),
                 organizer=(org.get("displayName") or "", org["email"]) if org.get("email")
                 else None,
                 sequence=ev.get("sequence"), timezone_name=tz, is_recurring=recurring,
                 private=ev.get("visibility") in ("private", "confidential"), origin=origin,
                 provider_id=pid, is_deleted=cancelled and not ev.get("summary"),
                 attendees=attendees)


def extract_google_calendar(settings: Settings, logical_date: str, *,
                            base_url: str = CALENDAR_URL, token: str | None = None,
                            calendars: Iterable[str] | None = None) -> LandResult:
    """Land the events of each Google calendar in the window, incrementally."""
    client = HttpClient(base_url, credential(token, "REVWH_GOOGLE_CALENDAR_TOKEN",
                                             "REVWH_GOOGLE_TOKEN"),
                        name="Google Calendar", token_env="REVWH_GOOGLE_CALENDAR_TOKEN")
    reader = GoogleCalendarReader(client, Privacy(PrivacyConfig.from_settings(settings)),
                                  window_datetimes(settings, logical_date))
    units = {cal: (lambda cur, out, cal=cal: reader.sync(cal, cur, out))
             for cal in env_list(calendars, "REVWH_GOOGLE_CALENDARS", "primary")}
    return run_units(settings, pipeline_name=PIPELINE, source=SOURCE, logical_date=logical_date,
                     units=units, table=MEETING)
