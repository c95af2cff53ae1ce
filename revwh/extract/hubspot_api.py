"""HubSpot CRM v3: search on the last-modified date with `after` paging, deal-stage history,
associations re-pulled every run, owners and pipelines; lands with Fivetran's names.

- deals, companies, contacts, meetings, calls and tasks: `POST /crm/v3/objects/<type>/search`
  with `<hs_lastmodifieddate> >= cursor - overlap`, sorted ascending, 100 a page, following
  `paging.next.after`. HubSpot's search stops at 10,000 results per query: the loop then starts a
  new query at the last modified date it saw. Deleted (archived) records come from
  `GET /crm/v3/objects/<type>?archived=true` and land with `is_deleted = true`.
- Every property of deals, companies and contacts comes along (`/crm/v3/properties/<type>`),
  as `property_<name>` columns; engagements take a fixed list without bodies (privacy: the
  meeting title and task subject follow `settings.subject_mode`).
- Stage history of changed deals: `POST /crm/v3/objects/deals/batch/read` with
  `propertiesWithHistory=dealstage` -> `deal_stage` (one row per stage entered). A changed deal's
  whole history lands again; staging deduplicates.
- Associations (deal<->contact, deal<->company, engagement<->deal) are read for every record on
  every run (`/crm/v4/associations/<from>/<to>/batch/read`): they change without touching the
  deal's modified date. A table's snapshot lands only when it differs from the last one landed
  (its digest is kept in state), so an unchanged portal lands nothing; staging reads the latest
  snapshot.
- Owners and pipelines are small: read whole, only versions newer than the cursor land.

Cursors and digests are in dlt's source state, committed with the load. The token is a private
app token from HUBSPOT_ACCESS_TOKEN (or an Airflow Connection's password); it is never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from revwh.contract import HUBSPOT
from revwh.extract.salesforce_api import (
    ApiUnavailable,
    ObjectCursor,
    RetryPolicy,
    parse_sf_datetime,
    request_with_retries,
)
from revwh.raw.landing import LandResult, TableBatch, land, pipeline_state
from revwh.raw.validate import check_records
from revwh.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = "revwh_hubspot_api"
DATASET = "raw_hubspot"
SOURCE = "hubspot_api"
BASE_URL = "https://api.hubapi.com"
DEFAULT_OVERLAP_SECONDS = 300
SEARCH_LIMIT = 100
SEARCH_WINDOW = 10_000  # HubSpot's search returns at most this many results per query

__all__ = ["ApiUnavailable", "HubSpotAuth", "HubSpotAuthError", "HubSpotError",
           "extract_hubspot"]


class HubSpotError(RuntimeError):
    """The API answered with an error that a retry cannot fix."""


class HubSpotAuthError(HubSpotError):
    """The token was refused or is missing (it is never shown)."""


@dataclass
class HubSpotAuth:
    """A private app token (or an OAuth access token) for the CRM API."""

    token: str

    def __repr__(self) -> str:
        return "HubSpotAuth(token=***)"

    @classmethod
    def from_env(cls, env: dict | None = None) -> HubSpotAuth:
        env = os.environ if env is None else env
        token = env.get("HUBSPOT_ACCESS_TOKEN", "")
        if not token:
            raise HubSpotAuthError("HubSpot token is not set: set HUBSPOT_ACCESS_TOKEN to a "
                                   "private app token with the CRM read scopes")
        return cls(token=token)

    @classmethod
    def from_connection(cls, conn: Any) -> HubSpotAuth:
        """From an Airflow Connection: the token is the password."""
        return cls(token=conn.password)


# (HubSpot object type, raw table, engagement type or None, last-modified property)
SEARCHED = [
    ("deals", "deal", None, "hs_lastmodifieddate"),
    ("companies", "company", None, "hs_lastmodifieddate"),
    ("contacts", "contact", None, "lastmodifieddate"),
    ("meetings", "engagement", "MEETING", "hs_lastmodifieddate"),
    ("calls", "engagement", "CALL", "hs_lastmodifieddate"),
    ("tasks", "engagement", "TASK", "hs_lastmodifieddate"),
]
ENGAGEMENT_PROPERTIES = {
    "meetings": ["hs_timestamp", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate",
                 "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time",
                 "hs_meeting_outcome", "hs_meeting_location", "hs_meeting_external_url"],
    "calls": ["hs_timestamp", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate",
              "hs_call_title", "hs_call_direction", "hs_call_duration", "hs_call_status",
              "hs_call_disposition"],
    "tasks": ["hs_timestamp", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate",
              "hs_task_subject", "hs_task_status", "hs_task_type", "hs_task_priority"],
}
TITLE_PROPERTIES = {"hs_meeting_title", "hs_call_title", "hs_task_subject"}
# (from type, to type, raw table, from column, to column)
ASSOCIATIONS = [
    ("deals", "companies", "deal_company", "deal_id", "company_id"),
    ("deals", "contacts", "deal_contact", "deal_id", "contact_id"),
    ("meetings", "deals", "engagement_deal", "engagement_id", "deal_id"),
    ("calls", "deals", "engagement_deal", "engagement_id", "deal_id"),
    ("tasks", "deals", "engagement_deal", "engagement_id", "deal_id"),
]


class HubSpotClient:
    def __init__(self, base_url: str, auth: HubSpotAuth, *, policy: RetryPolicy | None = None,
                 session: requests.Session | None = None):
        self.base = base_url.rstrip("/")
        self.auth = auth
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.requests = 0

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.auth.token}", "Accept": "application/json"}

    def call(self, method: str, path: str, *, params: dict | None = None,
             body: dict | None = None) -> dict:
        self.requests += 1
        resp = request_with_retries(self.session, method, self.base + path, headers=self._headers,
                                    policy=self.policy, what="hubspot", params=params, json=body)
        if resp.status_code in (401, 403):
            category = _hs_error(resp)[0]
            raise HubSpotAuthError(f"HubSpot refused the token (HTTP {resp.status_code} {category}): "
                                   "check HUBSPOT_ACCESS_TOKEN and the app's CRM read scopes")
        if resp.status_code >= 400:
            category, message = _hs_error(resp)
            raise HubSpotError(f"HubSpot HTTP {resp.status_code} {category}: {message} ({path})")
        return resp.json() if resp.content else {}

    def pages(self, path: str, params: dict) -> Iterable[list[dict]]:
        """GET list endpoints with `after` paging."""
        after = None
        for _ in range(1_000_000):
            page = self.call("GET", path, params={**params, **({"after": after} if after else {})})
            yield page.get("results", [])
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return
        raise HubSpotError(f"paging of {path} did not end")


def _hs_error(resp: requests.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:200]
    return body.get("category", body.get("status", "")), body.get("message", "")


def _ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def _stamp(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        return parse_sf_datetime(str(value))
    except ValueError:
        return None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def search_changed(client: HubSpotClient, obj: str, cursor_property: str, properties: list[str],
                   since: datetime | None) -> list[dict]:
    """Every record of `obj` modified at or after `since`, across the 10,000-result window."""
    found: dict[tuple[str, str], dict] = {}
    low = since
    for _ in range(100_000):
        after, last_seen, n = None, None, 0
        while True:
            body: dict = {"sorts": [{"propertyName": cursor_property, "direction": "ASCENDING"}],
                          "properties": properties, "limit": SEARCH_LIMIT}
            if low is not None:
                body["filterGroups"] = [{"filters": [
                    {"propertyName": cursor_property, "operator": "GTE", "value": _ms(low)}]}]
            if after:
                body["after"] = after
            page = client.call("POST", f"/crm/v3/objects/{obj}/search", body=body)
            for rec in page.get("results", []):
                stamp = (rec.get("properties") or {}).get(cursor_property) or rec.get("updatedAt")
                found[(str(rec.get("id")), str(stamp))] = rec
                last_seen = _stamp(stamp) or last_seen
                n += 1
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return list(found.values())
            if int(after) >= SEARCH_WINDOW:
                break  # the search window is full: query again from the last date seen
        if last_seen is None or (low is not None and last_seen <= low):
            raise HubSpotError(f"more than {SEARCH_WINDOW} {obj} share one modified date")
        low = last_seen
    raise HubSpotError(f"search of {obj} did not end")


def list_archived(client: HubSpotClient, obj: str, properties: list[str]) -> list[dict]:
    out = []
    for page in client.pages(f"/crm/v3/objects/{obj}", {"archived": "true", "limit": 100,
                                                        "properties": ",".join(properties)}):
        out.extend(page)
    return out


def list_ids(client: HubSpotClient, obj: str) -> list[str]:
    ids = []
    for page in client.pages(f"/crm/v3/objects/{obj}", {"limit": 100, "archived": "false"}):
        ids.extend(str(r["id"]) for r in page)
    return ids


def object_properties(client: HubSpotClient, obj: str) -> list[str]:
    if obj in ENGAGEMENT_PROPERTIES:
        return ENGAGEMENT_PROPERTIES[obj]
    return [p["name"] for p in client.call("GET", f"/crm/v3/properties/{obj}").get("results", [])]


# -- rows in Fivetran's shape -------------------------------------------------------------------

def _title(value, settings: Settings):
    if value in (None, "") or settings.subject_mode == "keep":
        return value
    if settings.subject_mode == "drop":
        return None
    key = (settings.address_hash_key or "").encode()
    return "h:" + hashlib.sha256(key + str(value).encode()).hexdigest()[:32]


def _deleted(rec: dict) -> bool:
    return bool(rec.get("archived"))


def object_rows(obj: str, engagement_type: str | None, rec: dict, settings: Settings
                ) -> dict[str, dict]:
    """One API record -> {raw table: row}."""
    props = dict(rec.get("properties") or {})
    rid = str(rec.get("id")) if rec.get("id") is not None else None
    if obj == "deals":
        row = {"deal_id": rid, "is_deleted": _deleted(rec),
               "deal_pipeline_id": props.pop("pipeline", None),
               "deal_pipeline_stage_id": props.pop("dealstage", None),
               "owner_id": props.pop("hubspot_owner_id", None)}
        row.update({f"property_{k}": v for k, v in props.items()})
        return {"deal": row}
    if engagement_type is None:  # companies, contacts
        row = {"id": rid, "is_deleted": _deleted(rec)}
        row.update({f"property_{k}": v for k, v in props.items()})
        return {"company" if obj == "companies" else "contact": row}
    for k in TITLE_PROPERTIES & props.keys():
        props[k] = _title(props[k], settings)
    engagement = {"id": rid, "type": engagement_type, "owner_id": props.pop("hubspot_owner_id", None),
                  "created_at": props.get("hs_createdate") or rec.get("createdAt"),
                  "last_updated": props.get("hs_lastmodifieddate") or rec.get("updatedAt"),
                  "timestamp": props.get("hs_timestamp"), "active": not _deleted(rec),
                  "is_deleted": _deleted(rec)}
    engagement.update({f"property_{k}": v for k, v in props.items()
                       if k not in ("hs_createdate", "hs_lastmodifieddate", "hs_timestamp")})
    out = {"engagement": engagement}
    if engagement_type == "MEETING":
        out["engagement_meeting"] = {
            "engagement_id": rid, "title": props.get("hs_meeting_title"),
            "start_time": props.get("hs_meeting_start_time"),
            "end_time": props.get("hs_meeting_end_time"),
            "meeting_outcome": props.get("hs_meeting_outcome"),
            "location": props.get("hs_meeting_location"),
            "external_url": props.get("hs_meeting_external_url"),
            "last_updated": engagement["last_updated"]}
    return out


def stage_history(client: HubSpotClient, deal_ids: list[str], batch: int = 50) -> list[dict]:
    rows = []
    for i in range(0, len(deal_ids), batch):
        inputs = [{"id": d} for d in deal_ids[i:i + batch]]
        page = client.call("POST", "/crm/v3/objects/deals/batch/read",
                           body={"properties": ["dealstage"], "propertiesWithHistory": ["dealstage"],
                                 "inputs": inputs})
        for rec in page.get("results", []):
            for h in (rec.get("propertiesWithHistory") or {}).get("dealstage", []):
                rows.append({"deal_id": str(rec["id"]), "value": h.get("value"),
                             "date_entered": h.get("timestamp"), "source": h.get("sourceType"),
                             "source_id": h.get("sourceId")})
    return rows


def associations(client: HubSpotClient, from_type: str, to_type: str, ids: list[str],
                 from_col: str, to_col: str, batch: int = 100) -> list[dict]:
    rows = []
    for i in range(0, len(ids), batch):
        page = client.call("POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                           body={"inputs": [{"id": x} for x in ids[i:i + batch]]})
        for res in page.get("results", []):
            src = str(res["from"]["id"])
            for to in res.get("to", []):
                for t in to.get("associationTypes") or [{}]:
                    row = {from_col: src, to_col: str(to["toObjectId"]),
                           "type_id": t.get("typeId"), "category": t.get("category")}
                    if from_col == "engagement_id":
                        row["engagement_type"] = {"meetings": "MEETING", "calls": "CALL",
                                                  "tasks": "TASK"}[from_type]
                    rows.append(row)
    return rows


def _owners(client: HubSpotClient) -> list[dict]:
    rows = []
    for archived in ("false", "true"):
        for page in client.pages("/crm/v3/owners", {"limit": 100, "archived": archived}):
            for o in page:
                rows.append({"owner_id": str(o["id"]), "email": o.get("email"),
                             "first_name": o.get("firstName"), "last_name": o.get("lastName"),
                             "type": o.get("type", "PERSON"),
                             "active_user_id": str(o["userId"]) if o.get("userId") else None,
                             "is_active": archived == "false" and not o.get("archived"),
                             "created_at": o.get("createdAt"), "updated_at": o.get("updatedAt")})
    return rows


def _pipelines(client: HubSpotClient) -> tuple[list[dict], list[dict]]:
    pipelines, stages = [], []
    for p in client.call("GET", "/crm/v3/pipelines/deals").get("results", []):
        pipelines.append({"pipeline_id": p["id"], "label": p.get("label"),
                          "display_order": p.get("displayOrder"), "active": not p.get("archived"),
                          "is_deleted": bool(p.get("archived")), "created_at": p.get("createdAt"),
                          "updated_at": p.get("updatedAt")})
        for s in p.get("stages", []):
            meta = s.get("metadata") or {}
            closed = str(meta.get("isClosed", "false")).lower() == "true"
            prob = meta.get("probability")
            stages.append({"stage_id": s["id"], "pipeline_id": p["id"], "label": s.get("label"),
                           "display_order": s.get("displayOrder"), "probability": prob,
                           "is_closed": closed,
                           "closed_won": closed and prob is not None and float(prob) >= 1.0,
                           "active": not s.get("archived"), "is_deleted": bool(s.get("archived")),
                           "created_at": s.get("createdAt"), "updated_at": s.get("updatedAt")})
    return pipelines, stages


# -- incremental bookkeeping -------------------------------------------------------------------

def _fresh(rows: list[dict], id_col: str, stamp_col: str, cursor: ObjectCursor,
           overlap: timedelta) -> tuple[list[dict], list[tuple[str, datetime]]]:
    """Rows whose (id, stamp) has not landed before (see salesforce_api for the scheme)."""
    fresh, versions = [], []
    for row in rows:
        rid, stamp = row.get(id_col), _stamp(row.get(stamp_col))
        if rid and stamp is not None:
            if cursor.value is not None and (stamp <= cursor.value - overlap
                                             or cursor.seen.get(rid) == _iso(stamp)):
                continue
            versions.append((rid, stamp))
        fresh.append(row)
    return fresh, versions


def _digest(rows: list[dict]) -> str:
    lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def extract_hubspot(settings: Settings, logical_date: str, *, auth: HubSpotAuth | None = None,
                    base_url: str | None = None, overlap_seconds: int | None = None,
                    policy: RetryPolicy | None = None) -> LandResult:
    """Extract HubSpot changes since the committed cursors and land them in `raw_hubspot` as one
    batch (source `hubspot_api`), cursors and association digests committed in the same load.
    `settings.extra` may set `hubspot_base_url` and `hubspot_overlap_seconds`."""
    extra = settings.extra or {}
    auth = auth or HubSpotAuth.from_env()
    client = HubSpotClient(base_url or extra.get("hubspot_base_url", BASE_URL), auth, policy=policy)
    overlap = timedelta(seconds=int(overlap_seconds if overlap_seconds is not None else
                                    extra.get("hubspot_overlap_seconds", DEFAULT_OVERLAP_SECONDS)))
    state = pipeline_state(settings, PIPELINE, DATASET, SOURCE)
    old_cursors: dict = dict(state.get("cursors", {}))
    old_digests: dict = dict(state.get("association_digests", {}))
    cursors, digests = dict(old_cursors), dict(old_digests)
    rows: dict[str, list[dict]] = {}
    changed_deals: list[str] = []
    ids: dict[str, list[str]] = {}

    for obj, table, etype, cursor_property in SEARCHED:
        cursor = ObjectCursor.from_state(old_cursors.get(obj))
        properties = object_properties(client, obj)
        if cursor_property not in properties:
            properties = [*properties, cursor_property]
        since = cursor.value - overlap if cursor.value else None
        records = search_changed(client, obj, cursor_property, properties, since)
        records += [r for r in list_archived(client, obj, properties)
                    if cursor.value is None or (_stamp(r.get("archivedAt") or r.get("updatedAt"))
                                                or cursor.value) > cursor.value - overlap]
        versions = []
        for rec in records:
            stamp = _stamp(rec.get("archivedAt") if rec.get("archived") else
                           (rec.get("properties") or {}).get(cursor_property) or rec.get("updatedAt"))
            rid = str(rec.get("id"))
            if stamp is not None and cursor.value is not None and (
                    stamp <= cursor.value - overlap or cursor.seen.get(rid) == _iso(stamp)):
                continue
            if stamp is not None:
                versions.append((rid, stamp))
            for t, row in object_rows(obj, etype, rec, settings).items():
                if rec.get("archived") and t != "engagement_meeting":
                    stamp_col = HUBSPOT[t].cursor
                    if stamp is not None and stamp_col:
                        row[stamp_col] = _iso(stamp)  # the deletion is the latest version
                rows.setdefault(t, []).append(row)
            if obj == "deals" and not rec.get("archived"):
                changed_deals.append(rid)
        cursors[obj] = cursor.advance(versions, overlap).to_state()
        log.info("hubspot: %s: %d changed records", obj, len(versions))

    rows["deal_stage"] = stage_history(client, changed_deals)

    for key, fetch in (("owners", _owners), ("pipelines", None)):
        if fetch is None:
            pipelines, stages = _pipelines(client)
            pairs = [("deal_pipeline", "pipeline_id", pipelines),
                     ("deal_pipeline_stage", "stage_id", stages)]
        else:
            pairs = [("owner", "owner_id", fetch(client))]
        for table, id_col, all_rows in pairs:
            cursor = ObjectCursor.from_state(old_cursors.get(table))
            fresh, versions = _fresh(all_rows, id_col, "updated_at", cursor, overlap)
            if fresh:
                rows[table] = fresh
            cursors[table] = cursor.advance(versions, overlap).to_state()

    snapshots: dict[str, list[dict]] = {}
    for from_type, to_type, table, from_col, to_col in ASSOCIATIONS:
        if from_type not in ids:
            ids[from_type] = list_ids(client, from_type)
        snapshots.setdefault(table, []).extend(
            associations(client, from_type, to_type, ids[from_type], from_col, to_col))
    for table, snap in snapshots.items():
        digest = _digest(snap)
        if digest != old_digests.get(table):
            rows[table] = snap
            digests[table] = digest
            log.info("hubspot: %s changed: snapshot of %d rows", table, len(snap))

    batches = []
    content = hashlib.sha256()
    for table, table_rows in rows.items():
        if not table_rows:
            continue
        checked = check_records(table_rows, HUBSPOT[table], source=SOURCE,
                                origin=f"{client.base}/{table}")
        batches.append(TableBatch(table=table, good=checked.good, rejects=checked.rejects))
        content.update(_digest(table_rows).encode())
    batch_id = f"{SOURCE}:{logical_date}:{content.hexdigest()[:12]}"
    if not batches and cursors == old_cursors and digests == old_digests:
        log.info("hubspot: nothing changed since the last run")
        return LandResult(source=SOURCE, batch_id=batch_id)
    result = land(settings, pipeline_name=PIPELINE, dataset=DATASET, source=SOURCE,
                  batch_id=batch_id, batches=batches,
                  state_update={"cursors": cursors, "association_digests": digests})
    log.info("hubspot: landed %d rows (%d rejects) in %d requests", result.total_rows,
             result.rejects, client.requests)
    return result
