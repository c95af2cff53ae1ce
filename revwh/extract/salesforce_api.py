"""Salesforce REST: SOQL `queryAll` (deleted rows included), incremental on SystemModstamp.

Per object: `describe` gives the field list (custom fields such as verifiers and SPICED come
along), then `SELECT <fields> FROM <Object> WHERE SystemModstamp > <cursor - overlap>` runs
through `queryAll`, following `nextRecordsUrl`. OpportunityFieldHistory has no SystemModstamp;
its cursor is CreatedDate. Records land in `raw_salesforce` with Fivetran's snake_case names
(`StageName` -> `stage_name`, `Pain_Category__c` -> `pain_category_c`), checked against the raw
contract: a value that does not fit is a reject, a new field is stored as text.

The cursor of each object lives in dlt's source state and is committed with the load, so a run
that dies before its load re-extracts from the old cursor: nothing is lost, nothing doubles.
The overlap window catches records committed late; the versions it re-reads that have already
landed (remembered as `id -> SystemModstamp` for the window) are dropped, so a run over an
unchanged org lands zero rows.

Credentials (never logged, never in state): `SalesforceAuth.from_env()` reads
SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET and, for the refresh-token flow,
SALESFORCE_REFRESH_TOKEN (without it: the client-credentials flow). SALESFORCE_INSTANCE_URL
names the org (`https://<my-domain>.my.salesforce.com`). The DAG builds the same object from an
Airflow Connection with `SalesforceAuth.from_connection`.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import requests

from revwh.contract import BOOLEAN, SALESFORCE, STRING, TIMESTAMP, TableContract
from revwh.raw.landing import LandResult, TableBatch, land, pipeline_state
from revwh.raw.validate import check_records, salesforce_snake_name
from revwh.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = "revwh_salesforce_api"
DATASET = "raw_salesforce"
SOURCE = "salesforce_api"
API_VERSION = "v61.0"
DEFAULT_OVERLAP_SECONDS = 300
# compound and binary fields cannot be selected by queryAll the way Fivetran lands them: their
# components (BillingStreet, ...) are fields of their own
SKIPPED_FIELD_TYPES = {"address", "location", "base64"}


class SalesforceError(RuntimeError):
    """The API answered with an error that a retry cannot fix."""


class SalesforceAuthError(SalesforceError):
    """No valid token could be had: check the credentials (they are never shown)."""


class ApiUnavailable(RuntimeError):
    """The API kept failing (429/5xx/network) after every retry; a later run may succeed."""


def snake_name(api: str) -> str:
    """Fivetran's column/table name for a Salesforce API name."""
    return salesforce_snake_name(api)


def api_name(snake: str) -> str:
    """Salesforce API name of a Fivetran snake_case name (`verifier_status_c` ->
    `Verifier_Status__c`, `user_role` -> `UserRole`)."""
    try:
        from revwh.demo.naming import api_name as demo_api_name
    except ImportError:
        if snake.endswith("_c") and len(snake) > 2:
            return "_".join(w[:1].upper() + w[1:] for w in snake[:-2].split("_") if w) + "__c"
        return "".join(w[:1].upper() + w[1:] for w in snake.split("_") if w)
    return demo_api_name(snake)


# ------------------------------------------------------------------------------------------
# Authentication

