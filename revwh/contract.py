"""Raw contracts: the tables every source lands as, with Fivetran's names (DESIGN §4).

One source of truth for the demo generator (what it writes), the landing layer (which columns
it type-checks; a row whose value does not fit goes to rejects) and the dbt sources.
Columns not listed here are still landed as text: sources may carry more fields than we know.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical column types. Landing casts to these; a value that does not cast is a reject.
STRING, TIMESTAMP, DATE, DOUBLE, BIGINT, BOOLEAN = (
    "string", "timestamp", "date", "double", "bigint", "boolean",
)


@dataclass(frozen=True)
class TableContract:
    name: str
    primary_key: str
    columns: dict[str, str]
    # column that orders versions of one record (latest wins in staging)
    cursor: str | None = "system_modstamp"
    required: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def _t(name: str, columns: dict[str, str], *, pk: str = "id", cursor: str | None = "system_modstamp",
       required: tuple[str, ...] = ("id",)) -> TableContract:
    return TableContract(name=name, primary_key=pk, columns=columns, cursor=cursor, required=required)


_AUDIT = {"created_date": TIMESTAMP, "system_modstamp": TIMESTAMP, "is_deleted": BOOLEAN}

SALESFORCE: dict[str, TableContract] = {t.name: t for t in [
    _t("user_role", {"id": STRING, "name": STRING, "developer_name": STRING,
                     "parent_role_id": STRING, **_AUDIT}),
    _t("user", {"id": STRING, "name": STRING, "first_name": STRING, "last_name": STRING,
                "email": STRING, "title": STRING, "user_role_id": STRING, "manager_id": STRING,
                "is_active": BOOLEAN, "segment_c": STRING, "region_c": STRING,
                "quota_amount_c": DOUBLE, **_AUDIT}),
    _t("account", {"id": STRING, "name": STRING, "website": STRING, "industry": STRING,
                   "number_of_employees": BIGINT, "annual_revenue": DOUBLE,
                   "billing_country": STRING, "segment_c": STRING, "region_c": STRING,
                   "type": STRING, "owner_id": STRING, "parent_id": STRING, **_AUDIT}),
    _t("contact", {"id": STRING, "account_id": STRING, "first_name": STRING, "last_name": STRING,
                   "name": STRING, "email": STRING, "title": STRING, "lead_source": STRING,
                   "owner_id": STRING, "master_record_id": STRING, **_AUDIT}),
    _t("lead", {"id": STRING, "first_name": STRING, "last_name": STRING, "name": STRING,
                "company": STRING, "email": STRING, "lead_source": STRING, "status": STRING,
                "is_converted": BOOLEAN, "converted_date": DATE,
                "converted_account_id": STRING, "converted_contact_id": STRING,
                "converted_opportunity_id": STRING, "owner_id": STRING, **_AUDIT}),
    _t("opportunity", {
        "id": STRING, "name": STRING, "account_id": STRING, "owner_id": STRING,
        "amount": DOUBLE, "currency_iso_code": STRING, "close_date": DATE,
        "stage_name": STRING, "probability": DOUBLE, "forecast_category": STRING,
        "forecast_category_name": STRING, "is_closed": BOOLEAN, "is_won": BOOLEAN,
        "lead_source": STRING, "type": STRING, "last_modified_date": TIMESTAMP,
        # SPICED and win/loss fields (custom fields; which field means what is configuration)
        "pain_category_c": STRING, "impact_c": STRING, "impact_amount_c": DOUBLE,
        "critical_event_c": STRING, "critical_event_date_c": DATE,
        "decision_criteria_c": STRING, "win_loss_reason_c": STRING,
        # verifiers kept as opportunity fields (their changes come from field history)
        "requirements_documented_date_c": DATE, "technical_validation_date_c": DATE,
        "mutual_action_plan_date_c": DATE,
        **_AUDIT}, required=("id", "stage_name")),
    # Salesforce's own OpportunityHistory object: one row per stage/amount/close-date change
    _t("opportunity_history", {
        "id": STRING, "opportunity_id": STRING, "stage_name": STRING, "amount": DOUBLE,
        "close_date": DATE, "probability": DOUBLE, "forecast_category": STRING,
        "expected_revenue": DOUBLE, "created_by_id": STRING, **_AUDIT},
        required=("id", "opportunity_id")),
    _t("opportunity_field_history", {
        "id": STRING, "opportunity_id": STRING, "field": STRING, "data_type": STRING,
        "old_value": STRING, "new_value": STRING, "created_by_id": STRING,
        "created_date": TIMESTAMP, "is_deleted": BOOLEAN},
        cursor="created_date", required=("id", "opportunity_id", "field")),
    _t("opportunity_contact_role", {
        "id": STRING, "opportunity_id": STRING, "contact_id": STRING, "role": STRING,
        "is_primary": BOOLEAN, **_AUDIT}, required=("id", "opportunity_id", "contact_id")),
    # custom object Verifier_Status__c: one row per verifier status change
    _t("verifier_status_c", {
        "id": STRING, "opportunity_c": STRING, "verifier_key_c": STRING, "status_c": STRING,
        "status_date_c": TIMESTAMP, **_AUDIT}, required=("id", "opportunity_c", "verifier_key_c")),
    _t("task", {"id": STRING, "who_id": STRING, "what_id": STRING, "account_id": STRING,
                "owner_id": STRING, "subject": STRING, "type": STRING, "task_subtype": STRING,
                "status": STRING, "activity_date": DATE, **_AUDIT}),
    _t("event", {"id": STRING, "who_id": STRING, "what_id": STRING, "account_id": STRING,
                 "owner_id": STRING, "subject": STRING, "type": STRING,
                 "start_date_time": TIMESTAMP, "end_date_time": TIMESTAMP,
                 "duration_in_minutes": BIGINT, **_AUDIT}),
]}

# Activity tables written by the email and calendar readers (DESIGN §4). Raw keeps duplicates:
# the same Message-ID arrives from every mailbox it is in, the same meeting from every calendar;
# staging deduplicates. Privacy is applied before landing: `*_is_hashed` says an address is the
# keyed hash `h:<hex>` (its domain is kept beside it), `subject_mode` says whether subject/summary
# was kept, hashed or dropped. `origin` is where a row came from (file and byte offset, or API id).
ACTIVITY: dict[str, TableContract] = {t.name: t for t in [
    _t("activity_email", {
        "message_id": STRING, "mailbox": STRING, "thread_id": STRING, "in_reply_to": STRING,
        "references": STRING, "sent_at": TIMESTAMP, "from_address": STRING,
        "from_name": STRING, "subject": STRING, "is_internal_sender": BOOLEAN,
        "from_domain": STRING, "from_is_hashed": BOOLEAN, "subject_mode": STRING,
        "origin": STRING, "provider_id": STRING, "provider_thread_id": STRING},
        pk="message_id", cursor="sent_at", required=("message_id", "sent_at")),
    _t("activity_email_recipient", {
        "message_id": STRING, "address": STRING, "name": STRING, "kind": STRING,
        "mailbox": STRING, "origin": STRING, "position": BIGINT, "domain": STRING,
        "is_internal": BOOLEAN, "address_is_hashed": BOOLEAN},
        pk="message_id", cursor=None, required=("message_id", "address")),
    # one row per occurrence (recurrences expanded in the extraction window); meeting_id is the
    # UID, plus "/" and the RECURRENCE-ID (UTC, or a date for all-day) for recurring meetings.
    # Cancelled occurrences land with status CANCELLED; deletions reported by an API land with
    # is_deleted (meeting_id is then the provider's id when the API sends nothing else).
    _t("activity_meeting", {
        "meeting_id": STRING, "uid": STRING, "recurrence_id": STRING, "calendar": STRING,
        "summary": STRING, "starts_at": TIMESTAMP, "ends_at": TIMESTAMP, "is_all_day": BOOLEAN,
        "status": STRING, "organizer": STRING, "sequence": BIGINT,
        "organizer_name": STRING, "organizer_domain": STRING,
        "is_internal_organizer": BOOLEAN, "organizer_is_hashed": BOOLEAN,
        "timezone": STRING, "is_recurring": BOOLEAN, "subject_mode": STRING,
        "origin": STRING, "provider_id": STRING, "is_deleted": BOOLEAN},
        pk="meeting_id", cursor=None, required=("meeting_id",)),
    _t("activity_meeting_attendee", {
        "meeting_id": STRING, "address": STRING, "name": STRING, "partstat": STRING,
        "role": STRING, "calendar": STRING, "domain": STRING, "is_internal": BOOLEAN,
        "address_is_hashed": BOOLEAN, "is_organizer": BOOLEAN},
        pk="meeting_id", cursor=None, required=("meeting_id", "address")),
]}

ALL: dict[str, TableContract] = {**SALESFORCE, **ACTIVITY}

# Metadata columns the landing layer adds to every raw row (DESIGN §3).
BATCH_COLUMNS = ("_batch_id", "_extracted_at", "_source")

# HubSpot CRM objects as Fivetran lands them (DESIGN §4): `deal` with `property_<name>` columns
# (every property comes along; the ones typed here are those staging reads), the pipeline and its
# stages, the deal-stage history, associations (`deal_company`, `deal_contact`,
# `engagement_deal`: full snapshots, re-pulled every run) and engagements. Ids are text.
HUBSPOT: dict[str, TableContract] = {t.name: t for t in [
    _t("deal", {
        "deal_id": STRING, "is_deleted": BOOLEAN, "deal_pipeline_id": STRING,
        "deal_pipeline_stage_id": STRING, "owner_id": STRING, "portal_id": STRING,
        "property_dealname": STRING, "property_amount": DOUBLE,
        "property_deal_currency_code": STRING, "property_closedate": TIMESTAMP,
        "property_createdate": TIMESTAMP, "property_hs_lastmodifieddate": TIMESTAMP,
        "property_dealtype": STRING, "property_hs_is_closed": BOOLEAN,
        "property_hs_is_closed_won": BOOLEAN, "property_closed_lost_reason": STRING},
        pk="deal_id", cursor="property_hs_lastmodifieddate", required=("deal_id",)),
    _t("company", {
        "id": STRING, "is_deleted": BOOLEAN, "property_name": STRING, "property_domain": STRING,
        "property_industry": STRING, "property_country": STRING,
        "property_numberofemployees": BIGINT, "property_annualrevenue": DOUBLE,
        "property_hubspot_owner_id": STRING, "property_createdate": TIMESTAMP,
        "property_hs_lastmodifieddate": TIMESTAMP},
        cursor="property_hs_lastmodifieddate"),
    _t("contact", {
        "id": STRING, "is_deleted": BOOLEAN, "property_email": STRING,
        "property_firstname": STRING, "property_lastname": STRING, "property_jobtitle": STRING,
        "property_associatedcompanyid": STRING, "property_hubspot_owner_id": STRING,
        "property_createdate": TIMESTAMP, "property_lastmodifieddate": TIMESTAMP},
        cursor="property_lastmodifieddate"),
    _t("owner", {
        "owner_id": STRING, "email": STRING, "first_name": STRING, "last_name": STRING,
        "type": STRING, "active_user_id": STRING, "is_active": BOOLEAN,
        "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
        pk="owner_id", cursor="updated_at", required=("owner_id",)),
    _t("deal_pipeline", {
        "pipeline_id": STRING, "label": STRING, "display_order": BIGINT, "active": BOOLEAN,
        "is_deleted": BOOLEAN, "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
        pk="pipeline_id", cursor="updated_at", required=("pipeline_id",)),
    _t("deal_pipeline_stage", {
        "stage_id": STRING, "pipeline_id": STRING, "label": STRING, "display_order": BIGINT,
        "probability": DOUBLE, "is_closed": BOOLEAN, "closed_won": BOOLEAN, "active": BOOLEAN,
        "is_deleted": BOOLEAN, "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
        pk="stage_id", cursor="updated_at", required=("stage_id", "pipeline_id")),
    # one row per stage a deal entered (HubSpot's dealstage property history)
    _t("deal_stage", {
        "deal_id": STRING, "value": STRING, "date_entered": TIMESTAMP, "source": STRING,
        "source_id": STRING},
        pk="deal_id", cursor="date_entered", required=("deal_id", "value", "date_entered")),
    _t("deal_company", {"deal_id": STRING, "company_id": STRING, "type_id": BIGINT,
                        "category": STRING},
       pk="deal_id", cursor=None, required=("deal_id", "company_id")),
    _t("deal_contact", {"deal_id": STRING, "contact_id": STRING, "type_id": BIGINT,
                        "category": STRING},
       pk="deal_id", cursor=None, required=("deal_id", "contact_id")),
    _t("engagement", {
        "id": STRING, "type": STRING, "owner_id": STRING, "portal_id": STRING,
        "created_at": TIMESTAMP, "last_updated": TIMESTAMP, "timestamp": TIMESTAMP,
        "active": BOOLEAN, "is_deleted": BOOLEAN},
        cursor="last_updated"),
    _t("engagement_meeting", {
        "engagement_id": STRING, "title": STRING, "start_time": TIMESTAMP,
        "end_time": TIMESTAMP, "meeting_outcome": STRING, "location": STRING,
        "external_url": STRING, "last_updated": TIMESTAMP},
        pk="engagement_id", cursor="last_updated", required=("engagement_id",)),
    _t("engagement_deal", {"engagement_id": STRING, "deal_id": STRING,
                           "engagement_type": STRING, "type_id": BIGINT, "category": STRING},
       pk="engagement_id", cursor=None, required=("engagement_id", "deal_id")),
]}
