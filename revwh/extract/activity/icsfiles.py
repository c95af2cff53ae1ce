"""Calendar files (.ics, RFC 5545): one meeting row per occurrence in the extraction window.

How a file is read:

1. The file is scanned for its VTIMEZONE and VEVENT blocks (byte offsets only).
2. VTIMEZONE blocks are parsed by icalendar, which registers them: custom TZIDs such as
   Outlook's ``W. Europe Standard Time`` resolve through their definition (or icalendar's
   Windows-to-Olson table), IANA names through zoneinfo.
3. Each VEVENT's content lines are split here; the properties that define *when* it happens
   (DTSTART, DTEND, DURATION, RRULE, RDATE, EXDATE, RECURRENCE-ID, SEQUENCE) become an
   icalendar ``Event`` through icalendar's own value parsers, and recurring-ical-events expands
   each UID's series (master + RECURRENCE-ID overrides, EXDATEs, COUNT/UNTIL) in the window.
   Descriptions, locations, attachments and alarms are never parsed: only UID, times, STATUS,
   SEQUENCE, CLASS, SUMMARY (subject privacy applies; dropped for CLASS:PRIVATE/CONFIDENTIAL),
   ORGANIZER and ATTENDEE (with PARTSTAT and ROLE) are read.
4. Times land in UTC. Floating times are resolved in the calendar's X-WR-TIMEZONE (Google
   exports), else ``settings.extra["calendar_default_timezone"]`` (default UTC); Google's UTC
   times with X-WR-TIMEZONE are expanded in that zone so weekly meetings keep their local hour
   across DST. All-day events land at midnight of their date with ``is_all_day``.

A broken VEVENT (no UID, bad date, unknown TZID, bad RRULE, truncated) is a reject with its
reason and the rest of the file loads; a file that is not iCalendar at all is one reject.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.extract.activity.tables import ATTENDEE, MEETING, Columns, Rejects

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1 << 30
PART_BYTES = 8 << 20  # a calendar file is processed in parts of about this many bytes of events
ROWS_PER_CHUNK = 50_000
ID_SEPARATOR = "/"  # meeting_id = UID + "/" + RECURRENCE-ID for occurrences of a series
CACHE_GROUPS = 60_000  # expanded series remembered per process (~half of S=10 per worker)

_CACHE: OrderedDict[bytes, list[tuple]] = OrderedDict()


def _remember(key: bytes, rows: list[tuple]) -> None:
    _CACHE[key] = rows
    if len(_CACHE) > CACHE_GROUPS:
        _CACHE.popitem(last=False)

_COMPONENT = re.compile(rb"^BEGIN:(VEVENT|VTIMEZONE)[ \t]*\r?$", re.MULTILINE)
_UNFOLD = re.compile(r"\r?\n[ \t]")
_PARAM = re.compile(r';([A-Za-z0-9-]+)=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)')
_CAL_PROP = re.compile(rb"^(X-WR-TIMEZONE|METHOD|CALSCALE)(?:;[^:\r\n]*)?:([^\r\n]*)",
                       re.MULTILINE | re.IGNORECASE)
_TEXT_ESC = re.compile(r"\\([\\;,nN])")
_TIME_PROPS = frozenset(("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
                         "RECURRENCE-ID"))
_READ = _TIME_PROPS | {"UID", "SEQUENCE", "STATUS", "SUMMARY", "ORGANIZER", "ATTENDEE", "CLASS"}
_RAW_SAFE = _TIME_PROPS | {"UID", "SEQUENCE", "STATUS", "BEGIN", "END"}
_EPOCH = datetime(1970, 1, 1)
_UTC_ZONE = ZoneInfo("UTC")  # what icalendar gives a "Z" time
_US = timedelta(microseconds=1)
_UTC = UTC


class EventError(ValueError):
    """A VEVENT that cannot be read; the message is the reject reason."""


@dataclass
class CalendarTask:
    path: str
    key: str  # path relative to the calendar root
    calendar: str
    windows: list[tuple[str, str]]  # [(start, end)] ISO dates, UTC midnight
    part: int = 0
    parts: int = 1
    default_tz: str = "UTC"
    report_rejects: bool = True  # False when only new days of an unchanged file are expanded


@dataclass
class Prop:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class EventData:
    """What one VEVENT says, besides its times: read once, used for each of its occurrences."""

    offset: int
    uid: str
    props: dict[str, list[Prop]]
    status: str | None = None
    sequence: int = 0
    summary: str | None = None
    private: bool = False
    organizer: tuple | None = None  # (address, name, domain, internal, hashed)
    # (address, name, partstat, role, domain, is_internal, is_hashed) per ATTENDEE
    attendees: list[tuple] = field(default_factory=list)
    _columns: tuple | None = None

    def attendee_columns(self, organizer: str | None) -> tuple:
        """The attendees as columns (+ is_organizer), built once per component."""
        if self._columns is None or self._columns[0] != organizer:
            cols = tuple(list(c) for c in zip(*self.attendees)) if self.attendees else \
                tuple([] for _ in range(7))
            self._columns = (organizer, cols + ([a == organizer for a in cols[0]],))
        return self._columns[1]


# -- content lines ----------------------------------------------------------------------------
def _param_value(v: str) -> str:
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    if "^" in v:  # RFC 6868
        v = v.replace("^n", "\n").replace("^'", '"').replace("^^", "^")
    return v


_LINE = re.compile(r'\n([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,\r\n]*)'
                   r'(?:,(?:"[^"]*"|[^";:,\r\n]*))*)*):([^\r\n]*)')


def parse_lines(block: str) -> dict[str, list[Prop]]:
    """The properties of a VEVENT that we read (top level only: VALARMs are skipped)."""
    text = "\n" + _UNFOLD.sub("", block).strip("\r\n")
    props: dict[str, list[Prop]] = {}
    depth = 0
    lines = _LINE.findall(text)
    for name, raw_params, value in lines:
        name = name.upper()
        if name == "BEGIN":
            depth += 1
            continue
        if name == "END":
            depth -= 1
            continue
        if depth != 1 or name not in _READ:
            continue
        params = {k.upper(): _param_value(v) for k, v in _PARAM.findall(raw_params)} \
            if raw_params else {}
        props.setdefault(name, []).append(Prop(name, params, value))
    if len(lines) != text.count("\n"):
        for i, line in enumerate(text.split("\n")[1:], 1):
            if not _LINE.match("\n" + line.rstrip("\r")):
                # the line itself is not quoted: it may be a description or an address
                name = re.match(r"[A-Za-z0-9-]*", line).group(0).upper() or "?"
                raise EventError(f"malformed content line {i} of the VEVENT (property {name})")
    return props


def unescape_text(value: str) -> str:
    if "\\" not in value:
        return value
    return _TEXT_ESC.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _cal_address(value: str) -> str:
    v = value.strip()
    if v[:7].lower() == "mailto:":
        v = v[7:]
    return v


# -- time properties through icalendar ----------------------------------------------------------
def _known_tzid(tzid: str) -> bool:
    from icalendar.timezone import tzp

    return tzp.timezone(tzid) is not None


def _is_utc(dt) -> bool:
    tz = getattr(dt, "tzinfo", None)
    return tz is not None and (tz is _UTC or getattr(tz, "key", None) == "UTC")


_TZ_CACHE: dict[str, object] = {}


def _tz(tzid: str):
    tz = _TZ_CACHE.get(tzid)
    if tz is None:
        from icalendar.timezone import tzp

        tz = tzp.timezone(tzid)
        if tz is None:
            raise EventError(f"unknown TZID {tzid!r} (no VTIMEZONE in the file and not an IANA "
                             "or Windows zone name)")
        _TZ_CACHE[tzid] = tz
    return tz


def _fast_dt(value: str, tzid: str | None, is_date: bool):
    """The common forms (``20240314``, ``20240314T100000``, ``...Z``) as icalendar reads them;
    None for anything else (icalendar's parser then decides)."""
    n = len(value)
    if not value[:8].isdigit():
        return None
    try:
        if n == 8:
            return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        if is_date or value[8] != "T" or not value[9:15].isdigit() or n not in (15, 16):
            return None
        dt = datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                      int(value[11:13]), int(value[13:15]))
    except ValueError:
        return None
    if n == 16:
        return dt.replace(tzinfo=_UTC_ZONE) if value[15] == "Z" else None
    if tzid:
        return dt.replace(tzinfo=_tz(tzid))
    return dt


