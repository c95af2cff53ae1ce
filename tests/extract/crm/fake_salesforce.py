"""A local Salesforce REST API: OAuth token endpoint, describe, queryAll with nextRecordsUrl
paging, deleted records, expiring sessions (401 INVALID_SESSION_ID) and 429/503 with
Retry-After. It serves a Salesforce-shaped CSV drop (Fivetran names) the way the API would:
API names, typed JSON values, `attributes`, SystemModstamp as `2024-01-02T10:00:00.000+0000`.

Run standalone (for the crash test): `python fake_salesforce.py <csv-folder> <port-file>`."""

from __future__ import annotations

import csv
import itertools
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from revwh.contract import BIGINT, BOOLEAN, DATE, DOUBLE, SALESFORCE, TIMESTAMP
from revwh.extract.salesforce_api import api_name, parse_sf_datetime

try:
    from tests.extract.crm.fakehttp import FakeServer
except ImportError:  # run as a script
    from fakehttp import FakeServer  # type: ignore

API = "/services/data/v61.0"
SF_TYPES = {"string": "string", TIMESTAMP: "datetime", DATE: "date", DOUBLE: "double",
            BIGINT: "int", BOOLEAN: "boolean"}
SOQL = re.compile(r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)"
                  r"(?: WHERE (?P<cf>\w+) > (?P<since>\S+))?(?: ORDER BY (?P<order>.+))?$")

CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "fake-client-id", "fake-client-secret", "fake-refresh"


def sf_datetime(text: str) -> str:
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}+0000"


def api_value(text: str, kind: str | None):
    """The JSON value the API sends; a text that does not fit its type is sent as it is (the
    demo data holds such malformed values on purpose)."""
    if text == "":
        return None
    try:
        return _typed(text, kind)
    except ValueError:
        return text


def _typed(text: str, kind: str | None):
    if kind == BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == DOUBLE:
        return float(text)
    if kind == BIGINT:
        return int(text)
    if kind == TIMESTAMP:
        return sf_datetime(text)
    return text


def load_drop(folder: Path) -> tuple[dict[str, list[dict]], dict[str, dict[str, str]]]:
    """CSV drop -> ({Object: [API records]}, {Object: {Field: salesforce type}})."""
    data, fields = {}, {}
    for path in sorted(Path(folder).glob("*.csv")):
        table = path.stem
        contract = SALESFORCE.get(table)
        obj = api_name(table)
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        header = list(rows[0]) if rows else []
        kinds = {c: (contract.columns.get(c) if contract else None) for c in header}
        fields[obj] = {api_name(c): SF_TYPES.get(kinds[c] or "string", "string") for c in header}
        fields[obj]["Id"] = "id"
        recs = []
        for row in rows:
            rec = {"attributes": {"type": obj, "url": f"{API}/sobjects/{obj}/{row['id']}"}}
            rec.update({api_name(c): api_value(v, kinds[c]) for c, v in row.items()})
            recs.append(rec)
        data[obj] = recs
    if "Account" in fields:  # compound fields exist in describe but are not selectable as such
        fields["Account"]["BillingAddress"] = "address"
    return data, fields


