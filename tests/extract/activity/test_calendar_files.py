"""Calendar files into raw: recurrences, time zones, all-day, cancellations, rejects, reruns."""

from __future__ import annotations

from datetime import datetime

import pytest

from revwh.extract.activity import extract_calendars
from revwh.raw.landing import RejectShareExceeded

from .conftest import BODY_MARKERS, make_home

DAY = "2024-06-01"  # window: 1100 days back, 120 ahead -> 2021-05-28 .. 2024-09-29


def meetings(home, where="true"):
    return home.query(f"select * from raw_activity.activity_meeting where {where} "
                      "order by calendar, starts_at, meeting_id")


def by_id(home):
    return {r["meeting_id"]: r for r in meetings(home)}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = make_home(tmp_path_factory.mktemp("calendars"))
    home.result = extract_calendars(home.settings(calendar_days_ahead=365), DAY)
    return home


def test_rrule_count_exdate_and_moved_occurrence(loaded):
    rows = meetings(loaded, "uid = 'weekly-count@test'")
    # COUNT=5, one EXDATE, one occurrence moved by RECURRENCE-ID: four rows, Berlin 10:00 = 09:00Z
    assert [(r["meeting_id"], r["starts_at"], r["ends_at"]) for r in rows] == [
        ("weekly-count@test/20240108T090000Z", datetime(2024, 1, 8, 9), datetime(2024, 1, 8, 10)),
        ("weekly-count@test/20240115T090000Z", datetime(2024, 1, 15, 9), datetime(2024, 1, 15, 10)),
        ("weekly-count@test/20240129T090000Z", datetime(2024, 1, 30, 13, 30),
         datetime(2024, 1, 30, 14, 30)),
        ("weekly-count@test/20240205T090000Z", datetime(2024, 2, 5, 9), datetime(2024, 2, 5, 10)),
    ]
    moved = rows[2]
    assert moved["summary"] == "Weekly pipeline review (moved)" and moved["sequence"] == 1
    assert moved["recurrence_id"] == "20240129T090000Z" and moved["is_recurring"]
    assert {r["timezone"] for r in rows} == {"Europe/Berlin"}
    assert {r["organizer"] for r in rows} == {"alice@northpeak.io"}
    assert {r["calendar"] for r in rows} == {"recurrence"}
    att = loaded.query("select address, name, partstat, role, is_internal, is_organizer, domain "
                       "from raw_activity.activity_meeting_attendee where meeting_id = $1 "
                       "order by address", ["weekly-count@test/20240108T090000Z"])
    assert att == [
        {"address": "alice@northpeak.io", "name": "Alice Rep", "partstat": "ACCEPTED",
         "role": "CHAIR", "is_internal": True, "is_organizer": True, "domain": "northpeak.io"},
        {"address": "bob.buyer@customer.com", "name": "Buyer, Bob", "partstat": "TENTATIVE",
         "role": "REQ-PARTICIPANT", "is_internal": False, "is_organizer": False,
         "domain": "customer.com"},
        {"address": "carol@customer.com", "name": "Carol", "partstat": "DECLINED",
         "role": "OPT-PARTICIPANT", "is_internal": False, "is_organizer": False,
         "domain": "customer.com"},
    ]
    # the moved occurrence keeps its own attendee list (Bob accepted it)
    moved_att = loaded.query("select address, partstat from raw_activity.activity_meeting_attendee "
                             "where meeting_id = $1 order by address",
                             ["weekly-count@test/20240129T090000Z"])
    assert moved_att == [{"address": "alice@northpeak.io", "partstat": "ACCEPTED"},
                         {"address": "bob.buyer@customer.com", "partstat": "ACCEPTED"}]


def test_until_and_cancelled_instance(loaded):
    rows = meetings(loaded, "uid = 'daily-until@test'")
    assert [(r["starts_at"], r["status"]) for r in rows] == [
        (datetime(2024, 3, 1, 15), "CONFIRMED"), (datetime(2024, 3, 2, 15), "CANCELLED"),
        (datetime(2024, 3, 3, 15), "CONFIRMED")]


def test_dst_keeps_local_time(loaded):
    ids = by_id(loaded)
    outlook = sorted((r for r in ids.values() if r["calendar"] == "outlook" and r["is_recurring"]),
                     key=lambda r: r["starts_at"])
    # Outlook's custom TZID "W. Europe Standard Time" (its VTIMEZONE): 10:00 local every week,
    # 09:00Z before the March switch, 08:00Z after
    assert [r["starts_at"] for r in outlook] == [datetime(2024, 3, 21, 9), datetime(2024, 3, 28, 9),
                                                datetime(2024, 4, 4, 8)]
    assert outlook[0]["timezone"] == "Europe/Berlin"
    assert outlook[0]["organizer_name"] == "Doe, Jane"
    # Google: UTC times + X-WR-TIMEZONE expand in New York time: 10:00 EDT, then 10:00 EST
    google = sorted((r for r in ids.values() if r["uid"] == "7kukuqrfedlm2f9t0vr4fh2qjc@google.com"),
                    key=lambda r: r["starts_at"])
    assert [r["starts_at"] for r in google] == [datetime(2024, 10, 24, 14), datetime(2024, 10, 31, 14),
                                               datetime(2024, 11, 7, 15)]
    assert google[2]["meeting_id"] == "7kukuqrfedlm2f9t0vr4fh2qjc@google.com/20241107T150000Z"


