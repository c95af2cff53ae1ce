"""One RFC 5545 calendar (.ics) per internal mailbox, written directly as text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from .activity import Meeting, People
from .constants import COMPANY_DOMAIN
from .fileio import HashingWriter, Manifest
from .timeutil import local_to_utc

# VTIMEZONE blocks (current rules; valid for the demo's years)
VTIMEZONES = {
    "America/New_York": ("EST", "EDT", "-0500", "-0400", "2SU", 3, "1SU", 11, "020000", "020000"),
    "America/Los_Angeles": (
        "PST",
        "PDT",
        "-0800",
        "-0700",
        "2SU",
        3,
        "1SU",
        11,
        "020000",
        "020000",
    ),
    "Europe/London": ("GMT", "BST", "+0000", "+0100", "-1SU", 3, "-1SU", 10, "010000", "020000"),
    "Europe/Berlin": ("CET", "CEST", "+0100", "+0200", "-1SU", 3, "-1SU", 10, "020000", "030000"),
    "Australia/Sydney": ("AEST", "AEDT", "+1000", "+1100", "1SU", 10, "1SU", 4, "020000", "030000"),
}


def _onset(month: int, byday: str) -> str:
    """First onset in 1970 of a yearly rule like BYMONTH=3;BYDAY=2SU (or -1SU)."""
    n = int(byday[:-2])
    days = [
        datetime(1970, month, d)
        for d in range(1, 32)
        if (datetime(1970, month, 1) + timedelta(days=d - 1)).month == month
    ]
    sundays = [d for d in days if d.weekday() == 6]
    return sundays[n - 1 if n > 0 else n].strftime("%Y%m%d")


def vtimezone(tz: str) -> list[str]:
    if tz == "Asia/Singapore":
        return [
            "BEGIN:VTIMEZONE",
            "TZID:Asia/Singapore",
            "BEGIN:STANDARD",
            "DTSTART:19820101T000000",
            "TZOFFSETFROM:+0800",
            "TZOFFSETTO:+0800",
            "TZNAME:+08",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    std, dst, off_std, off_dst, dst_day, dst_month, std_day, std_month, t_dst, t_std = VTIMEZONES[
        tz
    ]
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tz}",
        "BEGIN:DAYLIGHT",
        f"TZOFFSETFROM:{off_std}",
        f"TZOFFSETTO:{off_dst}",
        f"TZNAME:{dst}",
        f"DTSTART:{_onset(dst_month, dst_day)}T{t_dst}",
        f"RRULE:FREQ=YEARLY;BYMONTH={dst_month};BYDAY={dst_day}",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        f"TZOFFSETFROM:{off_dst}",
        f"TZOFFSETTO:{off_std}",
        f"TZNAME:{std}",
        f"DTSTART:{_onset(std_month, std_day)}T{t_std}",
        f"RRULE:FREQ=YEARLY;BYMONTH={std_month};BYDAY={std_day}",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]


def fold(line: str) -> str:
    """Fold a content line at 75 octets (never inside a UTF-8 sequence)."""
    if line.isascii():
        if len(line) <= 75:
            return line
        return "\r\n ".join([line[:75]] + [line[i : i + 74] for i in range(75, len(line), 74)])
    b = line.encode("utf-8")
    if len(b) <= 75:
        return line
    out = []
    pos, limit = 0, 75
    while pos < len(b):
        cut = min(len(b), pos + limit)
        while cut < len(b) and (b[cut] & 0xC0) == 0x80:  # inside a multi-byte character
            cut -= 1
        out.append(b[pos:cut].decode("utf-8"))
        pos, limit = cut, 74  # continuation lines start with a space
    return "\r\n ".join(out)


def esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


_EPOCH = datetime(1970, 1, 1)


def _fmt_utc(ts: int) -> str:
    d = _EPOCH + timedelta(seconds=int(ts))
    return f"{d.year:04d}{d.month:02d}{d.day:02d}T{d.hour:02d}{d.minute:02d}{d.second:02d}Z"


def _loc(d: datetime) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}T{d.hour:02d}{d.minute:02d}{d.second:02d}"


def occurrence_key(m: Meeting, orig_local: datetime) -> str:
    """Activity key of one occurrence: UID for a single meeting, UID/RECURRENCE-ID (UTC) for an
    occurrence of a recurring one."""
    if not m.freq:
        return m.uid
    return f"{m.uid}/{_fmt_utc(local_to_utc(orig_local, m.tz))}"


class IcsRenderer:
    def __init__(self, people: People):
        self.people = people
        self._lines: dict[tuple, str] = {}

    def _person(
        self, prefix: str, p: int, partstat: str | None = None, role: str | None = None
    ) -> str:
        """The folded ORGANIZER/ATTENDEE content line (cached: people recur a lot)."""
        key = (prefix, p, partstat, role)
        line = self._lines.get(key)
        if line is None:
            name = self.people.name[p].replace('"', "'")
            params = f';CN="{name}"'
            if role:
                params += f";ROLE={role}"
            if partstat:
                params += f";PARTSTAT={partstat}"
            line = self._lines[key] = fold(f"{prefix}{params}:mailto:{self.people.email[p]}")
        return line

    def _common(self, m: Meeting, lines: list[str], status: str, seq: int) -> None:
        lines.append(f"SUMMARY:{esc(m.summary)}")
        if m.location:
            lines.append(f"LOCATION:{esc(m.location)}")
        lines.append(self._person("ORGANIZER", m.organizer))
        for p, ps, role in m.attendees:
            lines.append(self._person("ATTENDEE", p, ps, role))
        if m.group_attendee:
            lines.append(
                fold(
                    f'ATTENDEE;CUTYPE=GROUP;CN="All {COMPANY_DOMAIN}";ROLE=REQ-PARTICIPANT;'
                    f"PARTSTAT=NEEDS-ACTION:mailto:{m.group_attendee}"
                )
            )
        lines.append(f"STATUS:{status}")
        lines.append(f"SEQUENCE:{seq}")
        lines.append("TRANSP:OPAQUE")

    def render(self, m: Meeting) -> str:
        lines: list[str] = []
        stamp = _fmt_utc(m.created)
        end_local = m.start + timedelta(minutes=m.minutes)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{m.uid}",
            f"DTSTAMP:{stamp}",
            f"CREATED:{stamp}",
            f"LAST-MODIFIED:{stamp}",
        ]
        if m.all_day:
            lines.append(f"DTSTART;VALUE=DATE:{m.start.strftime('%Y%m%d')}")
            lines.append(f"DTEND;VALUE=DATE:{(m.start + timedelta(days=1)).strftime('%Y%m%d')}")
        else:
            lines.append(f"DTSTART;TZID={m.tz}:{_loc(m.start)}")
            lines.append(f"DTEND;TZID={m.tz}:{_loc(end_local)}")
        if m.freq:
            rule = f"RRULE:FREQ={m.freq}"
            if m.interval > 1:
                rule += f";INTERVAL={m.interval}"
            if m.use_until:
                rule += f";UNTIL={_fmt_utc(local_to_utc(m.local_start(m.count - 1), m.tz))}"
            else:
                rule += f";COUNT={m.count}"
            if m.freq == "WEEKLY":
                days = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
                offs = m.byday or (0,)
                rule += ";BYDAY=" + ",".join(days[(m.start.weekday() + o) % 7] for o in offs)
            lines.append(rule)
            if m.exdates:
                lines.append(
                    f"EXDATE;TZID={m.tz}:"
                    + ",".join(_loc(m.local_start(i)) for i in sorted(m.exdates))
                )
        self._common(m, lines, m.status, m.sequence)
        lines.append("END:VEVENT")
        # overrides: moved and cancelled occurrences (RECURRENCE-ID)
        for i in sorted(set(m.moved) | set(m.cancelled)):
            orig = m.local_start(i)
            new = m.moved.get(i, orig)
            lines += [
                "BEGIN:VEVENT",
                f"UID:{m.uid}",
                f"DTSTAMP:{stamp}",
                f"RECURRENCE-ID;TZID={m.tz}:{_loc(orig)}",
                f"DTSTART;TZID={m.tz}:{_loc(new)}",
                f"DTEND;TZID={m.tz}:{_loc(new + timedelta(minutes=m.minutes))}",
            ]
            self._common(m, lines, "CANCELLED" if i in m.cancelled else "CONFIRMED", m.sequence)
            lines.append("END:VEVENT")
        return (
            "\r\n".join(x if x.startswith(("ATTENDEE", "ORGANIZER")) else fold(x) for x in lines)
            + "\r\n"
        )


def calendar_members(
    meetings: list[Meeting], people: People, users: list[int]
) -> dict[int, list[int]]:
    cal: dict[int, list[int]] = {u: [] for u in users}
    for i, m in enumerate(meetings):
        if m.group_attendee:
            for u in users:
                cal[u].append(i)
            continue
        seen = set()
        for p in [m.organizer] + [a[0] for a in m.attendees]:
            if p in cal and p not in seen:
                seen.add(p)
                cal[p].append(i)
    return cal


def write_calendars(
    root: Path,
    meetings: list[Meeting],
    people: People,
    users: list[int],
    manifest: Manifest,
    progress: Callable[[float], None] | None = None,
) -> dict:
    out_dir = root / "calendar"
    out_dir.mkdir(parents=True, exist_ok=True)
    r = IcsRenderer(people)
    texts: dict[int, str] = {}
    cal = calendar_members(meetings, people, users)
    remaining = [0] * len(meetings)  # calendars still to write per meeting (frees the text cache)
    for u in users:
        for i in cal[u]:
            remaining[i] += 1
    n_events = 0
    for k, u in enumerate(users):
        mine = cal[u]
        path = out_dir / f"{people.email[u]}.ics"
        w = HashingWriter(path)
        tzs = sorted({meetings[i].tz for i in mine if meetings[i].tz})
        head = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Northpeak//revwh demo data//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            f"X-WR-CALNAME:{people.email[u]}",
        ]
        for tz in tzs:
            head += vtimezone(tz)
        w.write("\r\n".join(fold(x) for x in head) + "\r\n")
        for i in mine:
            t = texts.get(i)
            if t is None:
                t = r.render(meetings[i])
                if remaining[i] > 1:
                    texts[i] = t
            remaining[i] -= 1
            if remaining[i] == 0 and i in texts:
                del texts[i]
            w.write(t)
        w.write("END:VCALENDAR\r\n")
        sha = w.close()
        manifest.add(path, len(mine), sha)
        n_events += len(mine)
        if progress:
            progress((k + 1) / len(users))
    return {"calendars": len(users), "series": len(meetings), "calendar_events": n_events}
