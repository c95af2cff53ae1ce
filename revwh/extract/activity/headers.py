"""Email header parsing, fast and headers-only.

The standard library's full parser reads bodies and builds a tree per message: too slow for
millions of messages and more than we may read. Here a header block (bytes up to the first
empty line) is scanned once with a regular expression for the few fields we keep; RFC 2047
encoded words are decoded only where ``=?`` occurs; addresses are split with a quote-aware
pattern and fall back to :func:`email.utils.getaddresses` only for comments and groups.

Bad input raises :class:`HeaderError` with a reason: the caller turns it into a reject.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parsedate_tz

MAX_HEADER_BYTES = 1 << 20  # a header block above 1 MB is rejected, never parsed

_ANY_FIELD = re.compile(r"^([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
_ANY_FIELD_B = re.compile(rb"^([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_UNFOLD_B = re.compile(rb"\r?\n(?=[ \t])")
KEPT = frozenset(("message-id", "in-reply-to", "references", "date", "from", "to", "cc",
                  "subject"))
_KEPT_B = {k.encode(): k for k in KEPT}
_MSGID = re.compile(r"<([^<>\s]+)>")
_EW = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_ADDR_ITEMS = re.compile(r'(?:"(?:[^"\\]|\\.)*"|<[^>]*>|[^,"<]+)+')
_QUOTED_PAIR = re.compile(r"\\(.)")
_DATE = re.compile(
    r"\s*(?:[A-Za-z]{3,9},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{2,4})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{4})?\s*(?:\([^)]*\))?\s*$")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
MIN_YEAR, MAX_YEAR = 1970, 2200


class HeaderError(ValueError):
    """A header that cannot be read; the message is the reject reason."""


def header_end(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """(end of the header block, start of the body) in ``data[start:end]``, or (-1, -1) if it
    holds no empty line."""
    if end is None:
        end = len(data)
    a = data.find(b"\n\n", start, end)
    b = data.find(b"\n\r\n", start, a + 1 if a >= 0 else end)
    if b >= 0:
        return b + 1, b + 3
    if a >= 0:
        return a + 1, a + 2
    return -1, -1


def fields(block: bytes) -> dict[str, str]:
    """The kept fields of a header block, unfolded and stripped, as text (first occurrence
    wins; To and Cc occurring twice are joined). Raises HeaderError if a kept field is neither
    ASCII nor UTF-8 (other fields may hold anything: they are not read)."""
    try:
        s = block.decode("utf-8")
    except UnicodeDecodeError:
        return {k: text(k, v) for k, v in raw_fields(block).items()}
    out: dict[str, str] = {}
    for name, value in _ANY_FIELD.findall(s):
        k = name.lower()
        if k not in KEPT:
            continue
        if "\n" in value:
            value = _UNFOLD.sub("", value)
        value = value.strip()
        if k in out:
            if (k == "to" or k == "cc") and value:
                out[k] = out[k] + ", " + value
            continue
        out[k] = value
    return out


def raw_fields(block: bytes) -> dict[str, bytes]:
    """Like :func:`fields`, as bytes (for blocks that are not UTF-8 as a whole)."""
    out: dict[str, bytes] = {}
    for name, value in _ANY_FIELD_B.findall(block):
        k = _KEPT_B.get(name.lower())
        if k is None:
            continue
        if b"\n" in value:
            value = _UNFOLD_B.sub(b"", value)
        value = value.strip()
        if k in out:
            if k in ("to", "cc") and value:
                out[k] = out[k] + b", " + value
            continue
        out[k] = value
    return out


def text(name: str, value: bytes) -> str:
    """Header bytes as text: ASCII, or UTF-8 (RFC 6532); anything else is an illegal encoding."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError(f"illegal encoding in {name}: 8-bit bytes that are not UTF-8 "
                          f"(byte 0x{value[exc.start]:02x} at {exc.start})") from None


