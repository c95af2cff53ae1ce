"""Time helpers. Every instant is int seconds since the Unix epoch (UTC); no wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86400
HOUR = 3600
_EPOCH = date(1970, 1, 1)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_of(d: date) -> int:
    return (d - _EPOCH).days


def ts_of(d: date) -> int:
    return day_of(d) * DAY


def date_of_day(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


def civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised days-since-epoch -> (year, month, day) (H. Hinnant's algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = np.where(m <= 2, y + 1, y)
    return y, m, d


@lru_cache(maxsize=1)
def hms_table() -> list[str]:
    """``HH:MM:SS`` for every second of a day."""
    return [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def fmt_ts(secs) -> list[str]:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) for an array of epoch seconds."""
    a = np.asarray(secs, dtype=np.int64)
    if a.size == 0:
        return []
    days = a // DAY
    sod = (a - days * DAY).tolist()
    d0 = int(days.min())
    dstr = [
        x + " "
        for x in np.datetime_as_string(
            np.arange(d0, int(days.max()) + 1).astype("datetime64[D]"), unit="D"
        ).tolist()
    ]
    hms = hms_table()
    return [dstr[d] + hms[s] for d, s in zip((days - d0).tolist(), sod)]


def fmt_ts1(sec: int) -> str:
    x = str(np.datetime64(int(sec), "s"))
    return x[:10] + " " + x[11:]


def fmt_date(days) -> list[str]:
    a = np.asarray(days, dtype=np.int64)
    if a.size == 0:
        return []
    return np.datetime_as_string(a.astype("datetime64[D]"), unit="D").tolist()


def fmt_date1(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def fmt_sf_ts(sec: int) -> str:
    """Salesforce REST datetime: ``2024-01-05T10:00:00.000+0000``."""
    return str(np.datetime64(int(sec), "s")) + ".000+0000"


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def offset_table(tz: str, year0: int = 2021, year1: int = 2029) -> tuple[np.ndarray, np.ndarray]:
    """(transition instants, offset seconds after each) for ``tz`` between the years."""
    zi = zone(tz)
    start = int(datetime(year0, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year1, 1, 1, tzinfo=UTC).timestamp())

    def off(t: int) -> int:
        return int(datetime.fromtimestamp(t, tz=zi).utcoffset().total_seconds())

    points = [start]
    offs = [off(start)]
    t = start
    while t < end:
        t2 = t + DAY
        o2 = off(t2)
        if o2 != offs[-1]:
            lo, hi = t, t2  # offset changes in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if off(mid) == offs[-1]:
                    lo = mid
                else:
                    hi = mid
            points.append(hi)
            offs.append(o2)
        t = t2
    return np.array(points, dtype=np.int64), np.array(offs, dtype=np.int64)


def utc_offsets(secs: np.ndarray, tz_idx: np.ndarray, tz_names: list[str]) -> np.ndarray:
    """UTC offset in seconds of each instant in its time zone (tz_idx indexes tz_names)."""
    out = np.zeros(len(secs), dtype=np.int64)
    for i, name in enumerate(tz_names):
        sel = tz_idx == i
        if not sel.any():
            continue
        pts, offs = offset_table(name)
        pos = np.searchsorted(pts, secs[sel], side="right") - 1
        out[sel] = offs[np.clip(pos, 0, len(offs) - 1)]
    return out


def local_to_utc(local: datetime, tz: str) -> int:
    """Epoch seconds of a naive local wall time in ``tz``."""
    return int(local.replace(tzinfo=zone(tz)).timestamp())


def utc_to_local(sec: int, tz: str) -> datetime:
    return datetime.fromtimestamp(sec, tz=zone(tz)).replace(tzinfo=None)