def _dt(prop: Prop, zone=None):
    from icalendar import vDDDTypes

    tzid = prop.params.get("TZID")
    value = prop.value.strip()
    is_date = prop.params.get("VALUE", "").upper() == "DATE"
    if is_date and len(value) > 8:
        value = value[:8]
    dt = _fast_dt(value, tzid, is_date)
    if dt is not None:
        if zone is not None and dt.tzinfo is _UTC_ZONE:
            dt = dt.astimezone(zone)
        return dt
    try:
        dt = vDDDTypes.from_ical(value, timezone=tzid) if tzid else vDDDTypes.from_ical(value)
    except Exception as exc:  # noqa: BLE001
        raise EventError(f"{prop.name}: {prop.value[:60]!r} is not a valid date or time "
                         f"({exc})") from None
    if tzid and isinstance(dt, datetime) and dt.tzinfo is None and not _known_tzid(tzid):
        raise EventError(f"{prop.name}: unknown TZID {tzid!r} (no VTIMEZONE in the file and "
                         "not an IANA or Windows zone name)")
    if isinstance(dt, tuple) or not isinstance(dt, (date, datetime)):
        raise EventError(f"{prop.name}: {prop.value[:60]!r} is not a date or time")
    if zone is not None and _is_utc(dt):
        dt = dt.astimezone(zone)
    return dt