def _ew_bytes(charset: str, enc: str, payload: str, field: str) -> tuple[str, bytes]:
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        raise HeaderError(f"illegal encoding in {field}: unknown charset {charset!r} "
                          "in an RFC 2047 encoded word") from None
    try:
        if enc in "bB":
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
        else:
            raw = binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise HeaderError(f"illegal encoding in {field}: a {enc.upper()}-encoded word that "
                          "does not decode") from None
    return codec, raw


def decode_words(value: str, field: str = "header") -> str:
    """Decode RFC 2047 encoded words; whitespace between adjacent encoded words is dropped and
    adjacent words of one charset are joined before decoding (a character may be split)."""
    if "=?" not in value:
        return value
    parts: list[str] = []
    pos = 0
    pending_codec: str | None = None
    pending = b""

    def flush() -> None:
        nonlocal pending, pending_codec
        if pending_codec is not None:
            try:
                parts.append(pending.decode(pending_codec))
            except UnicodeDecodeError:
                raise HeaderError(f"illegal encoding in {field}: bytes that are not "
                                  f"{pending_codec}") from None
        pending, pending_codec = b"", None

    for m in _EW.finditer(value):
        between = value[pos:m.start()]
        if between and (pending_codec is None or between.strip()):
            flush()
            parts.append(between)
        codec, raw = _ew_bytes(m.group(1), m.group(2), m.group(3), field)
        if pending_codec is not None and codec != pending_codec:
            flush()
        pending_codec = codec
        pending += raw
        pos = m.end()
    flush()
    parts.append(value[pos:])
    return "".join(parts)


def message_id(value: str) -> str | None:
    """``<abc@host>`` -> ``abc@host`` (angle brackets and whitespace dropped, case kept)."""
    if value[:1] == "<" and value[-1:] == ">" and value.count("<") == 1 and " " not in value:
        return value[1:-1] or None
    m = _MSGID.search(value)
    if m:
        return m.group(1)
    v = value.strip().strip("<>").strip()
    return v.split()[0] if v else None


def message_ids(value: str) -> list[str]:
    """All ids of a References/In-Reply-To field, in order."""
    if value[:1] == "<" and value[-1:] == ">" and "(" not in value and "," not in value:
        return value[1:-1].replace(">", " ").replace("<", " ").split()
    found = _MSGID.findall(value)
    if found:
        return found
    return [v.strip("<>") for v in value.replace(",", " ").split() if v.strip("<>")]


def addresses(value: str, field: str = "address") -> list[tuple[str, str]]:
    """[(display name, address)] of an address-list field; names are RFC 2047-decoded."""
    if not value:
        return []
    if "(" in value or ";" in value or ":" in value:
        items = None
        pairs = getaddresses([value])
    elif "," in value or '"' in value:
        items = _ADDR_ITEMS.findall(value)
    else:
        items = (value,)
    if items is not None:
        pairs = []
        for item in items:
            lt = item.rfind("<")
            if lt >= 0:
                gt = item.find(">", lt)
                addr = item[lt + 1:gt] if gt > 0 else item[lt + 1:]
                name = item[:lt].strip()
                if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
                    name = name[1:-1]
                    if "\\" in name:
                        name = _QUOTED_PAIR.sub(r"\1", name)
            else:
                addr, name = item, ""
            pairs.append((name, addr))
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        addr = addr.strip()
        if not addr:
            continue
        if name and "=?" in name:
            name = decode_words(name, field)
        out.append((name.strip(), addr))
    return out


_MONTH_START: dict[tuple[int, int], tuple[int, int]] = {}


def _month(y: int, m: int) -> tuple[int, int]:
    """(days from the epoch to the 1st of the month, days in the month)."""
    hit = _MONTH_START.get((y, m))
    if hit is None:
        first = (datetime(y, m, 1) - _EPOCH).days
        nxt = (datetime(y + (m == 12), m % 12 + 1, 1) - _EPOCH).days
        hit = _MONTH_START[(y, m)] = (first, nxt - first)
    return hit


# parts of the usual date form, each parsed once: messages share days, clock times and offsets
_MISSING = object()
_DAYS: dict[str, int | None] = {}
_CLOCKS: dict[str, int | None] = {}
_OFFSETS: dict[str, int | None] = {}
_PART_CACHE_LIMIT = 200_000


