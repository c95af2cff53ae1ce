"""A local HubSpot CRM API: properties, search (filter GTE on the last-modified date, sorted,
`after` paging, the 10,000-result window), list with `archived`, batch read with
`propertiesWithHistory`, v4 association batch reads, owners, pipelines, bearer-token auth
(401) and 429 with Retry-After. It serves a small, deterministic portal (`make_portal`)."""

from __future__ import annotations

import random
import re
import threading
from datetime import UTC, datetime, timedelta

from tests.extract.crm.fakehttp import FakeServer

TOKEN = "pat-na1-fake-token"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
STAGES = [  # HubSpot's default sales pipeline
    ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
    ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
    ("contractsent", "Contract Sent", "0.9", "false"),
    ("closedwon", "Closed Won", "1.0", "true"),
    ("closedlost", "Closed Lost", "0.0", "true"),
]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.fromisoformat(value)


def make_portal(seed: int = 7, deals: int = 60, companies: int = 15, contacts: int = 30,
                meetings: int = 40) -> dict:
    rnd = random.Random(seed)
    at = iter(T0 + timedelta(minutes=3 * i) for i in range(10**6))
    owners = [{"id": str(100 + i), "email": f"rep{i}@northpeak.io", "firstName": f"Rep{i}",
               "lastName": "Seller", "userId": 900 + i, "type": "PERSON",
               "createdAt": iso(T0 - timedelta(days=300)), "updatedAt": iso(T0 - timedelta(days=200)),
               "archived": False} for i in range(4)]
    objects: dict[str, dict[str, dict]] = {k: {} for k in ("deals", "companies", "contacts",
                                                            "meetings", "calls", "tasks")}

    def add(obj, rid, props, modified_prop="hs_lastmodifieddate"):
        when = next(at)
        props = {**props, modified_prop: iso(when), "hs_object_id": rid,
                 "createdate" if obj in ("deals", "companies", "contacts") else "hs_createdate":
                     iso(when - timedelta(days=30))}
        objects[obj][rid] = {"id": rid, "properties": props, "createdAt": iso(when - timedelta(days=30)),
                             "updatedAt": iso(when), "archived": False}

    for i in range(companies):
        add("companies", str(5000 + i), {"name": f"Company {i}", "domain": f"company{i}.com",
                                         "industry": rnd.choice(["SOFTWARE", "FINANCE", "RETAIL"]),
                                         "country": rnd.choice(["US", "DE", "GB"]),
                                         "numberofemployees": str(rnd.randint(10, 5000)),
                                         "annualrevenue": str(rnd.randint(1, 900) * 100000),
                                         "hubspot_owner_id": rnd.choice(owners)["id"]})
    for i in range(contacts):
        add("contacts", str(7000 + i), {"email": f"buyer{i}@company{i % companies}.com",
                                        "firstname": f"Buyer{i}", "lastname": "Person",
                                        "jobtitle": rnd.choice(["CFO", "VP Ops", "Engineer"]),
                                        "associatedcompanyid": str(5000 + i % companies)},
            modified_prop="lastmodifieddate")
    history: dict[str, list[dict]] = {}
    for i in range(deals):
        rid = str(1000 + i)
        path = STAGES[: rnd.randint(1, 5)]
        final = rnd.choice([path[-1], STAGES[5], STAGES[6]]) if len(path) >= 3 else path[-1]
        if final not in path:
            path = [*path, final]
        start = T0 - timedelta(days=rnd.randint(40, 200))
        history[rid] = [{"value": s[0], "timestamp": iso(start + timedelta(days=7 * k)),
                         "sourceType": "CRM_UI", "sourceId": f"userId:{900 + i % 4}",
                         "updatedByUserId": 900 + i % 4} for k, s in enumerate(path)][::-1]
        add("deals", rid, {"dealname": f"Deal {i}", "amount": str(rnd.randint(5, 200) * 1000),
                           "dealstage": path[-1][0], "pipeline": "default",
                           "closedate": iso(start + timedelta(days=90)),
                           "hubspot_owner_id": owners[i % 4]["id"], "dealtype": "newbusiness",
                           "deal_currency_code": "USD",
                           "hs_is_closed": str(path[-1][3]), "hs_is_closed_won": str(path[-1][0] == "closedwon").lower(),
                           "pain_category": rnd.choice(["cost", "risk", ""]) or None})
    for i in range(meetings):
        add("meetings", str(30000 + i), {"hs_meeting_title": f"Discovery call {i}",
                                         "hs_meeting_start_time": iso(T0 - timedelta(days=i)),
                                         "hs_meeting_end_time": iso(T0 - timedelta(days=i) + timedelta(minutes=45)),
                                         "hs_meeting_outcome": "COMPLETED",
                                         "hs_meeting_body": "CONFIDENTIAL BODY",
                                         "hs_timestamp": iso(T0 - timedelta(days=i)),
                                         "hubspot_owner_id": owners[i % 4]["id"]})
    for i in range(10):
        add("calls", str(40000 + i), {"hs_call_title": f"Call {i}", "hs_call_direction": "OUTBOUND",
                                      "hs_timestamp": iso(T0 - timedelta(days=i)),
                                      "hubspot_owner_id": owners[i % 4]["id"]})
    assoc: dict[tuple[str, str], dict[str, list[tuple[str, int]]]] = {}
    deal_ids = list(objects["deals"])
    assoc[("deals", "companies")] = {d: [(str(5000 + k % companies), 5)] for k, d in enumerate(deal_ids)}
    assoc[("deals", "contacts")] = {d: [(str(7000 + (k + j) % contacts), 3) for j in range(k % 3)]
                                    for k, d in enumerate(deal_ids)}
    assoc[("meetings", "deals")] = {m: [(deal_ids[k % len(deal_ids)], 212)]
                                    for k, m in enumerate(objects["meetings"])}
    assoc[("calls", "deals")] = {c: [(deal_ids[k % len(deal_ids)], 206)] for k, c in enumerate(objects["calls"])}
    assoc[("tasks", "deals")] = {}
    pipelines = [{"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False,
                  "createdAt": iso(T0 - timedelta(days=400)), "updatedAt": iso(T0 - timedelta(days=400)),
                  "stages": [{"id": sid, "label": label, "displayOrder": k, "archived": False,
                              "metadata": {"probability": prob, "isClosed": closed},
                              "createdAt": iso(T0 - timedelta(days=400)),
                              "updatedAt": iso(T0 - timedelta(days=400))}
                             for k, (sid, label, prob, closed) in enumerate(STAGES)]}]
    return {"objects": objects, "history": history, "assoc": assoc, "owners": owners,
            "pipelines": pipelines, "clock": at}


