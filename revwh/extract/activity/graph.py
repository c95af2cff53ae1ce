"""Microsoft Graph: messages (per folder) and calendarView, both through delta queries.

The first run pages through ``messages/delta`` of each folder and ``calendarView/delta`` over the
extraction window (``@odata.nextLink``); the last page's ``@odata.deltaLink`` is the cursor,
kept in dlt state with the load. Later runs call the delta link and get only what changed.
A 410 Gone (expired delta state) starts that folder or calendar over with a full sync.
Only header fields are selected: never ``body``, ``bodyPreview`` nor attachments.

Credentials: ``token`` argument, else REVWH_GRAPH_TOKEN, else the client-credentials flow with
REVWH_GRAPH_TENANT_ID, REVWH_GRAPH_CLIENT_ID and REVWH_GRAPH_CLIENT_SECRET. Mailboxes (user
principal names): ``mailboxes`` argument or REVWH_GRAPH_MAILBOXES (comma-separated).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from revwh.extract.activity.apisource import (
    MissingCredentials,
    credential,
    env_list,
    iso_z,
    parse_iso,
    run_units,
    window_datetimes,
)
from revwh.extract.activity.headers import message_id, message_ids
from revwh.extract.activity.http import ApiError, HttpClient, SyncExpired
from revwh.extract.activity.mailrows import MailRows
from revwh.extract.activity.meetingrows import MeetingRows, meeting_id
from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.extract.activity.tables import MEETING
from revwh.raw.landing import LandResult
from revwh.settings import Settings

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.microsoft.com/v1.0"
AUTH_URL = "https://login.microsoftonline.com"
PIPELINE = "revwh_activity_graph"
SOURCE = "graph"
PAGE_SIZE = 200
MESSAGE_FIELDS = ("internetMessageId,conversationId,sentDateTime,receivedDateTime,from,sender,"
                  "toRecipients,ccRecipients,subject,internetMessageHeaders,isDraft")
_PARTSTAT = {"none": "NEEDS-ACTION", "notresponded": "NEEDS-ACTION", "organizer": "ACCEPTED",
             "accepted": "ACCEPTED", "tentativelyaccepted": "TENTATIVE", "declined": "DECLINED"}
_ROLE = {"required": "REQ-PARTICIPANT", "optional": "OPT-PARTICIPANT",
         "resource": "NON-PARTICIPANT"}


def client_credentials_token(tenant: str, client_id: str, secret: str,
                             auth_url: str = AUTH_URL) -> str:
    resp = requests.post(f"{auth_url.rstrip('/')}/{quote(tenant)}/oauth2/v2.0/token",
                         data={"grant_type": "client_credentials", "client_id": client_id,
                               "client_secret": secret,
                               "scope": "https://graph.microsoft.com/.default"}, timeout=60)
    if resp.status_code != 200:
        raise ApiError(f"Graph: token request failed with {resp.status_code}: check "
                       "REVWH_GRAPH_TENANT_ID, REVWH_GRAPH_CLIENT_ID, REVWH_GRAPH_CLIENT_SECRET",
                       resp.status_code)
    return resp.json()["access_token"]


def _token(token: str | None, auth_url: str) -> str:
    try:
        return credential(token, "REVWH_GRAPH_TOKEN")
    except MissingCredentials:
        env = os.environ
        if all(env.get(k) for k in ("REVWH_GRAPH_TENANT_ID", "REVWH_GRAPH_CLIENT_ID",
                                     "REVWH_GRAPH_CLIENT_SECRET")):
            return client_credentials_token(env["REVWH_GRAPH_TENANT_ID"],
                                            env["REVWH_GRAPH_CLIENT_ID"],
                                            env["REVWH_GRAPH_CLIENT_SECRET"], auth_url)
        raise MissingCredentials("Graph: no access token: set REVWH_GRAPH_TOKEN, or "
                                 "REVWH_GRAPH_TENANT_ID, REVWH_GRAPH_CLIENT_ID and "
                                 "REVWH_GRAPH_CLIENT_SECRET") from None


def _person(obj: dict | None) -> tuple[str, str] | None:
    ea = (obj or {}).get("emailAddress") or {}
    if not ea.get("address"):
        return None
    return ea.get("name") or "", ea["address"]


def _header_fields(msg: dict) -> dict[str, str]:
    """Header values as the files give them: internetMessageHeaders when sent, else the
    structured fields."""
    f: dict[str, str] = {}
    for h in msg.get("internetMessageHeaders") or ():
        name = str(h.get("name", "")).lower()
        if name in ("in-reply-to", "references") and name not in f:
            f[name] = str(h.get("value", ""))
    return f


def _graph_time(value: dict | None, all_day: bool):
    if not value or not value.get("dateTime"):
        return None, None
    dt = parse_iso(value["dateTime"])
    if all_day:
        return dt.date() if isinstance(dt, datetime) else dt, None
    tzname = value.get("timeZone") or "UTC"
    if isinstance(dt, datetime) and dt.tzinfo is None:
        try:
            zone = ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError):
            from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

            olson = WINDOWS_TO_OLSON.get(tzname)
            zone = ZoneInfo(olson) if olson else UTC
            tzname = olson or "UTC"
        dt = dt.replace(tzinfo=zone)
    return dt, tzname


class GraphReader:
    def __init__(self, client: HttpClient, privacy: Privacy, window: tuple[datetime, datetime]):
        self.client = client
        self.privacy = privacy
        self.window = window

    def _pages(self, first_url: str, params: dict | None, headers: dict):
        """(items, delta link or None) per page."""
        url, query = first_url, params
        while True:
            page = self.client.get(url, query, headers)
            query = None
            nxt = page.get("@odata.nextLink")
            delta = page.get("@odata.deltaLink")
            yield page.get("value", []), (None if nxt else delta)
            if not nxt:
                if not delta:
                    raise ApiError("Graph: last page without @odata.deltaLink")
                return
            url = nxt

    def messages(self, mailbox: str, folder: str, cursor: dict | None, out: dict):
        headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        first = f"users/{quote(mailbox)}/mailFolders/{quote(folder)}/messages/delta"
        params = {"$select": MESSAGE_FIELDS}
        url = cursor.get("delta_link") if cursor else None
        try:
            yield from self._message_pages(url or first, None if url else params, headers,
                                           mailbox, folder, out)
        except SyncExpired:
            log.info("Graph: delta link of %s/%s expired, syncing it again in full", mailbox,
                     folder)
            yield from self._message_pages(first, params, headers, mailbox, folder, out)

    def _message_pages(self, url, params, headers, mailbox, folder, out):
        for items, delta in self._pages(url, params, headers):
            rows = MailRows(self.privacy, SOURCE)
            for msg in items:
                if "@removed" in msg or msg.get("isDraft"):
                    continue  # a deleted or draft message: nothing was sent or received
                f = _header_fields(msg)
                mid = msg.get("internetMessageId")
                if mid:
                    f["message-id"] = mid
                sent = msg.get("sentDateTime") or msg.get("receivedDateTime")
                origin = f"graph:{mailbox}/{folder}/{msg.get('id')}"
                try:
                    sent_dt = parse_iso(sent) if sent else None
                except ValueError:
                    sent_dt = None
                if not isinstance(sent_dt, datetime):
                    rows.reject(origin, None, f"sentDateTime {sent!r} is not a date-time")
                    continue
                if sent_dt.tzinfo is None:
                    sent_dt = sent_dt.replace(tzinfo=UTC)
                mid_n = message_id(mid) if mid else None
                sender = _person(msg.get("from")) or _person(msg.get("sender"))
                rows.add_message(
                    message_id=mid_n or f"graph-{msg.get('id')}@revwh.invalid",
                    mailbox=mailbox, origin=origin,
                    sent_us=int(sent_dt.timestamp() * 1_000_000),
                    in_reply_to=message_ids(f["in-reply-to"]) if f.get("in-reply-to") else [],
                    references=message_ids(f["references"]) if f.get("references") else [],
                    sender=sender,
                    subject=msg.get("subject") if self.privacy.subject_mode != "drop" else None,
                    to=[p for p in map(_person, msg.get("toRecipients") or ()) if p],
                    cc=[p for p in map(_person, msg.get("ccRecipients") or ()) if p],
                    provider_id=msg.get("id"), provider_thread_id=msg.get("conversationId"))
            yield rows.take()
            if delta:
                out["cursor"] = {"delta_link": delta}

    def events(self, mailbox: str, cursor: dict | None, out: dict):
        headers = {"Prefer": f'outlook.timezone="UTC", odata.maxpagesize={PAGE_SIZE}'}
        first = f"users/{quote(mailbox)}/calendarView/delta"
        params = {"startDateTime": iso_z(self.window[0]), "endDateTime": iso_z(self.window[1])}
        url = cursor.get("delta_link") if cursor else None
        try:
            yield from self._event_pages(url or first, None if url else params, headers,
                                         mailbox, out)
        except SyncExpired:
            log.info("Graph: calendar delta link of %s expired, syncing it again", mailbox)
            yield from self._event_pages(first, params, headers, mailbox, out)

    def _event_pages(self, url, params, headers, mailbox, out):
        for items, delta in self._pages(url, params, headers):
            rows = MeetingRows(self.privacy, SOURCE)
            for ev in items:
                self._event(rows, ev, mailbox)
            yield rows.take()
            if delta:
                out["cursor"] = {"delta_link": delta}

    def _event(self, rows: MeetingRows, ev: dict, mailbox: str) -> None:
        pid = ev.get("id")
        origin = f"graph:{mailbox}/events/{pid}"
        if "@removed" in ev:
            rows.add(meeting_id=pid, uid=None, recurrence_id=None, calendar=mailbox,
                     summary=None, starts_at=None, ends_at=None, is_all_day=False,
                     status="CANCELLED", organizer=None, sequence=None, timezone_name=None,
                     is_recurring=False, private=True, origin=origin, provider_id=pid,
                     is_deleted=True)
            return
        all_day = bool(ev.get("isAllDay"))
        try:
            start, tz = _graph_time(ev.get("start"), all_day)
            end, _ = _graph_time(ev.get("end"), all_day)
            original = parse_iso(ev["originalStart"]) if ev.get("originalStart") else None
        except (ValueError, TypeError) as exc:
            rows.rejects.add(MEETING, origin, None, f"event times are not readable: {exc}", "")
            return
        if start is None:
            rows.rejects.add(MEETING, origin, None, "event without a start", "")
            return
        if isinstance(original, datetime) and original.tzinfo is None:
            original = original.replace(tzinfo=UTC)
        if all_day and isinstance(original, datetime):
            original = original.date()
        uid = ev.get("uid") or ev.get("iCalUId") or pid
        kind = ev.get("type") or "singleInstance"
        recurring = kind in ("occurrence", "exception")
        mid, rid = meeting_id(uid, (original or start) if recurring else None)
        attendees = []
        for a in ev.get("attendees") or ():
            person = _person(a)
            if not person:
                continue
            response = str(((a.get("status") or {}).get("response")) or "none").lower()
            attendees.append((person[0], person[1], _PARTSTAT.get(response, "NEEDS-ACTION"),
                              _ROLE.get(str(a.get("type", "required")).lower(),
                                        "REQ-PARTICIPANT")))
        rows.add(meeting_id=mid, uid=uid, recurrence_id=rid, calendar=mailbox,
                 summary=ev.get("subject"), starts_at=start, ends_at=end, is_all_day=all_day,
                 status="CANCELLED" if ev.get("isCancelled") else "CONFIRMED",
                 organizer=_person(ev.get("organizer")), sequence=None,
                 timezone_name=None if all_day else tz, is_recurring=recurring,
                 private=str(ev.get("sensitivity", "normal")).lower() in ("private",
                                                                          "confidential"),
                 origin=origin, provider_id=pid, attendees=attendees)


def extract_graph(settings: Settings, logical_date: str, *, base_url: str = GRAPH_URL,
                  token: str | None = None, mailboxes: Iterable[str] | None = None,
                  folders: Iterable[str] | None = None, calendars: bool = True,
                  auth_url: str = AUTH_URL) -> LandResult:
    """Land Graph messages (headers) and calendarView events of each mailbox, incrementally."""
    boxes = env_list(mailboxes, "REVWH_GRAPH_MAILBOXES", "")
    if not boxes:
        raise ApiError("Graph: no mailbox to read: set REVWH_GRAPH_MAILBOXES "
                       "(comma-separated user principal names)")
    client = HttpClient(base_url, _token(token, auth_url), name="Graph",
                        token_env="REVWH_GRAPH_TOKEN")
    reader = GraphReader(client, Privacy(PrivacyConfig.from_settings(settings)),
                         window_datetimes(settings, logical_date))
    folder_list = env_list(folders, "REVWH_GRAPH_FOLDERS", "inbox,sentitems")
    units = {}
    for mb in boxes:
        for folder in folder_list:
            units[f"messages:{mb}/{folder}"] = (
                lambda cur, out, mb=mb, folder=folder: reader.messages(mb, folder, cur, out))
        if calendars:
            units[f"events:{mb}"] = lambda cur, out, mb=mb: reader.events(mb, cur, out)
    return run_units(settings, pipeline_name=PIPELINE, source=SOURCE, logical_date=logical_date,
                     units=units)