def build_event(ev: EventData, zone=None):
    """An icalendar Event holding only the properties that define when ``ev`` happens.

    ``zone``: the calendar's X-WR-TIMEZONE; UTC times are moved into it (as x-wr-timezone
    does), so that a rule repeats at the same local hour across DST."""
    from icalendar import Event, vDDDLists, vDDDTypes, vDuration, vRecur

    p = ev.props
    if "DTSTART" not in p:
        raise EventError("VEVENT without DTSTART")
    e = Event()
    e["UID"] = ev.uid
    e["SEQUENCE"] = ev.sequence
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        if name in p:
            e[name] = vDDDTypes(_dt(p[name][0], zone))
            if name == "RECURRENCE-ID" and p[name][0].params.get("RANGE", "").upper() == \
                    "THISANDFUTURE":
                e[name].params["RANGE"] = "THISANDFUTURE"
    if "DURATION" in p and "DTEND" not in p:
        try:
            e["DURATION"] = vDuration(vDuration.from_ical(p["DURATION"][0].value.strip()))
        except Exception:  # noqa: BLE001
            raise EventError(f"DURATION: {p['DURATION'][0].value[:40]!r} is not a duration") \
                from None
    if "RRULE" in p:
        rules = []
        for prop in p["RRULE"]:
            try:
                rules.append(vRecur.from_ical(prop.value.strip()))
            except Exception:  # noqa: BLE001
                raise EventError(f"RRULE: {prop.value[:80]!r} is not a recurrence rule") from None
        e["RRULE"] = rules[0] if len(rules) == 1 else rules
    for name in ("EXDATE", "RDATE"):
        if name in p:
            lists = []
            for prop in p[name]:
                tzid = prop.params.get("TZID")
                value = prop.value.strip()
                try:
                    dts = vDDDLists.from_ical(value, timezone=tzid) if tzid else \
                        vDDDLists.from_ical(value)
                except Exception:  # noqa: BLE001
                    raise EventError(f"{name}: {value[:60]!r} is not a list of dates") from None
                if zone is not None:
                    dts = [d.astimezone(zone) if _is_utc(d) else d for d in dts]
                lists.append(vDDDLists(dts))
            e[name] = lists[0] if len(lists) == 1 else lists
    start = e["DTSTART"].dt
    if "DTEND" in e:
        end = e["DTEND"].dt
        if type(end) is not type(start) and not (isinstance(start, datetime) and
                                                  isinstance(end, datetime)):
            raise EventError("DTSTART and DTEND mix a date and a date-time")
    return e