@dataclass
class SalesforceAuth:
    """OAuth2 against `<instance_url>/services/oauth2/token`: the refresh-token flow when a
    refresh token is given, else client credentials. Secrets are kept out of repr and logs."""

    instance_url: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)  # a token already at hand
    timeout: float = 30.0
    refreshes: int = field(default=0, init=False)

    @property
    def token_url(self) -> str:
        return self.instance_url.rstrip("/") + "/services/oauth2/token"

    @classmethod
    def from_env(cls, instance_url: str | None = None, env: dict | None = None) -> SalesforceAuth:
        env = os.environ if env is None else env
        url = instance_url or env.get("SALESFORCE_INSTANCE_URL", "")
        missing = [n for n, v in (("SALESFORCE_INSTANCE_URL", url),
                                  ("SALESFORCE_CLIENT_ID", env.get("SALESFORCE_CLIENT_ID")),
                                  ("SALESFORCE_CLIENT_SECRET", env.get("SALESFORCE_CLIENT_SECRET")))
                   if not v]
        if missing:
            raise SalesforceAuthError(
                "Salesforce credentials are not set: set " + ", ".join(missing)
                + " (and SALESFORCE_REFRESH_TOKEN for the refresh-token flow)")
        return cls(instance_url=url, client_id=env["SALESFORCE_CLIENT_ID"],
                   client_secret=env["SALESFORCE_CLIENT_SECRET"],
                   refresh_token=env.get("SALESFORCE_REFRESH_TOKEN") or None,
                   access_token=env.get("SALESFORCE_ACCESS_TOKEN") or None)

    @classmethod
    def from_connection(cls, conn: Any) -> SalesforceAuth:
        """From an Airflow Connection: host = instance URL, login = client id, password = client
        secret, extra {"refresh_token": ...} (optional)."""
        extra = getattr(conn, "extra_dejson", None) or {}
        host = conn.host if "://" in (conn.host or "") else f"https://{conn.host}"
        return cls(instance_url=host, client_id=conn.login, client_secret=conn.password,
                   refresh_token=extra.get("refresh_token") or None)

    def token(self, session: requests.Session) -> str:
        if not self.access_token:
            self.refresh(session)
        return self.access_token  # type: ignore[return-value]

    def refresh(self, session: requests.Session) -> str:
        data = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            data.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            data.update(grant_type="client_credentials")
        try:
            resp = session.post(self.token_url, data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"Salesforce token endpoint unreachable: {type(exc).__name__}") from None
        if resp.status_code != 200:
            try:
                err = resp.json().get("error", "")
            except ValueError:
                err = ""
            raise SalesforceAuthError(
                f"Salesforce refused the credentials (HTTP {resp.status_code} {err}): check "
                "SALESFORCE_CLIENT_ID/SECRET/REFRESH_TOKEN or the Airflow connection")
        self.access_token = resp.json()["access_token"]
        self.refreshes += 1
        log.info("salesforce: access token obtained (%s flow)",
                 "refresh-token" if self.refresh_token else "client-credentials")
        return self.access_token


# ------------------------------------------------------------------------------------------
# HTTP with bounded retries

def retry_after_seconds(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


@dataclass
class RetryPolicy:
    max_attempts: int = 6  # per request, all causes together
    max_wait: float = 120.0  # cap on one wait (Retry-After or backoff)
    backoff: float = 1.0  # first backoff when the server says nothing; doubles
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int, resp: requests.Response | None) -> float:
        told = retry_after_seconds(resp) if resp is not None else None
        wait = told if told is not None else self.backoff * (2 ** attempt)
        return min(wait, self.max_wait)


def request_with_retries(session: requests.Session, method: str, url: str, *,
                         headers: Callable[[], dict], policy: RetryPolicy,
                         on_unauthorized: Callable[[], bool] | None = None,
                         what: str = "API", timeout: float = 60.0, **kwargs) -> requests.Response:
    """One request, retried on 429/5xx and network errors (honouring Retry-After) and once more
    after a token refresh on 401. Bounded: at most `policy.max_attempts` tries. Returns the
    final response (the caller judges other 4xx)."""
    refreshed = False
    last = ""
    for attempt in range(policy.max_attempts):
        try:
            resp = session.request(method, url, headers=headers(), timeout=timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = type(exc).__name__
            wait = policy.wait(attempt, None)
            log.warning("%s: %s, retry %d in %.1fs", what, last, attempt + 1, wait)
            policy.sleep(wait)
            continue
        if resp.status_code == 401 and on_unauthorized is not None and not refreshed:
            log.info("%s: HTTP 401, refreshing the access token", what)
            refreshed = True
            if on_unauthorized():
                continue
            return resp
        if resp.status_code in policy.retry_statuses:
            last = f"HTTP {resp.status_code}"
            wait = policy.wait(attempt, resp)
            log.warning("%s: %s, retry %d in %.1fs", what, last, attempt + 1, wait)
            policy.sleep(wait)
            continue
        return resp
    raise ApiUnavailable(f"{what}: gave up after {policy.max_attempts} attempts ({last})")


class SalesforceClient:
    def __init__(self, instance_url: str, auth: SalesforceAuth, *, api_version: str = API_VERSION,
                 policy: RetryPolicy | None = None, batch_size: int = 2000,
                 session: requests.Session | None = None):
        self.base = instance_url.rstrip("/")
        self.auth = auth
        self.api_version = api_version
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.session = session or requests.Session()
        self.requests = 0

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.auth.token(self.session)}",
                "Accept": "application/json",
                "Sforce-Query-Options": f"batchSize={self.batch_size}"}

    def _refresh(self) -> bool:
        if not (self.auth.refresh_token or self.auth.client_secret):
            return False
        self.auth.refresh(self.session)
        return True

    def get(self, path: str, params: dict | None = None, *, allow_404: bool = False) -> dict | None:
        url = path if path.startswith("http") else urljoin(self.base + "/", path.lstrip("/"))
        self.requests += 1
        resp = request_with_retries(self.session, "GET", url, headers=self._headers,
                                    policy=self.policy, on_unauthorized=self._refresh,
                                    what="salesforce", params=params)
        if resp.status_code == 404 and allow_404:
            return None
        if resp.status_code >= 400:
            code, message = _sf_error(resp)
            if resp.status_code == 401:
                raise SalesforceAuthError(f"Salesforce rejected the access token ({code}) even "
                                          "after a refresh: check the connected app's grants")
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise SalesforceError("Salesforce API request limit exceeded for the org "
                                      f"(HTTP {resp.status_code}): retry after the limit resets")
            raise SalesforceError(f"Salesforce HTTP {resp.status_code} {code}: {message}")
        return resp.json()

    def describe(self, obj: str) -> dict | None:
        return self.get(f"/services/data/{self.api_version}/sobjects/{obj}/describe", allow_404=True)

    def query_all(self, soql: str):
        """Yield pages of records (includes deleted and archived rows), following
        nextRecordsUrl."""
        page = self.get(f"/services/data/{self.api_version}/queryAll", params={"q": soql})
        pages = 0
        while True:
            pages += 1
            yield page.get("records", [])
            nxt = page.get("nextRecordsUrl")
            if page.get("done", True) or not nxt:
                return
            if pages > 1_000_000:  # a server that never says done
                raise SalesforceError("queryAll paging did not end")
            page = self.get(nxt)


