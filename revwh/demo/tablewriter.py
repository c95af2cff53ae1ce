"""Write tables as RFC 4180 CSV (Fivetran names) and as Salesforce REST query pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .crm import Table
from .fileio import HashingWriter, Manifest
from .naming import api_name
from .timeutil import fmt_date, fmt_sf_ts, fmt_ts

API_VERSION = "v61.0"
PAGE_SIZE = 2000


def _fmt_float(x) -> str:
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def format_column(values: list, typ: str) -> list[str]:
    if typ in ("timestamp", "date"):
        idx = [i for i, v in enumerate(values) if v is not None]
        out = [""] * len(values)
        if idx:
            arr = np.array([values[i] for i in idx], dtype=np.int64)
            f = fmt_ts(arr) if typ == "timestamp" else fmt_date(arr)
            for i, s in zip(idx, f):
                out[i] = s
        return out
    if typ == "double":
        return ["" if v is None else _fmt_float(v) for v in values]
    if typ == "bigint":
        return ["" if v is None else str(int(v)) for v in values]
    if typ == "boolean":
        return ["" if v is None else ("true" if v else "false") for v in values]
    return [v if v is not None else "" for v in values]  # string columns hold str or None


def write_csv(path: Path, t: Table, manifest: Manifest) -> int:
    cols = [format_column(t.data[c], typ) for c, typ in zip(t.columns, t.types)]
    for row, cells in t.malformed.items():
        for c, raw in cells.items():
            cols[t.columns.index(c)][row] = raw
    w = HashingWriter(path)
    write_columns(w, t.columns, cols)
    manifest.add(path, len(t), w.close())
    return len(t)


def _quote_col(col: list[str]) -> list[str]:
    """RFC 4180 minimal quoting (same bytes as the csv module with QUOTE_MINIMAL)."""
    joined = "\x00".join(col)
    if not ('"' in joined or "," in joined or "\n" in joined or "\r" in joined):
        return col
    return [
        ('"' + v.replace('"', '""') + '"')
        if ('"' in v or "," in v or "\n" in v or "\r" in v)
        else v
        for v in col
    ]


def write_columns(
    w: HashingWriter, header: list[str] | None, cols: list[list[str]], chunk: int = 50000
) -> int:
    """CSV (RFC 4180, CRLF line ends) from string columns; fast path for large files.
    ``header=None`` appends rows only."""
    n = len(cols[0]) if cols else 0
    if header is not None:
        w.write(",".join(_quote_col(list(header))) + "\r\n")
    q = [_quote_col(c) for c in cols]
    for a in range(0, n, chunk):
        part = [c[a : a + chunk] for c in q]
        w.write("\r\n".join(map(",".join, zip(*part))) + "\r\n")
    return n


def object_name(table: str) -> str:
    return api_name(table)


def _json_value(v, typ: str):
    if v is None:
        return None
    if typ == "timestamp":
        return fmt_sf_ts(v)
    if typ == "date":
        return str(np.datetime64(int(v), "D"))
    if typ == "double":
        return float(v)
    if typ == "bigint":
        return int(v)
    if typ == "boolean":
        return bool(v)
    return v


def write_rest_pages(root: Path, t: Table, manifest: Manifest) -> int:
    """Salesforce REST ``queryAll`` response pages (deleted rows included)."""
    obj = object_name(t.name)
    out = root / obj
    fields = [(c, typ, api_name(c)) for c, typ in zip(t.columns, t.types)]
    n = len(t)
    n_pages = max(1, -(-n // PAGE_SIZE))
    locator = f"01g{abs(hash_str(obj)) % 10**12:012d}AAA"
    for p in range(n_pages):
        recs = []
        for i in range(p * PAGE_SIZE, min(n, (p + 1) * PAGE_SIZE)):
            bad = t.malformed.get(i, {})
            rid = bad.get("id", t.data["id"][i]) if "id" in t.data else None
            rec = {
                "attributes": {
                    "type": obj,
                    "url": f"/services/data/{API_VERSION}/sobjects/{obj}/{rid or ''}",
                }
            }
            for c, typ, api in fields:
                if c in bad:
                    raw = bad[c]
                    rec[api] = raw if raw != "" else None
                else:
                    rec[api] = _json_value(t.data[c][i], typ)
            recs.append(rec)
        page = {"totalSize": n, "done": p == n_pages - 1}
        if p < n_pages - 1:
            page["nextRecordsUrl"] = (
                f"/services/data/{API_VERSION}/query/{locator}-{(p + 1) * PAGE_SIZE}"
            )
        page["records"] = recs
        path = out / f"page-{p + 1:04d}.json"
        w = HashingWriter(path)
        w.write(json.dumps(page, ensure_ascii=False, separators=(",", ":")))
        w.write("\n")
        manifest.add(path, len(recs), w.close())
    return n_pages


def hash_str(s: str) -> int:
    """Stable (not randomised) string hash."""
    h = 1469598103934665603
    for ch in s.encode():
        h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
