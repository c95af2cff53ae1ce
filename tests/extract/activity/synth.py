"""Synthetic mailboxes and calendars of any size, for the speed test (not fixtures)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

BODY_MARKER = "SYNTHETIC-BODY-7f3a"
_NAMES = ["Jane Doe", "Bob Smith", "Ana María Pérez", "Li Wei", "O'Brien, Pat", "Zoë Müller"]


def _person(rng: random.Random, internal: bool) -> tuple[str, str]:
    name = rng.choice(_NAMES)
    n = rng.randrange(400)
    if internal:
        return name, f"rep{n}@northpeak.io"
    return name, f"buyer{n}@customer{n % 60}.com"


def _fmt(name: str, addr: str) -> str:
    if any(ord(c) > 127 for c in name):
        from email.header import Header
        return f"{Header(name, 'utf-8').encode()} <{addr}>"
    if "," in name:
        return f'"{name}" <{addr}>'
    return f"{name} <{addr}>"


def write_mbox(path: Path, messages: int, seed: int = 1) -> int:
    """An mbox of `messages` messages with 1-4 recipients each; returns recipient count."""
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    recipients = 0
    body = (f"{BODY_MARKER} " + "lorem ipsum dolor sit amet " * 30 + "\n") * 3
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for i in range(messages):
            sender = _person(rng, rng.random() < 0.5)
            to = [_person(rng, rng.random() < 0.3) for _ in range(rng.randint(1, 3))]
            cc = [_person(rng, True)] if rng.random() < 0.3 else []
            recipients += len(to) + len(cc)
            date = t0 + timedelta(minutes=7 * i)
            lines = [f"From {sender[1]} {date:%a %b %d %H:%M:%S %Y}",
                     f"Received: from mx{i % 7}.example.net by mail.northpeak.io; "
                     f"{format_datetime(date)}",
                     f"Message-ID: <m{i}.{seed}@example.net>",
                     f"Date: {format_datetime(date)}",
                     f"From: {_fmt(*sender)}",
                     "To: " + ",\n\t".join(_fmt(*p) for p in to)]
            if cc:
                lines.append("Cc: " + ", ".join(_fmt(*p) for p in cc))
            if i % 3:
                lines.append(f"In-Reply-To: <m{i - 1}.{seed}@example.net>")
                lines.append(f"References: <m{max(0, i - 5)}.{seed}@example.net>\n"
                             f" <m{i - 1}.{seed}@example.net>")
            lines += [f"Subject: Re: proposal {i % 500} for the project",
                      "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "",
                      body]
            f.write("\n".join(lines) + "\n")
    return recipients
