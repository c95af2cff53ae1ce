"""Local HTTP servers that implement the contracts our API readers rely on.

- Microsoft Graph: ``messages/delta`` per folder and ``calendarView/delta`` with
  ``@odata.nextLink`` paging (``Prefer: odata.maxpagesize``), ``@odata.deltaLink`` on the last
  page, ``@removed`` entries, 410 Gone for an expired delta token, 429 with Retry-After.
- Gmail: ``profile`` (historyId), ``messages`` list with ``nextPageToken``, ``messages/{id}``
  with ``format=metadata`` + ``metadataHeaders`` only, ``history`` since a ``startHistoryId``
  (404 when it is too old), 429 with Retry-After.
- Google Calendar: ``events`` with ``singleEvents``, ``pageToken``/``nextPageToken``,
  ``nextSyncToken`` on the last page, ``syncToken`` (not allowed together with timeMin/timeMax:
  400), 410 Gone for an expired sync token.

Every server checks the bearer token (401 otherwise) and logs each request.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

TOKEN = "test-token-not-secret"
CLIENT_SECRET = "test-client-secret"
API_BODY_MARKER = "API-BODY-MARKER-5e2b"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    def arg(self, name: str, default=None):
        return self.query.get(name, [default])[0]


class FakeServer:
    def __init__(self, app):
        self.app = app
        self.log: list[tuple[Request, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urlsplit(self.path)
                req = Request("GET", unquote(parts.path), parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()})
                if req.headers.get("authorization") != f"Bearer {TOKEN}":
                    status, headers, body = 401, {}, {"error": {"code": "InvalidAuthenticationToken"}}
                else:
                    try:
                        status, headers, body = outer.app.handle(req, outer.url)
                    except Exception as exc:  # noqa: BLE001 — a bug in the fake: answer 500
                        status, headers, body = 500, {}, {"error": repr(exc)}
                outer.log.append((req, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # the client-credentials token endpoint (Microsoft identity)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                ok = (self.path.endswith("/oauth2/v2.0/token")
                      and form.get("grant_type") == "client_credentials"
                      and form.get("client_secret") == CLIENT_SECRET)
                body = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3599} if ok \
                    else {"error": "invalid_client"}
                outer.log.append((Request("POST", self.path, {}, {}), 200 if ok else 401))
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def statuses(self, contains: str = "") -> list[int]:
        return [s for r, s in self.log if contains in r.path]


class Throttle:
    """Answer 429 with Retry-After to the first ``times`` requests whose path holds ``match``."""

    def __init__(self, match: str = "", times: int = 0, retry_after: str = "1"):
        self.match, self.left, self.retry_after = match, times, retry_after

    def check(self, req: Request):
        if self.left > 0 and self.match in req.path:
            self.left -= 1
            return 429, {"Retry-After": self.retry_after}, {"error": {"code": "TooManyRequests"}}
        return None


# -- Microsoft Graph ---------------------------------------------------------------------------
class GraphApp:
    """Mailbox folders and calendars as change logs; a delta token is a position in a log."""

    def __init__(self, page_size: int = 2):
        self.page_size = page_size
        self.logs: dict[str, list[dict]] = {}  # key -> changes (items or @removed)
        self.expired: set[str] = set()  # keys whose delta tokens have expired
        self.throttle = Throttle()
        self.selects: list[str] = []

    def add(self, key: str, item: dict) -> None:
        self.logs.setdefault(key, []).append(item)

    def remove(self, key: str, item_id: str) -> None:
        self.logs.setdefault(key, []).append({"id": item_id, "@removed": {"reason": "deleted"}})

    def handle(self, req: Request, base: str):
        hit = self.throttle.check(req)
        if hit:
            return hit
        parts = req.path.split("/")
        # /v1.0/users/{mailbox}/mailFolders/{folder}/messages/delta
        if len(parts) == 8 and parts[4] == "mailFolders" and parts[6:] == ["messages", "delta"]:
            key = f"{parts[3]}/{parts[5]}"
            if "$select" in req.query:
                self.selects.append(req.arg("$select"))
        # /v1.0/users/{mailbox}/calendarView/delta
        elif len(parts) == 6 and parts[4:] == ["calendarView", "delta"]:
            key = f"{parts[3]}/calendar"
            if not ({"$deltatoken", "$skiptoken"} & set(req.query)) and (
                    not req.arg("startDateTime") or not req.arg("endDateTime")):
                return 400, {}, {"error": {"code": "ErrorInvalidParameter",
                                           "message": "startDateTime and endDateTime required"}}
        else:
            return 404, {}, {"error": {"code": "ResourceNotFound"}}
        if not any(k.startswith(parts[3] + "/") for k in self.logs):
            return 404, {}, {"error": {"code": "ErrorInvalidUser",
                                       "message": f"The requested user '{parts[3]}' is invalid."}}
        log = self.logs.get(key, [])
        if "$deltatoken" in req.query:
            if key in self.expired:
                return 410, {}, {"error": {"code": "SyncStateNotFound",
                                           "message": "resync required"}}
            mode, since, offset = "d", int(req.arg("$deltatoken")), 0
        elif "$skiptoken" in req.query:
            mode, since, offset = req.arg("$skiptoken").split(".")
            since, offset = int(since), int(offset)
        else:
            mode, since, offset = "f", 0, 0
        changes = self._current(log) if mode == "f" else log[since:]
        prefer = req.headers.get("prefer", "")
        size = self.page_size
        if "odata.maxpagesize=" in prefer:
            size = min(size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
        body: dict = {"value": changes[offset:offset + size]}
        here = f"{base}{quote(req.path)}"
        if offset + size < len(changes):
            token = f"{mode}.{since}.{offset + size}"
            body["@odata.nextLink"] = f"{here}?{urlencode({'$skiptoken': token})}"
        else:
            body["@odata.deltaLink"] = f"{here}?{urlencode({'$deltatoken': str(len(log))})}"
        return 200, {}, body

    @staticmethod
    def _current(log: list[dict]) -> list[dict]:
        removed = {c["id"] for c in log if "@removed" in c}
        return [c for c in log if "@removed" not in c and c["id"] not in removed]


# -- Gmail -------------------------------------------------------------------------------------
class GmailApp:
    def __init__(self, page_size: int = 2):
        self.page_size = page_size
        self.messages: dict[str, dict] = {}  # id -> message (full, with body parts)
        self.order: list[str] = []
        self.history: list[tuple[int, str]] = []  # (history id, message id added)
        self.history_id = 1000
        self.oldest_history = 0
        self.email = "alice@northpeak.io"
        self.throttle = Throttle()
        self.formats: list[str] = []

    def add(self, msg_id: str, headers: dict[str, str], labels=("INBOX",), thread="t1") -> None:
        self.history_id += 7
        self.messages[msg_id] = {
            "id": msg_id, "threadId": thread, "labelIds": list(labels),
            "historyId": str(self.history_id), "internalDate": "1709542800000",
            "snippet": API_BODY_MARKER,
            "payload": {"mimeType": "text/plain",
                        "headers": [{"name": k, "value": v} for k, v in headers.items()],
                        "body": {"data": API_BODY_MARKER}}}
        self.order.insert(0, msg_id)
        self.history.append((self.history_id, msg_id))

    def handle(self, req: Request, base: str):
        hit = self.throttle.check(req)
        if hit:
            return hit
        parts = req.path.split("/")  # /gmail/v1/users/{u}/...
        if parts[:4] != ["", "gmail", "v1", "users"]:
            return 404, {}, {"error": {"code": 404}}
        rest = parts[5:]
        if rest == ["profile"]:
            return 200, {}, {"emailAddress": self.email, "historyId": str(self.history_id),
                             "messagesTotal": len(self.messages)}
        if rest == ["messages"]:
            size = min(int(req.arg("maxResults", 100)), self.page_size)
            start = int(req.arg("pageToken", 0))
            ids = self.order[start:start + size]
            body = {"messages": [{"id": i, "threadId": self.messages[i]["threadId"]} for i in ids],
                    "resultSizeEstimate": len(self.order)}
            if start + size < len(self.order):
                body["nextPageToken"] = str(start + size)
            return 200, {}, body
        if len(rest) == 2 and rest[0] == "messages":
            msg = self.messages.get(rest[1])
            if msg is None:
                return 404, {}, {"error": {"code": 404, "message": "Not Found"}}
            fmt = req.arg("format", "full")
            self.formats.append(fmt)
            if fmt != "metadata":
                return 400, {}, {"error": {"code": 400, "message": "this fake serves metadata"}}
            wanted = {h.lower() for h in req.query.get("metadataHeaders", [])}
            headers = [h for h in msg["payload"]["headers"]
                       if not wanted or h["name"].lower() in wanted]
            return 200, {}, {k: v for k, v in msg.items() if k not in ("payload", "snippet")} | {
                "payload": {"mimeType": msg["payload"]["mimeType"], "headers": headers}}
        if rest == ["history"]:
            start = int(req.arg("startHistoryId"))
            if start < self.oldest_history:
                return 404, {}, {"error": {"code": 404, "message": "Requested entity was not found."}}
            added = [(h, m) for h, m in self.history if h > start]
            offset = int(req.arg("pageToken", 0))
            page = added[offset:offset + self.page_size]
            body = {"history": [{"id": str(h), "messagesAdded": [{"message": {
                "id": m, "threadId": self.messages[m]["threadId"]}}]} for h, m in page],
                "historyId": str(self.history_id)}
            if offset + self.page_size < len(added):
                body["nextPageToken"] = str(offset + self.page_size)
            return 200, {}, body
        return 404, {}, {"error": {"code": 404}}


# -- Google Calendar ---------------------------------------------------------------------------
class GoogleCalendarApp:
    def __init__(self, page_size: int = 2):
        self.page_size = page_size
        self.log: dict[str, list[dict]] = {}  # calendar -> event versions in change order
        self.expired: set[str] = set()
        self.throttle = Throttle()

    def put(self, calendar: str, event: dict) -> None:
        self.log.setdefault(calendar, []).append(event)

    def handle(self, req: Request, base: str):
        hit = self.throttle.check(req)
        if hit:
            return hit
        parts = req.path.split("/")  # /calendar/v3/calendars/{id}/events
        if len(parts) != 6 or parts[3] != "calendars" or parts[5] != "events":
            return 404, {}, {"error": {"code": 404}}
        cal = parts[4]
        log = self.log.get(cal, [])
        if req.arg("syncToken"):
            if req.arg("timeMin") or req.arg("timeMax"):
                return 400, {}, {"error": {"code": 400, "message": "syncToken with timeMin"}}
            if cal in self.expired:
                return 410, {}, {"error": {"code": 410, "message": "Sync token is no longer "
                                           "valid, a full sync is required."}}
            since = int(req.arg("syncToken"))
            items = log[since:]
        else:
            latest: dict[str, dict] = {}
            for ev in log:
                latest[ev["id"]] = ev
            items = [e for e in latest.values()
                     if req.arg("showDeleted") == "true" or e.get("status") != "cancelled"]
        offset = int(req.arg("pageToken", 0))
        size = min(int(req.arg("maxResults", 250)), self.page_size)
        page = items[offset:offset + size]
        body = {"kind": "calendar#events", "items": page}
        if offset + size < len(items):
            body["nextPageToken"] = str(offset + size)
        else:
            body["nextSyncToken"] = str(len(log))
        return 200, {}, body