class HubSpotApp:
    def __init__(self, portal: dict | None = None, *, page_limit: int = 20):
        self.p = portal or make_portal()
        self.page_limit = page_limit
        self.token = TOKEN
        self.lock = threading.Lock()
        self.faults: list[dict] = []

    # -- changes -----------------------------------------------------------------------
    def touch(self, obj: str, rid: str, **props) -> None:
        rec = self.p["objects"][obj][rid]
        when = next(self.p["clock"]) + timedelta(days=400)
        prop = "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"
        rec["properties"].update(props, **{prop: iso(when)})
        rec["updatedAt"] = iso(when)
        if obj == "deals" and "dealstage" in props:
            self.p["history"][rid].insert(0, {"value": props["dealstage"], "timestamp": iso(when),
                                              "sourceType": "CRM_UI", "sourceId": "userId:900"})

    def archive(self, obj: str, rid: str) -> None:
        rec = self.p["objects"][obj][rid]
        rec["archived"] = True
        rec["archivedAt"] = iso(next(self.p["clock"]) + timedelta(days=400))

    # -- HTTP ----------------------------------------------------------------------------
    def handle(self, req):
        with self.lock:
            fault = next((f for f in self.faults if f["path"] in req.path), None)
            if fault:
                self.faults.remove(fault)
        if fault:
            headers = {"Retry-After": fault["retry_after"]} if "retry_after" in fault else {}
            return fault["status"], headers, {"status": "error", "category": "RATE_LIMITS",
                                              "policyName": "TEN_SECONDLY_ROLLING",
                                              "message": "You have reached your ten_secondly_rolling limit."}
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"status": "error", "category": "INVALID_AUTHENTICATION",
                             "message": "Authentication credentials not found."}
        objects = self.p["objects"]
        m = re.match(r"^/crm/v3/properties/(\w+)$", req.path)
        if m:
            names = sorted({k for r in objects[m.group(1)].values() for k in r["properties"]})
            return 200, {}, {"results": [{"name": n, "type": "string"} for n in names]}
        m = re.match(r"^/crm/v3/objects/(\w+)/search$", req.path)
        if m and req.method == "POST":
            return self._search(m.group(1), req.json())
        if req.path == "/crm/v3/objects/deals/batch/read" and req.method == "POST":
            body = req.json()
            out = []
            for inp in body["inputs"]:
                rec = objects["deals"].get(inp["id"])
                if rec:
                    out.append({"id": rec["id"], "properties": {"dealstage": rec["properties"]["dealstage"]},
                                "propertiesWithHistory": {"dealstage": self.p["history"][rec["id"]]}})
            return 200, {}, {"status": "COMPLETE", "results": out}
        m = re.match(r"^/crm/v3/objects/(\w+)$", req.path)
        if m:
            archived = req.arg("archived", "false") == "true"
            rows = [r for r in objects[m.group(1)].values() if r["archived"] == archived]
            props = [p for p in (req.arg("properties") or "").split(",") if p]
            rows = [{**r, "properties": {k: v for k, v in r["properties"].items() if k in props}}
                    for r in rows]
            return self._paged(rows, req.arg("after"), int(req.arg("limit", "10")))
        m = re.match(r"^/crm/v4/associations/(\w+)/(\w+)/batch/read$", req.path)
        if m:
            table = self.p["assoc"].get((m.group(1), m.group(2)), {})
            results = [{"from": {"id": inp["id"]},
                        "to": [{"toObjectId": int(t), "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
                               for t, type_id in table.get(inp["id"], [])]}
                       for inp in req.json()["inputs"] if table.get(inp["id"])]
            return 200, {}, {"status": "COMPLETE", "results": results}
        if req.path == "/crm/v3/owners":
            archived = req.arg("archived", "false") == "true"
            rows = [o for o in self.p["owners"] if o["archived"] == archived]
            return self._paged(rows, req.arg("after"), int(req.arg("limit", "100")))
        if req.path == "/crm/v3/pipelines/deals":
            return 200, {}, {"results": self.p["pipelines"]}
        return 404, {}, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": req.path}

    def _paged(self, rows, after, limit):
        start = int(after or 0)
        limit = min(limit, self.page_limit)
        body = {"results": rows[start:start + limit]}
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, {}, body

    def _search(self, obj: str, body: dict):
        rows = [r for r in self.p["objects"][obj].values() if not r["archived"]]
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                assert f["operator"] == "GTE"
                low = parse(f["value"])
                rows = [r for r in rows if r["properties"].get(f["propertyName"]) and
                        parse(r["properties"][f["propertyName"]]) >= low]
        for s in body.get("sorts", []):
            rows.sort(key=lambda r: (r["properties"].get(s["propertyName"]) or "", r["id"]))
        start = int(body.get("after") or 0)
        if start >= 10_000:
            return 400, {}, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "paging beyond 10000 results is not supported"}
        limit = min(int(body.get("limit", 10)), self.page_limit)
        wanted = set(body.get("properties") or []) | {"hs_object_id", "createdate",
                                                      "hs_lastmodifieddate", "lastmodifieddate"}
        page = [{"id": r["id"], "createdAt": r["createdAt"], "updatedAt": r["updatedAt"],
                 "archived": False,
                 "properties": {k: v for k, v in r["properties"].items() if k in wanted}}
                for r in rows[start:start + limit]]
        out = {"total": len(rows), "results": page}
        if start + limit < len(rows):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return 200, {}, out


def serve(portal: dict | None = None, page_limit: int = 20):
    app = HubSpotApp(portal, page_limit=page_limit)
    return FakeServer(app).start(), app