def _sf_error(resp: requests.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:200]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode", ""), body[0].get("message", "")
    if isinstance(body, dict):
        return body.get("errorCode", body.get("error", "")), body.get("message", "")
    return "", ""


# ------------------------------------------------------------------------------------------
# Cursors

def parse_sf_datetime(value: str) -> datetime:
    """`2024-01-02T10:00:00.000+0000` (or ISO with Z / +00:00) -> aware UTC datetime."""
    v = value.strip().replace("Z", "+00:00")
    if len(v) > 5 and v[-5] in "+-" and v[-3] != ":":
        v = v[:-2] + ":" + v[-2:]
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def soql_datetime(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}Z"


def _iso(dt: datetime) -> str:
    return soql_datetime(dt)


@dataclass
class ObjectCursor:
    """Where one object's extraction stands: the highest cursor value landed, and the versions
    (id -> cursor value) landed inside the overlap window below it."""

    value: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict | None) -> ObjectCursor:
        if not state or not state.get("value"):
            return cls()
        return cls(value=parse_sf_datetime(state["value"]), seen=dict(state.get("seen", {})))

    def to_state(self) -> dict:
        return {"value": _iso(self.value) if self.value else None, "seen": self.seen}

    def advance(self, versions: list[tuple[str, datetime]], overlap: timedelta) -> ObjectCursor:
        """The cursor after landing `versions` (id, cursor value)."""
        value = max([self.value] * (self.value is not None) + [m for _, m in versions], default=None)
        if value is None:
            return ObjectCursor()
        floor = value - overlap
        seen = {i: m for i, m in self.seen.items() if parse_sf_datetime(m) > floor}
        seen.update({i: _iso(m) for i, m in versions if m > floor})
        return ObjectCursor(value=value, seen=seen)


# ------------------------------------------------------------------------------------------
# Extraction

def default_objects() -> dict[str, str]:
    """Raw table -> Salesforce object, for every table of the Salesforce contract."""
    return {table: api_name(table) for table in SALESFORCE}


def _fallback_contract(table: str) -> TableContract:
    return TableContract(name=table, primary_key="id",
                         columns={"id": STRING, "created_date": TIMESTAMP,
                                  "system_modstamp": TIMESTAMP, "is_deleted": BOOLEAN},
                         required=("id",))


@dataclass
class ObjectPull:
    table: str
    obj: str
    cursor_field: str
    records: list[dict]
    fields: list[str]


def _select_fields(describe: dict) -> list[str]:
    fields = []
    for f in describe.get("fields", []):
        if f.get("type") in SKIPPED_FIELD_TYPES:
            continue
        fields.append(f["name"])
    return fields


def pull_object(client: SalesforceClient, table: str, obj: str, cursor: ObjectCursor,
                overlap: timedelta) -> ObjectPull | None:
    describe = client.describe(obj)
    if describe is None:
        log.warning("salesforce: object %s does not exist in this org: %s not extracted", obj, table)
        return None
    fields = _select_fields(describe)
    if "Id" not in fields:
        log.warning("salesforce: object %s has no Id field: skipped", obj)
        return None
    cursor_field = "SystemModstamp" if "SystemModstamp" in fields else "CreatedDate"
    soql = f"SELECT {', '.join(fields)} FROM {obj}"
    if cursor.value is not None:
        soql += f" WHERE {cursor_field} > {soql_datetime(cursor.value - overlap)}"
    soql += f" ORDER BY {cursor_field} ASC, Id ASC"
    records: list[dict] = []
    for page in client.query_all(soql):
        records.extend(page)
    log.info("salesforce: %s: %d records read", obj, len(records))
    return ObjectPull(table=table, obj=obj, cursor_field=cursor_field, records=records,
                      fields=fields)


