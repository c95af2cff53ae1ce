"""Arrow schemas of the activity tables (from the raw contract) and column builders.

Readers append Python values to plain lists (the fastest thing Python does) and turn them into
one typed arrow table per chunk. Timestamps are held as integer microseconds since the epoch,
UTC, and land as naive UTC timestamps like every other raw timestamp.
"""

from __future__ import annotations

import pyarrow as pa

from revwh.contract import ACTIVITY, BIGINT, BOOLEAN, DATE, DOUBLE, STRING, TIMESTAMP
from revwh.raw.validate import REJECT_SCHEMA

EMAIL, RECIPIENT = "activity_email", "activity_email_recipient"
MEETING, ATTENDEE = "activity_meeting", "activity_meeting_attendee"
REJECTS = "_rejects"

_ARROW = {STRING: pa.string(), TIMESTAMP: pa.timestamp("us"), DATE: pa.date32(),
          DOUBLE: pa.float64(), BIGINT: pa.int64(), BOOLEAN: pa.bool_()}

SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema([(col, _ARROW[kind]) for col, kind in contract.columns.items()])
    for name, contract in ACTIVITY.items()}
SCHEMAS[REJECTS] = REJECT_SCHEMA

RAW_TEXT_LIMIT = 4000  # characters of the offending input kept with a reject


class Columns:
    """Lists of values, one per column of ``table``, in contract order."""

    def __init__(self, table: str):
        self.table = table
        self.schema = SCHEMAS[table]
        self.cols: dict[str, list] = {f.name: [] for f in self.schema}

    def __len__(self) -> int:
        first = next(iter(self.cols.values()))
        return len(first)

    def lists(self, *names: str) -> tuple[list, ...]:
        return tuple(self.cols[n] for n in names)

    def to_arrow(self) -> pa.Table:
        arrays = [_array(self.cols[f.name], f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def take(self) -> pa.Table:
        table = self.to_arrow()
        for values in self.cols.values():
            values.clear()
        return table


def _array(values: list, kind: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(kind):  # ints -> int64 -> timestamp: far faster than direct
        return pa.array(values, pa.int64()).view(kind)
    return pa.array(values, kind)


class Rejects(Columns):
    def __init__(self, source: str):
        super().__init__(REJECTS)
        self.source = source

    def add(self, table: str, origin: str, line: int | None, reason: str, raw_text: str) -> None:
        c = self.cols
        c["source"].append(self.source)
        c["table_name"].append(table)
        c["origin"].append(origin)
        c["line"].append(line)
        c["reason"].append(reason[:1000])
        c["raw_text"].append(raw_text[:RAW_TEXT_LIMIT] if raw_text else raw_text)


def empty(table: str) -> pa.Table:
    return SCHEMAS[table].empty_table()