def _day(v: str) -> int | None:
    """``Mon, 06 Nov 2023`` -> days from the epoch, or None."""
    try:
        month = _MONTHS[v[8:11].lower()]
        y = int(v[12:16])
        d = int(v[5:7])
    except (KeyError, ValueError):
        return None
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    first, length = _month(y, month)
    return first + d - 1 if 1 <= d <= length else None


def _clock(v: str) -> int | None:
    """``15:39:46`` -> seconds of the day (a leap second counts as :59), or None."""
    try:
        hh, mm, ss = int(v[0:2]), int(v[3:5]), int(v[6:8])
    except ValueError:
        return None
    return hh * 3600 + mm * 60 + min(ss, 59) if hh < 24 and mm < 60 and ss < 61 else None


def _offset(v: str) -> int | None:
    """``+0100`` -> seconds east of UTC, or None."""
    try:
        oh, om = int(v[1:3]), int(v[3:5])
    except ValueError:
        return None
    if not (oh < 24 and om < 60 and v[0] in "+-"):
        return None
    return (oh * 3600 + om * 60) * (-1 if v[0] == "-" else 1)


def _part(cache: dict, key: str, parse) -> int | None:
    hit = cache.get(key, _MISSING)
    if hit is _MISSING:
        if len(cache) > _PART_CACHE_LIMIT:
            cache.clear()
        hit = cache[key] = parse(key)
    return hit


def _fast_date(v: str) -> int | None:
    """``Mon, 06 Nov 2023 15:39:46 +0000`` (the usual form), or None for anything else."""
    if len(v) != 31 or v[3] != "," or v[16] != " " or v[19] != ":" or v[25] != " ":
        return None
    day = _DAYS.get(v[:16], _MISSING)
    if day is _MISSING:
        day = _part(_DAYS, v[:16], _day)
    clock = _CLOCKS.get(v[17:25], _MISSING)
    if clock is _MISSING:
        clock = _part(_CLOCKS, v[17:25], _clock)
    off = _OFFSETS.get(v[26:], _MISSING)
    if off is _MISSING:
        off = _part(_OFFSETS, v[26:], _offset)
    if day is None or clock is None or off is None:
        return None
    return (day * 86400 + clock - off) * 1_000_000


def parse_date_us(value: str) -> int:
    """An RFC 5322 date as microseconds since the epoch (UTC)."""
    fast = _fast_date(value)
    if fast is not None:
        return fast
    m = _DATE.match(value)
    if m and m.group(7):
        day, mon, year, hh, mm, ss, off = m.groups()
        month = _MONTHS.get(mon.lower())
        y = int(year)
        if len(year) == 2:
            y += 2000 if y < 50 else 1900
        try:
            if month is None:
                raise ValueError(mon)
            dt = datetime(y, month, int(day), int(hh), int(mm), min(int(ss or 0), 59))
        except ValueError:
            raise HeaderError(f"Date: {value[:80]!r} is not a valid date") from None
        sign = -1 if off[0] == "-" else 1
        if int(off[1:3]) > 23 or int(off[3:5]) > 59:
            raise HeaderError(f"Date: {value[:80]!r} has an impossible UTC offset")
        offset = sign * (int(off[1:3]) * 3600 + int(off[3:5]) * 60)
        us = (dt - _EPOCH) // _US - offset * 1_000_000
    else:
        parsed = parsedate_tz(value)
        if parsed is None or parsed[0] is None:
            raise HeaderError(f"Date: {value[:80]!r} is not an RFC 5322 date")
        try:
            y = parsed[0]
            dt = datetime(*parsed[:5], min(parsed[5], 59))
        except (ValueError, TypeError):
            raise HeaderError(f"Date: {value[:80]!r} is not a valid date") from None
        us = (dt - _EPOCH) // _US - (parsed[9] or 0) * 1_000_000
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise HeaderError(f"Date: {value[:80]!r} is outside {MIN_YEAR}-{MAX_YEAR}")
    return us


def us_to_datetime(us: int) -> datetime:
    return (_EPOCH + timedelta(microseconds=us)).replace(tzinfo=UTC)