def test_windows_zone_without_vtimezone_floating_and_private(loaded):
    ids = by_id(loaded)
    paris = ids["040000008200E00074C5B7101A82E00800000000FFFF"]
    assert (paris["starts_at"], paris["timezone"]) == (datetime(2024, 6, 12, 13), "Europe/Paris")
    private = ids["040000008200E00074C5B7101A82E00800000000PRIV"]
    assert private["summary"] is None and private["subject_mode"] == "drop"
    # floating: the calendar's X-WR-TIMEZONE, else the default zone (UTC)
    assert ids["floating-google@google.com"]["starts_at"] == datetime(2024, 6, 20, 13)
    assert ids["floating@test"]["starts_at"] == datetime(2024, 6, 20, 9)
    single = ids["single@test"]
    assert (single["starts_at"], single["ends_at"], single["is_recurring"], single["summary"]) == (
        datetime(2024, 6, 10, 13), datetime(2024, 6, 10, 13, 45), False, "Discovery call, part 1")
    assert "long-ago@test" not in ids  # outside the extraction window


def test_all_day_events_are_flagged(loaded):
    ids = by_id(loaded)
    offsite, fair = ids["offsite@test"], ids["conference@test"]
    assert (offsite["is_all_day"], offsite["starts_at"], offsite["ends_at"], offsite["timezone"]) == (
        True, datetime(2024, 4, 15), datetime(2024, 4, 16), None)
    assert (fair["starts_at"], fair["ends_at"]) == (datetime(2024, 5, 1), datetime(2024, 5, 4))
    assert not ids["floating@test"]["is_all_day"]


def test_broken_items_are_rejected_with_reasons_and_the_rest_loads(loaded):
    assert by_id(loaded)["good@broken"]["starts_at"] == datetime(2024, 4, 5, 12)
    rejects = loaded.query("select origin, line, reason from raw_activity._rejects "
                           "where table_name = 'activity_meeting' order by origin")
    reasons = {r["origin"]: r["reason"] for r in rejects}
    assert reasons["not_a_calendar.ics"] == "not an iCalendar file: no BEGIN:VCALENDAR"
    broken = sorted(r["reason"] for r in rejects if r["origin"].startswith("broken.ics@"))
    assert len(broken) == 6
    for expected in ("DTSTART: '20241345T120000Z' is not a valid date or time",
                     "unknown TZID 'Mars/Olympus_Mons'", "RRULE: 'FREQ=SOMETIMES;COUNT=x' is not",
                     "VEVENT without UID", "illegal encoding", "truncated: VEVENT without END"):
        assert any(r.startswith(expected) for r in broken), (expected, broken)
    assert all(r["line"] for r in rejects if r["origin"].startswith("broken.ics@"))
    assert loaded.result.rejects == 7


def test_counts_privacy_and_rerun_lands_nothing(loaded):
    assert loaded.result.rows == {"activity_meeting": 21, "activity_meeting_attendee": 29}
    for marker in BODY_MARKERS:  # descriptions, locations and alarms are never read
        assert loaded.text_everywhere(marker) == []
    again = extract_calendars(loaded.settings(calendar_days_ahead=365), DAY)
    assert again.total_rows == 0 and again.rejects == 0
    assert sorted(again.skipped) == ["allday.ics", "broken.ics", "google.ics", "not_a_calendar.ics",
                                     "outlook.ics", "recurrence.ics"]
    assert loaded.count("activity_meeting") == 21


def test_incremental_window_and_changed_file(home):
    s = home.settings()
    first = extract_calendars(s, DAY)  # window ends 2024-09-29: the Google series is outside
    assert first.rows["activity_meeting"] == 18
    # a day later, unchanged files: only the day that entered the window is expanded
    later = extract_calendars(s, "2024-10-25")  # window end moves to 2025-02-22
    assert later.rows == {"activity_meeting": 3, "activity_meeting_attendee": 6}
    assert later.rejects == 0  # broken items are not reported again for the new days
    # a changed file is expanded again over the whole window, the others are left alone
    path = home.calendar / "allday.ics"
    path.write_bytes(path.read_bytes().replace(b"Trade fair", b"Trade fair (updated)"))
    changed = extract_calendars(s, "2024-10-25")
    assert changed.rows == {"activity_meeting": 3, "activity_meeting_attendee": 1}
    assert home.count("activity_meeting", "summary = 'Trade fair (updated)'") == 1
    assert extract_calendars(s, "2024-10-25").total_rows == 0


def test_default_timezone_for_floating_times(home):
    s = home.settings(extra={"calendar_default_timezone": "Asia/Tokyo"})
    extract_calendars(s, DAY)
    row = home.query("select starts_at, timezone from raw_activity.activity_meeting "
                     "where meeting_id = 'floating@test'")[0]
    assert row == {"starts_at": datetime(2024, 6, 20, 0), "timezone": "Asia/Tokyo"}


def test_reject_share_above_the_limit_lands_nothing(home):
    for p in home.calendar.iterdir():
        if p.name not in ("broken.ics", "not_a_calendar.ics"):
            p.unlink()
    s = home.settings(max_reject_share=0.02)
    with pytest.raises(RejectShareExceeded, match="above max_reject_share"):
        extract_calendars(s, DAY)
    assert home.count("activity_meeting") == 0
    # the state did not advance: with a larger allowance the same files land
    result = extract_calendars(home.settings(max_reject_share=0.9), DAY)
    assert result.rows == {"activity_meeting": 1} and result.rejects == 7
