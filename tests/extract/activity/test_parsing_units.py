"""The fast paths of the readers, on their own: the usual Date form, cutting an mbox region into
messages, and joining the workers' tables before landing."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from revwh.extract.activity import headers as H
from revwh.extract.activity.mailfiles import scan_region
from revwh.extract.activity.mailrows import MailRows
from revwh.extract.activity.parallel import coalesced
from revwh.extract.activity.privacy import Privacy, PrivacyConfig


def _us(*parts) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp()) * 1_000_000


@pytest.mark.parametrize("value, expected", [
    ("Mon, 06 Nov 2023 15:39:46 +0000", _us(2023, 11, 6, 15, 39, 46)),
    ("Mon, 06 Nov 2023 15:39:46 +0130", _us(2023, 11, 6, 14, 9, 46)),
    ("Mon, 06 Nov 2023 00:10:00 -0500", _us(2023, 11, 6, 5, 10, 0)),
    ("Sat, 31 Dec 2016 23:59:60 +0000", _us(2016, 12, 31, 23, 59, 59)),  # leap second
    ("Thu, 29 Feb 2024 12:00:00 +0000", _us(2024, 2, 29, 12, 0, 0)),
    ("Mon, 6 Nov 2023 15:39:46 +0000", _us(2023, 11, 6, 15, 39, 46)),  # not the usual width
    ("mon, 06 NOV 2023 15:39:46 +0000", _us(2023, 11, 6, 15, 39, 46)),
])
def test_dates_parse_the_same_twice(value, expected):
    # the second parse comes from the caches of day, clock time and offset
    assert H.parse_date_us(value) == expected
    assert H.parse_date_us(value) == expected


@pytest.mark.parametrize("value", [
    "Thu, 29 Feb 2023 12:00:00 +0000",  # no such day
    "Mon, 06 Nov 2023 24:00:00 +0000",
    "Mon, 06 Nov 2023 12:00:00 +2400",  # impossible offset
    "Mon, 06 Xyz 2023 12:00:00 +0000",
    "Mon, 06 Nov 1969 12:00:00 +0000",  # before the supported years
])
def test_impossible_dates_are_errors_every_time(value):
    for _ in range(2):
        with pytest.raises(H.HeaderError):
            H.parse_date_us(value)


def _rows() -> MailRows:
    return MailRows(Privacy(PrivacyConfig(company_domains=("northpeak.io",))), "mail_files")


def _scan(region: bytes, at_eof: bool = True, base: int = 0) -> dict[str, list]:
    rows = _rows()
    scan_region(rows, region, base, at_eof, "box.mbox", "box")
    return {name: t.to_pylist() for name, t in rows.take()}


def test_region_is_cut_at_separators_and_header_ends():
    region = ("From a@x Mon Nov  6 15:39:46 2023\n"
              "Message-ID: <1@x>\nDate: Mon, 06 Nov 2023 15:39:46 +0000\n"
              "Subject: Zoë\n\nbody line\nDate: not a header, in the body\n"
              "From b@x Mon Nov  6 15:40:00 2023\r\n"
              "Message-ID: <2@x>\r\nDate: Mon, 06 Nov 2023 15:40:00 +0000\r\n"
              "To: c@northpeak.io\r\nTo: d@northpeak.io\r\n\r\nbody\r\n"
              "From c@x Mon Nov  6 15:41:00 2023\n"  # headers only, no empty line
              "Message-ID: <3@x>\nDate: Mon, 06 Nov 2023 15:41:00 +0000\n").encode()
    out = _scan(region, base=100)
    emails = out["activity_email"]
    assert [e["message_id"] for e in emails] == ["1@x", "2@x", "3@x"]
    assert emails[0]["subject"] == "Zoë"
    # origins are byte offsets: the second message starts after the two-byte ë
    second = region.index(b"From b@x")
    third = region.index(b"From c@x")
    assert [e["origin"] for e in emails] == [
        "box.mbox@100", f"box.mbox@{100 + second}", f"box.mbox@{100 + third}"]
    assert [(r["message_id"], r["address"], r["position"]) for r in
            out["activity_email_recipient"]] == [("2@x", "c@northpeak.io", 0),
                                                  ("2@x", "d@northpeak.io", 1)]


def test_region_ending_inside_a_header_is_truncated_only_at_the_end_of_the_file():
    region = (b"From a@x Mon Nov  6 15:39:46 2023\n"
              b"Message-ID: <1@x>\nDate: Mon, 06 Nov 2023 15:39:46 +0000\nSubj")
    assert "activity_email" not in _scan(region, at_eof=True)
    assert _scan(region, at_eof=True)["_rejects"][0]["reason"].startswith("truncated")


def test_coalesced_keeps_each_tables_rows_in_order_and_bounds_what_it_holds():
    def table(start: int, n: int) -> pa.Table:
        return pa.table({"i": list(range(start, start + n))})

    items = [("a", table(0, 3)), ("b", table(0, 2)), ("a", table(3, 3)), ("b", table(2, 2)),
             ("a", table(6, 1))]
    out = list(coalesced(iter(items), rows=6))
    # everything held goes once 6 rows wait (8 after the third item); the rest at the end
    assert [(name, t.num_rows) for name, t in out] == [("a", 6), ("b", 2), ("b", 2), ("a", 1)]
    joined = {name: [] for name in "ab"}
    for name, t in out:
        joined[name] += t.column("i").to_pylist()
    assert joined == {"a": list(range(7)), "b": list(range(4))}