def single_span(ev: EventData, zone=None):
    """(start, end) of a VEVENT without recurrence, as recurring-ical-events computes them:
    DTEND, else DTSTART + DURATION, else one day for a date and zero time for a date-time."""
    p = ev.props
    if "DTSTART" not in p:
        raise EventError("VEVENT without DTSTART")
    start = _dt(p["DTSTART"][0], zone)
    if "DTEND" in p:
        end = _dt(p["DTEND"][0], zone)
        if isinstance(start, datetime) != isinstance(end, datetime):
            raise EventError("DTSTART and DTEND mix a date and a date-time")
    elif "DURATION" in p:
        from icalendar import vDuration

        try:
            duration = vDuration.from_ical(p["DURATION"][0].value.strip())
        except Exception:  # noqa: BLE001
            raise EventError(f"DURATION: {p['DURATION'][0].value[:40]!r} is not a duration") \
                from None
        if not isinstance(start, datetime) and duration.seconds:
            start = datetime(start.year, start.month, start.day)
        end = start + duration
    elif isinstance(start, datetime):
        end = start
    else:
        end = start + timedelta(days=1)
    if isinstance(start, datetime) and (start.tzinfo is None) != (end.tzinfo is None):
        end = end.replace(tzinfo=start.tzinfo)  # recurring-ical-events makes them comparable
    if end < start:
        start, end = end, start
    return start, end


# -- the file -----------------------------------------------------------------------------------
@dataclass
class Scan:
    data: bytes
    vtimezones: list[bytes]
    events: list[tuple[int, int]]  # (start, end) of each VEVENT block
    truncated: list[int]  # offsets of VEVENTs without END
    props: dict[str, str]


def scan(data: bytes) -> Scan:
    if b"BEGIN:VCALENDAR" not in data[:65536].upper():
        raise EventError("not an iCalendar file: no BEGIN:VCALENDAR")
    vtz, events, truncated = [], [], []
    pos = 0
    first = None
    while True:
        m = _COMPONENT.search(data, pos)
        if not m:
            break
        kind = m.group(1)
        first = m.start() if first is None else first
        end_tag = b"\nEND:" + kind
        e = data.find(end_tag, m.end())
        nxt = _COMPONENT.search(data, m.end())
        if e < 0 or (nxt is not None and nxt.start() < e and kind == b"VEVENT"):
            if kind == b"VEVENT":
                truncated.append(m.start())
            pos = m.end()
            continue
        stop = data.find(b"\n", e + len(end_tag))
        stop = len(data) if stop < 0 else stop + 1
        if kind == b"VTIMEZONE":
            vtz.append(data[m.start():stop])
        else:
            events.append((m.start(), stop))
        pos = stop
    head = data[:first] if first is not None else data[:65536]
    props = {}
    for m in _CAL_PROP.finditer(head):
        props.setdefault(m.group(1).decode().upper(), m.group(2).decode("utf-8", "replace").strip())
    return Scan(data, vtz, events, truncated, props)


_REGISTERED: set[bytes] = set()  # VTIMEZONE blocks this process has had icalendar parse