def _new_versions(pull: ObjectPull, cursor: ObjectCursor, overlap: timedelta
                  ) -> tuple[list[dict], list[tuple[str, datetime]], int]:
    """Records not landed before; their (id, cursor value); how many were dropped as seen."""
    fresh, versions, dropped = [], [], 0
    for rec in pull.records:
        rid, raw = rec.get("Id"), rec.get(pull.cursor_field)
        try:
            stamp = parse_sf_datetime(raw) if isinstance(raw, str) and raw else None
        except ValueError:
            stamp = None
        if rid and stamp is not None:
            if cursor.value is not None and (stamp <= cursor.value - overlap
                                             or cursor.seen.get(rid) == _iso(stamp)):
                dropped += 1  # landed by an earlier run
                continue
            versions.append((rid, stamp))
        fresh.append(rec)  # a record without id or cursor is checked (and rejected) below
    return fresh, versions, dropped


def _to_row(rec: dict) -> dict:
    return {snake_name(k): v for k, v in rec.items() if k != "attributes"}


def extract_salesforce(settings: Settings, logical_date: str, *, instance_url: str | None = None,
                       auth: SalesforceAuth | None = None, objects: dict[str, str] | None = None,
                       api_version: str | None = None, overlap_seconds: int | None = None,
                       policy: RetryPolicy | None = None, batch_size: int | None = None
                       ) -> LandResult:
    """Extract every configured object changed since its committed cursor and land them as one
    batch into `raw_salesforce` (source `salesforce_api`), with the advanced cursors committed
    in the same load. Defaults come from `settings.extra` keys `salesforce_api_version`,
    `salesforce_overlap_seconds`, `salesforce_objects` ({table: Object}) and
    `salesforce_batch_size`."""
    extra = settings.extra or {}
    auth = auth or SalesforceAuth.from_env(instance_url)
    instance_url = instance_url or auth.instance_url
    objects = objects or extra.get("salesforce_objects") or default_objects()
    overlap = timedelta(seconds=int(overlap_seconds if overlap_seconds is not None else
                                    extra.get("salesforce_overlap_seconds", DEFAULT_OVERLAP_SECONDS)))
    client = SalesforceClient(instance_url, auth,
                              api_version=api_version or extra.get("salesforce_api_version", API_VERSION),
                              policy=policy, batch_size=int(batch_size or extra.get("salesforce_batch_size", 2000)))
    state = pipeline_state(settings, PIPELINE, DATASET, SOURCE)
    old_cursors: dict = dict(state.get("cursors", {}))
    new_cursors = dict(old_cursors)
    batches: list[TableBatch] = []
    digest = hashlib.sha256()
    skipped: list[str] = []
    for table, obj in objects.items():
        cursor = ObjectCursor.from_state(old_cursors.get(table))
        pull = pull_object(client, table, obj, cursor, overlap)
        if pull is None:
            skipped.append(table)
            continue
        fresh, versions, dropped = _new_versions(pull, cursor, overlap)
        if dropped:
            log.info("salesforce: %s: %d records already landed (overlap window)", obj, dropped)
        new_cursors[table] = cursor.advance(versions, overlap).to_state()
        if not fresh:
            continue
        contract = SALESFORCE.get(table) or _fallback_contract(table)
        checked = check_records([_to_row(r) for r in fresh], contract, source=SOURCE,
                                origin=f"{instance_url.rstrip('/')}/{obj}")
        batches.append(TableBatch(table=table, good=checked.good, rejects=checked.rejects))
        for rid, stamp in versions:
            digest.update(f"{table}|{rid}|{_iso(stamp)}\n".encode())
    batch_id = f"{SOURCE}:{logical_date}:{digest.hexdigest()[:12]}"
    if not batches and new_cursors == old_cursors:
        log.info("salesforce: nothing changed since the last run")
        return LandResult(source=SOURCE, batch_id=batch_id, skipped=skipped)
    result = land(settings, pipeline_name=PIPELINE, dataset=DATASET, source=SOURCE,
                  batch_id=batch_id, batches=batches, state_update={"cursors": new_cursors})
    result.skipped = skipped
    log.info("salesforce: landed %d rows (%d rejects) in %d requests", result.total_rows,
             result.rejects, client.requests)
    return result
