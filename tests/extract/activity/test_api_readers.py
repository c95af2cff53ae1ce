"""Graph, Gmail and Google Calendar readers against local servers implementing their contracts."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from revwh.extract.activity import extract_gmail, extract_google_calendar, extract_graph
from revwh.extract.activity.http import ApiError

from .fake_apis import (
    API_BODY_MARKER,
    CLIENT_SECRET,
    TOKEN,
    FakeServer,
    GmailApp,
    GoogleCalendarApp,
    GraphApp,
    Throttle,
)

DAY = "2024-06-01"


def graph_message(i: int, **extra) -> dict:
    return {"id": f"AAMk{i}", "internetMessageId": f"<graph-{i}@customer.com>",
            "conversationId": "conv-1", "sentDateTime": f"2024-03-0{i}T10:00:00Z",
            "subject": f"Graph {i}", "bodyPreview": API_BODY_MARKER,
            "body": {"contentType": "text", "content": API_BODY_MARKER},
            "from": {"emailAddress": {"name": "Bob Buyer", "address": "Bob@Customer.com"}},
            "toRecipients": [{"emailAddress": {"name": "Alice", "address": "alice@northpeak.io"}}],
            "ccRecipients": [], "internetMessageHeaders": [
                {"name": "In-Reply-To", "value": "<m1@northpeak.io>"}] if i > 1 else [],
            **extra}


def graph_event(i: int, **extra) -> dict:
    return {"id": f"EV{i}", "uid": "series-1", "type": "occurrence",
            "originalStart": f"2024-04-0{i}T08:00:00Z", "subject": "Weekly", "isAllDay": False,
            "isCancelled": False, "sensitivity": "normal",
            "start": {"dateTime": f"2024-04-0{i}T08:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": f"2024-04-0{i}T09:00:00.0000000", "timeZone": "UTC"},
            "organizer": {"emailAddress": {"name": "Alice", "address": "alice@northpeak.io"}},
            "attendees": [{"type": "required", "status": {"response": "tentativelyAccepted"},
                           "emailAddress": {"name": "Bob", "address": "bob@customer.com"}}],
            "body": {"content": API_BODY_MARKER}, **extra}


def test_graph_delta_paging_throttling_and_resync(home, monkeypatch):
    app = GraphApp(page_size=2)
    for i in (1, 2, 3):
        app.add("alice@northpeak.io/inbox", graph_message(i))
    app.add("alice@northpeak.io/inbox", {**graph_message(4), "isDraft": True})
    for i in (1, 2):
        app.add("alice@northpeak.io/calendar", graph_event(i))
    app.throttle = Throttle("messages/delta", times=1, retry_after="1")
    s = home.settings()
    with FakeServer(app) as server:
        kw = {"base_url": f"{server.url}/v1.0", "token": TOKEN, "folders": ["inbox"]}
        started = time.monotonic()
        first = extract_graph(s, DAY, mailboxes=["alice@northpeak.io", "ghost@northpeak.io"], **kw)
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured
        assert 429 in server.statuses("messages/delta")
        assert first.rows == {"activity_email": 3, "activity_email_recipient": 3,
                              "activity_meeting": 2, "activity_meeting_attendee": 2}
        # one mailbox that does not exist is a reject; the other one landed
        assert first.rejects == 2 and sorted(first.skipped) == [
            "events:ghost@northpeak.io", "messages:ghost@northpeak.io/inbox"]
        assert all("body" not in sel.split(",") for sel in app.selects)
        rows = home.query("select message_id, thread_id, in_reply_to, sent_at, from_address, "
                          "from_name, provider_id, provider_thread_id from raw_activity.activity_email "
                          "order by message_id")
        assert rows[1] == {"message_id": "graph-2@customer.com", "thread_id": "m1@northpeak.io",
                           "in_reply_to": "m1@northpeak.io", "sent_at": datetime(2024, 3, 2, 10),
                           "from_address": "bob@customer.com", "from_name": "Bob Buyer",
                           "provider_id": "AAMk2", "provider_thread_id": "conv-1"}
        meeting = home.query("select meeting_id, starts_at, status from raw_activity.activity_meeting "
                             "order by starts_at")[0]
        assert meeting == {"meeting_id": "series-1/20240401T080000Z",
                           "starts_at": datetime(2024, 4, 1, 8), "status": "CONFIRMED"}
        assert home.query("select partstat from raw_activity.activity_meeting_attendee")[0] == {
            "partstat": "TENTATIVE"}
        # rerun: the delta links return nothing new
        again = extract_graph(s, DAY, mailboxes=["alice@northpeak.io"], **kw)
        assert again.total_rows == 0
        # changes: one new message, one cancelled occurrence, one removed event
        app.add("alice@northpeak.io/inbox", graph_message(5))
        app.add("alice@northpeak.io/calendar", graph_event(2, isCancelled=True))
        app.remove("alice@northpeak.io/calendar", "EV1")
        delta = extract_graph(s, DAY, mailboxes=["alice@northpeak.io"], **kw)
        assert delta.rows == {"activity_email": 1, "activity_email_recipient": 1,
                              "activity_meeting": 2, "activity_meeting_attendee": 1}
        flags = home.query("select meeting_id, status, is_deleted from raw_activity.activity_meeting "
                           "where _batch_id = $1 order by meeting_id", [delta.batch_id])
        assert flags == [{"meeting_id": "EV1", "status": "CANCELLED", "is_deleted": True},
                         {"meeting_id": "series-1/20240402T080000Z", "status": "CANCELLED",
                          "is_deleted": False}]
        # an expired delta token (410 Gone) means a full sync of that folder
        app.expired.add("alice@northpeak.io/inbox")
        resync = extract_graph(s, DAY, mailboxes=["alice@northpeak.io"], **kw)
        assert 410 in server.statuses("messages/delta")
        assert resync.rows["activity_email"] == 4
        with pytest.raises(ApiError, match="401 not authorised"):
            extract_graph(s, DAY, mailboxes=["alice@northpeak.io"], base_url=f"{server.url}/v1.0",
                          token="wrong")
        # no token given: the client-credentials flow with the secrets from the environment
        monkeypatch.setenv("REVWH_GRAPH_TENANT_ID", "tenant-1")
        monkeypatch.setenv("REVWH_GRAPH_CLIENT_ID", "app-1")
        monkeypatch.setenv("REVWH_GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.delenv("REVWH_GRAPH_TOKEN", raising=False)
        app.expired.clear()
        app.add("alice@northpeak.io/inbox", graph_message(6))
        by_secret = extract_graph(s, DAY, mailboxes=["alice@northpeak.io"], folders=["inbox"],
                                  calendars=False, base_url=f"{server.url}/v1.0",
                                  auth_url=server.url)
        assert by_secret.rows["activity_email"] == 1
        assert [s for r, s in server.log if r.method == "POST"] == [200]
    assert home.text_everywhere(API_BODY_MARKER) == []
    assert home.text_everywhere(TOKEN) == [] and home.text_everywhere(CLIENT_SECRET) == []


def test_gmail_metadata_history_and_expired_history(home):
    app = GmailApp(page_size=2)
    for i in (1, 2, 3):
        app.add(f"g{i}", {"Message-ID": f"<gmail-{i}@northpeak.io>",
                          "Date": f"Mon, 0{i} Apr 2024 10:00:00 +0200",
                          "From": "=?utf-8?q?Zo=C3=AB?= <zoe@customer.com>",
                          "To": "Alice <alice@northpeak.io>, bob@customer.com",
                          "Subject": f"Gmail {i}", "X-Secret": API_BODY_MARKER})
    app.add("d1", {"Message-ID": "<draft@x>", "Date": "Mon, 01 Apr 2024 10:00:00 +0000",
                   "Subject": "draft"}, labels=("DRAFT",))
    app.throttle = Throttle("/messages/g2", times=1, retry_after="1")
    s = home.settings()
    with FakeServer(app) as server:
        kw = {"base_url": server.url, "token": TOKEN, "users": ["me"]}
        first = extract_gmail(s, DAY, **kw)
        assert first.rows == {"activity_email": 3, "activity_email_recipient": 6}
        assert set(app.formats) == {"metadata"} and 429 in server.statuses("/messages/g2")
        row = home.query("select message_id, mailbox, sent_at, from_name, provider_id, "
                         "provider_thread_id, origin from raw_activity.activity_email "
                         "where message_id = 'gmail-1@northpeak.io'")[0]
        assert row == {"message_id": "gmail-1@northpeak.io", "mailbox": "alice@northpeak.io",
                       "sent_at": datetime(2024, 4, 1, 8), "from_name": "Zoë",
                       "provider_id": "g1", "provider_thread_id": "t1",
                       "origin": "gmail:alice@northpeak.io/g1"}
        assert extract_gmail(s, DAY, **kw).total_rows == 0
        app.add("g4", {"Message-ID": "<gmail-4@northpeak.io>",
                       "Date": "Fri, 05 Apr 2024 10:00:00 +0000", "From": "alice@northpeak.io",
                       "To": "bob@customer.com", "Subject": "Gmail 4"})
        inc = extract_gmail(s, DAY, **kw)
        assert inc.rows == {"activity_email": 1, "activity_email_recipient": 1}
        assert any(r.path.endswith("/history") for r, _ in server.log)
        app.oldest_history = 10 ** 9  # history too old: 404, then a full sync
        full = extract_gmail(s, DAY, **kw)
        assert full.rows["activity_email"] == 4 and 404 in server.statuses("/history")
    assert home.text_everywhere(API_BODY_MARKER) == []


def test_google_calendar_sync_token_and_410(home):
    app = GoogleCalendarApp(page_size=2)
    for i in (1, 2, 3):
        app.put("primary", {
            "id": f"abc_2024040{i}T080000Z", "iCalUID": "abc@google.com", "status": "confirmed",
            "summary": "Weekly", "recurringEventId": "abc", "sequence": 0,
            "description": API_BODY_MARKER,
            "originalStartTime": {"dateTime": f"2024-04-0{i}T10:00:00+02:00"},
            "start": {"dateTime": f"2024-04-0{i}T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": f"2024-04-0{i}T10:30:00+02:00", "timeZone": "Europe/Berlin"},
            "organizer": {"email": "alice@northpeak.io", "displayName": "Alice"},
            "attendees": [{"email": "alice@northpeak.io", "organizer": True,
                           "responseStatus": "accepted"},
                          {"email": "bob@customer.com", "displayName": "Bob", "optional": True,
                           "responseStatus": "needsAction"}]})
    app.put("primary", {"id": "allday1", "iCalUID": "allday1@google.com", "status": "confirmed",
                        "summary": "Offsite", "visibility": "private",
                        "start": {"date": "2024-05-02"}, "end": {"date": "2024-05-03"}})
    app.throttle = Throttle("/events", times=1, retry_after="0")
    s = home.settings()
    with FakeServer(app) as server:
        kw = {"base_url": f"{server.url}/calendar/v3", "token": TOKEN, "calendars": ["primary"]}
        first = extract_google_calendar(s, DAY, **kw)
        assert first.rows == {"activity_meeting": 4, "activity_meeting_attendee": 6}
        rows = home.query("select meeting_id, starts_at, ends_at, is_all_day, summary, timezone "
                          "from raw_activity.activity_meeting order by starts_at")
        assert rows[0] == {"meeting_id": "abc@google.com/20240401T080000Z",
                           "starts_at": datetime(2024, 4, 1, 8), "ends_at": datetime(2024, 4, 1, 8, 30),
                           "is_all_day": False, "summary": "Weekly", "timezone": "Europe/Berlin"}
        assert rows[3] == {"meeting_id": "allday1@google.com", "starts_at": datetime(2024, 5, 2),
                           "ends_at": datetime(2024, 5, 3), "is_all_day": True, "summary": None,
                           "timezone": None}
        assert home.query("select role, partstat from raw_activity.activity_meeting_attendee "
                          "where address = 'bob@customer.com' limit 1") == [
            {"role": "OPT-PARTICIPANT", "partstat": "NEEDS-ACTION"}]
        first_query = next(r for r, _ in server.log if r.path.endswith("/events"))
        assert first_query.arg("timeMin") == "2021-05-28T00:00:00Z"
        assert first_query.arg("singleEvents") == "true"
        assert extract_google_calendar(s, DAY, **kw).total_rows == 0
        app.put("primary", {"id": "abc_20240402T080000Z", "iCalUID": "abc@google.com",
                            "status": "cancelled", "recurringEventId": "abc",
                            "originalStartTime": {"dateTime": "2024-04-02T10:00:00+02:00"}})
        inc = extract_google_calendar(s, DAY, **kw)
        assert inc.rows == {"activity_meeting": 1}
        cancelled = home.query("select meeting_id, status, is_deleted, starts_at from "
                               "raw_activity.activity_meeting where _batch_id = $1", [inc.batch_id])
        assert cancelled == [{"meeting_id": "abc@google.com/20240402T080000Z",
                              "status": "CANCELLED", "is_deleted": True,
                              "starts_at": datetime(2024, 4, 2, 8)}]
        app.expired.add("primary")
        full = extract_google_calendar(s, DAY, **kw)
        assert 410 in server.statuses("/events") and full.rows["activity_meeting"] == 4
    assert home.text_everywhere(API_BODY_MARKER) == []