def register_timezones(blocks: list[bytes]) -> None:
    """Let icalendar parse the file's VTIMEZONEs (it caches custom ones by TZID, the first
    definition of a TZID wins). Blocks all parsed before, byte for byte, would change nothing:
    they are not parsed again (calendars of one company share their zones)."""
    if not blocks or _REGISTERED.issuperset(blocks):
        return
    import icalendar

    icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + b"".join(blocks)
                                 + b"END:VCALENDAR\r\n")
    _REGISTERED.update(blocks)


# id(tzinfo) -> (tzinfo, its name): a few zones, asked for on every occurrence (by id: some
# tzinfo classes are not hashable; the tzinfo is kept so that its id is never reused)
_TZ_NAMES: dict[int, tuple] = {}


def tz_name(value) -> str | None:
    """A readable zone name for the timezone column."""
    if not isinstance(value, datetime):
        return None
    tz = value.tzinfo
    if tz is None:
        return None
    hit = _TZ_NAMES.get(id(tz))
    if hit is None:
        hit = _TZ_NAMES[id(tz)] = (tz, _zone_name(tz))
    return hit[1]


def _zone_name(tz) -> str:
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if key:
        return key
    name = getattr(tz, "_tzid", None) or str(tz)
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    return WINDOWS_TO_OLSON.get(name, name)


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // _US


