"""Rows of activity_meeting / activity_meeting_attendee from API events (Graph, Google).

The calendar files have their own, faster path (icsfiles); both apply the same privacy rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from revwh.extract.activity.icsfiles import ID_SEPARATOR
from revwh.extract.activity.privacy import Privacy
from revwh.extract.activity.tables import ATTENDEE, MEETING, Columns, Rejects

_EPOCH = datetime(1970, 1, 1)


def to_us(value: datetime | date | None) -> int | None:
    """Microseconds since the epoch, UTC; a date is its midnight."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return int((value - _EPOCH).total_seconds() * 1_000_000)


def rid_string(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def meeting_id(uid: str, original_start: datetime | date | None) -> tuple[str, str | None]:
    """(meeting_id, recurrence_id): the same ids as the calendar files give."""
    if original_start is None:
        return uid, None
    rid = rid_string(original_start)
    return f"{uid}{ID_SEPARATOR}{rid}", rid


class MeetingRows:
    def __init__(self, privacy: Privacy, source: str):
        self.privacy = privacy
        self.meetings = Columns(MEETING)
        self.attendees = Columns(ATTENDEE)
        self.rejects = Rejects(source)

    def add(self, *, meeting_id: str, uid: str | None, recurrence_id: str | None,
            calendar: str, summary: str | None, starts_at: datetime | date | None,
            ends_at: datetime | date | None, is_all_day: bool, status: str,
            organizer: tuple[str, str] | None, sequence: int | None, timezone_name: str | None,
            is_recurring: bool, private: bool, origin: str, provider_id: str | None,
            is_deleted: bool = False, attendees: list[tuple[str, str, str, str]] = ()) -> None:
        """``organizer``: (display name, address); ``attendees``: (name, address, partstat,
        role)."""
        p = self.privacy
        c = self.meetings.cols
        org = None
        if organizer and organizer[1]:
            addr, domain, internal, hashed = p.address(organizer[1])
            org = (addr, None if hashed else (organizer[0] or None), domain, internal, hashed)
        c["meeting_id"].append(meeting_id)
        c["uid"].append(uid)
        c["recurrence_id"].append(recurrence_id)
        c["calendar"].append(calendar)
        c["summary"].append(None if private else p.subject(summary))
        c["starts_at"].append(to_us(starts_at))
        c["ends_at"].append(to_us(ends_at))
        c["is_all_day"].append(is_all_day)
        c["status"].append(status)
        c["organizer"].append(org[0] if org else None)
        c["sequence"].append(sequence)
        c["organizer_name"].append(org[1] if org else None)
        c["organizer_domain"].append(org[2] if org else None)
        c["is_internal_organizer"].append(org[3] if org else None)
        c["organizer_is_hashed"].append(org[4] if org else None)
        c["timezone"].append(timezone_name)
        c["is_recurring"].append(is_recurring)
        c["subject_mode"].append("drop" if private else p.subject_mode)
        c["origin"].append(origin)
        c["provider_id"].append(provider_id)
        c["is_deleted"].append(is_deleted)
        a = self.attendees.cols
        for name, raw, partstat, role in attendees:
            addr, domain, internal, hashed = p.address(raw or "")
            if not addr:
                continue
            a["meeting_id"].append(meeting_id)
            a["address"].append(addr)
            a["name"].append(None if hashed else (name or None))
            a["partstat"].append(partstat)
            a["role"].append(role)
            a["calendar"].append(calendar)
            a["domain"].append(domain)
            a["is_internal"].append(internal)
            a["address_is_hashed"].append(hashed)
            a["is_organizer"].append(bool(org) and addr == org[0])

    def __len__(self) -> int:
        return len(self.meetings) + len(self.rejects)

    def take(self) -> list[tuple[str, pa.Table]]:
        out = []
        for cols in (self.meetings, self.attendees, self.rejects):
            if len(cols):
                out.append((cols.table, cols.take()))
        return out
