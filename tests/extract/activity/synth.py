"""Synthetic mailboxes and calendars of any size, written fast (for the speed test)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

BODY_MARKER = "SYNTHETIC-BODY-7f3a"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NAMES = ("Jane Doe", '"Smith, Bob"', "=?utf-8?q?Zo=C3=AB_M=C3=BCller?=", "Li Wei",
          "=?utf-8?b?QW5hIE1hcsOtYQ==?=", "Pat O'Brien")


def _rfc(d: datetime) -> str:
    return (f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "
            f"{d:%H:%M:%S} +0000")


def write_mbox(path: Path, messages: int, seed: int = 1) -> int:
    """An mbox of ``messages`` messages with 1-4 recipients; returns the recipient count."""
    rng = random.Random(seed)
    people = [f"{rng.choice(_NAMES)} <rep{i}@northpeak.io>" for i in range(40)] + \
             [f"{rng.choice(_NAMES)} <buyer{i}@customer{i % 50}.com>" for i in range(400)]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    body = f"Hi,\n\n{BODY_MARKER} let us talk about the offer.\n\nRegards\n"
    recipients = 0
    out = []
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for i in range(messages):
            d = t0 + timedelta(minutes=3 * i)
            to = rng.sample(people, rng.randint(1, 3))
            cc = rng.sample(people, 1) if i % 4 == 0 else []
            recipients += len(to) + len(cc)
            head = [f"From x {d:%a %b %d %H:%M:%S %Y}", f"Message-ID: <s{i}.{seed}@example.net>",
                    f"Date: {_rfc(d)}", f"From: {people[i % len(people)]}",
                    "To: " + ",\n ".join(to)]
            if cc:
                head.append("Cc: " + ", ".join(cc))
            if i % 3:
                head.append(f"In-Reply-To: <s{i - 1}.{seed}@example.net>")
                head.append(f"References: <s{max(0, i - 4)}.{seed}@example.net> "
                            f"<s{i - 1}.{seed}@example.net>")
            head += [f"Subject: Re: proposal {i % 700}", "MIME-Version: 1.0",
                     "Content-Type: text/plain; charset=utf-8", "", body]
            out.append("\n".join(head))
            if len(out) >= 2000:
                f.write("\n".join(out) + "\n")
                out = []
        if out:
            f.write("\n".join(out) + "\n")
    return recipients


def write_calendar(path: Path, events: int, seed: int = 1) -> None:
    """A calendar of ``events`` VEVENTs (one in five weekly, COUNT=10), four attendees each."""
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//revwh tests//synthetic//EN"]
    for i in range(events):
        d = datetime(2024, 1, 1) + timedelta(hours=7 * i)
        lines += ["BEGIN:VEVENT", f"UID:syn-{seed}-{i}@test", "DTSTAMP:20240101T000000Z",
                  f"DTSTART;TZID=Europe/Berlin:{d:%Y%m%dT%H%M%S}",
                  f"DTEND;TZID=Europe/Berlin:{d + timedelta(minutes=30):%Y%m%dT%H%M%S}",
                  f"SUMMARY:Meeting {i}", f"DESCRIPTION:{BODY_MARKER}",
                  "ORGANIZER;CN=Rep:mailto:rep1@northpeak.io"]
        for a in range(4):
            lines.append(f'ATTENDEE;CN="Person {a}";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:'
                         f"mailto:p{rng.randrange(300)}@customer{a}.com")
        if i % 5 == 0:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=10")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