class CalendarReader:
    """Reads the events of one file part into meeting and attendee columns."""

    def __init__(self, task: CalendarTask, privacy: Privacy, source: str):
        self.task = task
        self.privacy = privacy
        self.meetings = Columns(MEETING)
        self.attendees = Columns(ATTENDEE)
        self.rejects = Rejects(source)
        self._m = self.meetings.lists(
            "meeting_id", "uid", "recurrence_id", "calendar", "summary", "starts_at", "ends_at",
            "is_all_day", "status", "organizer", "sequence", "organizer_name",
            "organizer_domain", "is_internal_organizer", "organizer_is_hashed", "timezone",
            "is_recurring", "subject_mode", "origin", "provider_id", "is_deleted")
        self._a = self.attendees.lists(
            "meeting_id", "address", "name", "partstat", "role", "calendar", "domain",
            "is_internal", "address_is_hashed", "is_organizer")
        self.windows = [(datetime.fromisoformat(a), datetime.fromisoformat(b))
                        for a, b in task.windows]

    # rejects keep only what privacy allows, never descriptions
    def _raw(self, block: str) -> str:
        keep = set(_RAW_SAFE)
        if self.privacy.subject_mode == "keep":
            keep.add("SUMMARY")
        if not self.privacy.hash_external:
            keep |= {"ORGANIZER", "ATTENDEE"}
        out = []
        for line in _UNFOLD.sub("", block).split("\n"):
            name = re.split(r"[;:]", line, maxsplit=1)[0].upper()
            if name in keep:
                out.append(line.rstrip("\r"))
        return "\n".join(out)

    def reject(self, data: bytes, offset: int, reason: str, block: str = "") -> None:
        if not self.task.report_rejects:
            return  # reported when the file was first read
        line = data.count(b"\n", 0, offset) + 1
        self.rejects.add(MEETING, f"{self.task.key}@{offset}", line, reason,
                         self._raw(block) if block else "")

    def _event(self, data: bytes, start: int, stop: int) -> EventData | None:
        raw = data[start:stop]
        try:
            block = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.reject(data, start, f"illegal encoding: bytes that are not UTF-8 (byte "
                        f"0x{raw[exc.start]:02x})", raw.decode("utf-8", "replace"))
            return None
        try:
            props = parse_lines(block)
            uid = props.get("UID")
            if not uid or not uid[0].value.strip():
                raise EventError("VEVENT without UID")
            ev = EventData(offset=start, uid=uid[0].value.strip(), props=props)
            seq = props.get("SEQUENCE")
            if seq:
                try:
                    ev.sequence = int(seq[0].value.strip())
                except ValueError:
                    raise EventError(f"SEQUENCE: {seq[0].value[:20]!r} is not a number") from None
            status = props.get("STATUS")
            ev.status = status[0].value.strip().upper() if status else None
            cls = props.get("CLASS")
            ev.private = bool(cls) and cls[0].value.strip().upper() in ("PRIVATE", "CONFIDENTIAL")
            summary = props.get("SUMMARY")
            if summary and not ev.private and self.privacy.subject_mode != "drop":
                ev.summary = unescape_text(summary[0].value)
            p = self.privacy
            org = props.get("ORGANIZER")
            if org:
                addr, domain, internal, hashed = p.address(_cal_address(org[0].value))
                if addr:
                    ev.organizer = (addr, None if hashed else (org[0].params.get("CN") or None),
                                    domain, internal, hashed)
            for a in props.get("ATTENDEE", ()):
                addr, domain, internal, hashed = p.address(_cal_address(a.value))
                if not addr:
                    self.reject(data, start, "ATTENDEE without an address", "")
                    continue
                ev.attendees.append((
                    addr, None if hashed else (a.params.get("CN") or None),
                    a.params.get("PARTSTAT", "NEEDS-ACTION").upper(),
                    a.params.get("ROLE", "REQ-PARTICIPANT").upper(), domain, internal, hashed))
            return ev
        except EventError as exc:
            self.reject(data, start, str(exc), block)
            return None

    def read(self, path: str) -> list[tuple[str, pa.Table]]:
        out: list[tuple[str, pa.Table]] = []
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            if self.task.report_rejects:
                self.rejects.add(MEETING, self.task.key, None,
                                 f"file above the {MAX_FILE_BYTES} byte limit", "")
            return self.take()
        try:
            sc = scan(data)
        except EventError as exc:
            if self.task.report_rejects:
                self.rejects.add(MEETING, self.task.key, None, str(exc), "")
            return self.take()
        task = self.task
        if task.part == 0:
            for off in sc.truncated:
                self.reject(data, off, "truncated: VEVENT without END:VEVENT")
        try:
            register_timezones(sc.vtimezones)
        except Exception as exc:  # noqa: BLE001 (a bad VTIMEZONE: its events are rejected)
            log.warning("calendar %s: VTIMEZONE not readable: %s", task.key, exc)
        method = sc.props.get("METHOD", "").upper()
        x_wr = _zone(sc.props.get("X-WR-TIMEZONE") or None)
        floating_tz = x_wr or _zone(task.default_tz) or _UTC
        context = repr((task.windows, sc.props.get("X-WR-TIMEZONE"), task.default_tz, method,
                        self.privacy.config)).encode()
        groups: dict[bytes, list[tuple[int, int]]] = {}
        for start, stop in sc.events:
            uid_key = _uid_of(data, start, stop)
            if task.parts > 1 and zlib.crc32(uid_key) % task.parts != task.part:
                continue
            groups.setdefault(uid_key, []).append((start, stop))
        for blocks in groups.values():
            # the same meeting, byte for byte, is in every attendee's calendar: expand it once
            key = hashlib.blake2b(context, digest_size=20)
            for a, b in blocks:
                key.update(data[a:b])
            digest = key.digest()
            rows = _CACHE.get(digest)
            if rows is None:
                before = len(self.rejects)
                rows = self._expand(data, blocks, method, x_wr, floating_tz)
                if len(self.rejects) == before:
                    _remember(digest, rows)
            self._emit(rows, blocks)
            if len(self._m[0]) + len(self._a[0]) >= ROWS_PER_CHUNK:
                out += self.take()
        return out + self.take()

    def _expand(self, data: bytes, blocks: list[tuple[int, int]], method: str, x_wr,
                floating_tz) -> list[tuple]:
        """Rows (without calendar and origin) of one UID's occurrences in the window."""
        from recurring_ical_events import EventAdapter, Series

        events: list[tuple[int, EventData]] = []
        for i, (start, stop) in enumerate(blocks):
            ev = self._event(data, start, stop)
            if ev is not None:
                events.append((i, ev))
        if not events:
            return []
        uid = events[0][1].uid
        _RECUR = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
        # (event index, event, start, end, recurrence-id value or None)
        occurrences: list[tuple] = []
        if len(events) == 1 and not any(k in events[0][1].props for k in _RECUR):
            # a single meeting: its one occurrence, read as recurring-ical-events would
            i, ev = events[0]
            try:
                start, end = single_span(ev, x_wr)
            except EventError as exc:
                self.reject(data, ev.offset, str(exc), data[ev.offset:blocks[i][1]]
                            .decode("utf-8", "replace"))
                return []
            occurrences.append((i, ev, start, end, None))
            master, recurring = ev, False
        else:
            adapters, by_component = [], {}
            for i, ev in events:
                try:
                    comp = build_event(ev, x_wr)
                except EventError as exc:
                    self.reject(data, ev.offset, str(exc), data[ev.offset:blocks[i][1]]
                                .decode("utf-8", "replace"))
                    continue
                by_component[id(comp)] = (i, ev)
                adapters.append(EventAdapter(comp))
            if not adapters:
                return []
            master = next((by_component[id(a._component)][1] for a in adapters
                           if "RECURRENCE-ID" not in a._component), None)
            recurring = any(("RRULE" in a._component or "RDATE" in a._component
                             or "RECURRENCE-ID" in a._component) for a in adapters)
            try:
                series = Series(adapters)
                for a, b in self.windows:
                    for occ in series.between(a - timedelta(days=2), b + timedelta(days=2)):
                        comp = occ._adapter._component
                        i, ev = by_component[id(comp)]
                        rid = comp["RECURRENCE-ID"].dt if "RECURRENCE-ID" in comp else occ.start
                        occurrences.append((i, ev, occ.start, occ.end, rid))
            except Exception as exc:  # noqa: BLE001
                self.reject(data, events[0][1].offset, f"recurrence of UID {uid[:80]!r} cannot "
                            f"be computed: {type(exc).__name__}: {exc}")
                return []
        rows: list[tuple] = []
        seen = set()
        p = self.privacy
        windows = self.windows
        for i, ev, start, end, rid in occurrences:
            if rid is None:
                rid = start
            all_day = not isinstance(start, datetime)
            if all_day:
                s_dt = datetime(start.year, start.month, start.day)
                e_dt = datetime(end.year, end.month, end.day) if not isinstance(end, datetime) \
                    else end.replace(tzinfo=None)
                tz = None
            else:
                if start.tzinfo is None:
                    start = start.replace(tzinfo=floating_tz)
                    end = end.replace(tzinfo=floating_tz) if isinstance(end, datetime) else end
                tz = tz_name(start)
                s_dt = start.astimezone(_UTC).replace(tzinfo=None)
                e_dt = end.astimezone(_UTC).replace(tzinfo=None) if isinstance(end, datetime) \
                    else s_dt
            for a, b in windows:
                if a <= s_dt < b:
                    break
            else:
                continue  # outside the window
            rid_s = _rid_string(rid) if recurring else None
            meeting_id = f"{uid}{ID_SEPARATOR}{rid_s}" if recurring else uid
            if meeting_id in seen:
                continue
            seen.add(meeting_id)
            src = ev if (ev.organizer or ev.attendees or master is None) else master
            status = "CANCELLED" if method == "CANCEL" else (ev.status or "CONFIRMED")
            rows.append((i, meeting_id, uid, rid_s, p.subject(ev.summary),
                         _us(s_dt), _us(e_dt), all_day, status, src.organizer, ev.sequence, tz,
                         recurring, "drop" if ev.private else p.subject_mode,
                         src.attendee_columns(src.organizer[0] if src.organizer else None)
                         if src.attendees else None))
        return rows

    def _emit(self, rows: list[tuple], blocks: list[tuple[int, int]]) -> None:
        if not rows:
            return
        calendar = self.task.calendar
        origins = [f"{self.task.key}@{start}" for start, _ in blocks]
        (m_id, m_uid, m_rid, m_cal, m_sum, m_start, m_end, m_allday, m_status, m_org, m_seq,
         m_orgname, m_orgdom, m_orgint, m_orghash, m_tz, m_rec, m_mode, m_origin, m_pid,
         m_del) = self._m
        (a_id, a_addr, a_name, a_ps, a_role, a_cal, a_dom, a_int, a_hash, a_org) = self._a
        for (i, meeting_id, uid, rid, summary, s_us, e_us, all_day, status, org, seq, tz,
             recurring, mode, attendees) in rows:
            m_id.append(meeting_id)
            m_uid.append(uid)
            m_rid.append(rid)
            m_cal.append(calendar)
            m_sum.append(summary)
            m_start.append(s_us)
            m_end.append(e_us)
            m_allday.append(all_day)
            m_status.append(status)
            m_seq.append(seq)
            if org:
                m_org.append(org[0])
                m_orgname.append(org[1])
                m_orgdom.append(org[2])
                m_orgint.append(org[3])
                m_orghash.append(org[4])
            else:
                m_org.append(None)
                m_orgname.append(None)
                m_orgdom.append(None)
                m_orgint.append(None)
                m_orghash.append(None)
            m_tz.append(tz)
            m_rec.append(recurring)
            m_mode.append(mode)
            m_origin.append(origins[i])
            m_pid.append(None)
            m_del.append(False)
            if attendees is not None:
                addrs, names, partstats, roles, domains, internals, hasheds, is_org = attendees
                n = len(addrs)
                a_id.extend([meeting_id] * n)
                a_cal.extend([calendar] * n)
                a_addr.extend(addrs)
                a_name.extend(names)
                a_ps.extend(partstats)
                a_role.extend(roles)
                a_dom.extend(domains)
                a_int.extend(internals)
                a_hash.extend(hasheds)
                a_org.extend(is_org)

    def take(self) -> list[tuple[str, pa.Table]]:
        out = []
        for cols in (self.meetings, self.attendees, self.rejects):
            if len(cols):
                out.append((cols.table, cols.take()))
        return out