class SalesforceApp:
    def __init__(self, folder: Path, *, page_size: int = 50):
        self.data, self.fields = load_drop(folder)
        self.page_size = page_size
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.token_seq = itertools.count(1)
        self.cursors: dict[str, list[dict]] = {}
        self.faults: list[dict] = []  # {"path": fragment, "status": int, "retry_after": s}
        self.expire_tokens_after: int | None = None  # API requests until sessions expire (once)
        self.api_requests = 0
        self.pages_served = 0
        self.page_delay = 0.0
        self.missing_objects: set[str] = set()
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.refresh_token, self.token_prefix = REFRESH_TOKEN, "00Dfake!session"

    # -- data changes -------------------------------------------------------------------
    def upsert(self, obj: str, record: dict) -> None:
        with self.lock:
            rows = self.data.setdefault(obj, [])
            record = {"attributes": {"type": obj, "url": f"{API}/sobjects/{obj}/{record['Id']}"},
                      **record}
            for i, r in enumerate(rows):
                if r["Id"] == record["Id"]:
                    rows[i] = {**r, **record}
                    return
            rows.append(record)
            for k in record:
                if k != "attributes":
                    self.fields[obj].setdefault(k, "string")

    def record(self, obj: str, rid: str) -> dict:
        return next(r for r in self.data[obj] if r["Id"] == rid)

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, req):
        if req.path == "/services/oauth2/token" and req.method == "POST":
            return self._token(req.form())
        if not req.path.startswith("/services/data/"):
            return 404, {}, [{"errorCode": "NOT_FOUND", "message": "no such resource"}]
        with self.lock:
            self.api_requests += 1
            if self.expire_tokens_after is not None and self.api_requests > self.expire_tokens_after:
                self.expire_tokens_after = None
                self.tokens.clear()
            fault = next((f for f in self.faults if f["path"] in req.path), None)
            if fault:
                if fault.get("times", 1) <= 1:
                    self.faults.remove(fault)
                else:
                    fault["times"] -= 1
        if fault:
            headers = {"Retry-After": fault["retry_after"]} if "retry_after" in fault else {}
            code = "REQUEST_LIMIT_EXCEEDED" if fault["status"] == 429 else "SERVER_UNAVAILABLE"
            return fault["status"], headers, [{"errorCode": code, "message": "try later"}]
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 401, {}, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        m = re.match(rf"^{API}/sobjects/(\w+)/describe/?$", req.path)
        if m:
            return self._describe(m.group(1))
        if req.path == f"{API}/queryAll" or req.path == f"{API}/query":
            return self._query(req.arg("q", ""))
        m = re.match(rf"^{API}/query/([\w-]+)$", req.path)
        if m:
            return self._more(m.group(1))
        return 404, {}, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]

    def _token(self, form: dict):
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 400, {}, {"error": "invalid_client", "error_description": "invalid client credentials"}
        grant = form.get("grant_type")
        if grant == "refresh_token" and form.get("refresh_token") != self.refresh_token:
            return 400, {}, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        if grant not in ("refresh_token", "client_credentials"):
            return 400, {}, {"error": "unsupported_grant_type"}
        token = f"{self.token_prefix}{next(self.token_seq)}"
        with self.lock:
            self.tokens.add(token)
        return 200, {}, {"access_token": token, "token_type": "Bearer",
                         "issued_at": str(int(time.time() * 1000)), "instance_url": "http://127.0.0.1"}

    def _describe(self, obj: str):
        if obj not in self.fields or obj in self.missing_objects:
            return 404, {}, [{"errorCode": "NOT_FOUND", "message": f"sObject type '{obj}' is not supported."}]
        return 200, {}, {"name": obj, "custom": obj.endswith("__c"), "queryable": True,
                         "fields": [{"name": n, "type": t, "custom": n.endswith("__c")}
                                    for n, t in self.fields[obj].items()]}

    def _query(self, soql: str):
        m = SOQL.match(" ".join(soql.split()))
        if not m:
            return 400, {}, [{"errorCode": "MALFORMED_QUERY", "message": soql[:80]}]
        obj = m.group("obj")
        if obj not in self.data or obj in self.missing_objects:
            return 400, {}, [{"errorCode": "INVALID_TYPE", "message": f"sObject type '{obj}' is not supported."}]
        selected = [f.strip() for f in m.group("fields").split(",")]
        unknown = [f for f in selected if f not in self.fields[obj]]
        bad = [f for f in selected if self.fields[obj].get(f) == "address"]
        if unknown or bad:
            return 400, {}, [{"errorCode": "INVALID_FIELD", "message": f"No such column '{(unknown or bad)[0]}'"}]
        with self.lock:
            rows = list(self.data[obj])
        if m.group("cf"):
            since = parse_sf_datetime(m.group("since"))
            cf = m.group("cf")
            rows = [r for r in rows if r.get(cf) and parse_sf_datetime(r[cf]) > since]
        if m.group("order"):
            cf = m.group("order").split()[0]
            rows.sort(key=lambda r: (r.get(cf) or "", r.get("Id") or ""))  # all stamps are +0000
        out = [{"attributes": r["attributes"], **{f: r.get(f) for f in selected}} for r in rows]
        locator = f"01g{next(self.token_seq):06d}"
        self.cursors[locator] = out
        return self._page(locator, 0)

    def _more(self, ref: str):
        locator, _, offset = ref.rpartition("-")
        if locator not in self.cursors:
            return 400, {}, [{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}]
        return self._page(locator, int(offset))

    def _page(self, locator: str, offset: int):
        rows = self.cursors[locator]
        chunk = rows[offset:offset + self.page_size]
        done = offset + self.page_size >= len(rows)
        body = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"{API}/query/{locator}-{offset + self.page_size}"
        self.pages_served += 1
        if self.page_delay:
            time.sleep(self.page_delay)
        return 200, {}, body


def serve(folder: Path, page_size: int = 50) -> tuple[FakeServer, SalesforceApp]:
    app = SalesforceApp(folder, page_size=page_size)
    return FakeServer(app).start(), app


if __name__ == "__main__":  # pragma: no cover - used by hand
    import sys

    server, app = serve(Path(sys.argv[1]))
    print(server.url, flush=True)
    threading.Event().wait()