_UID_LINE = re.compile(rb"^UID[;:][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.MULTILINE)


def _uid_of(data: bytes, start: int, stop: int) -> bytes:
    """The (unfolded) UID line of a VEVENT, to put all its components in one part."""
    m = _UID_LINE.search(data, start, stop)
    return re.sub(rb"\r?\n[ \t]", b"", m.group(0)) if m else b""


def _zone(name: str | None):
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

        if name in WINDOWS_TO_OLSON:
            return ZoneInfo(WINDOWS_TO_OLSON[name])
        return None


def _rid_string(rid) -> str:
    """RECURRENCE-ID as text: a date, a UTC time (``Z``) or a floating local time."""
    if not isinstance(rid, datetime):
        return rid.strftime("%Y%m%d")
    if rid.tzinfo is None:
        return rid.strftime("%Y%m%dT%H%M%S")
    return rid.astimezone(_UTC).strftime("%Y%m%dT%H%M%SZ")


def run_task(task: CalendarTask, config: PrivacyConfig, source: str) -> list[tuple[str, pa.Table]]:
    """Read one part of one calendar file. Never raises for bad input."""
    reader = CalendarReader(task, Privacy(config), source)
    try:
        return reader.read(task.path)
    except Exception as exc:  # noqa: BLE001 (one calendar never stops a run)
        log.warning("calendar: %s failed: %s", task.key, exc)
        reader.meetings = Columns(MEETING)
        reader.attendees = Columns(ATTENDEE)
        reader.rejects.add(MEETING, task.key, None,
                           f"file could not be read: {type(exc).__name__}: {exc}", "")
        return reader.take()
