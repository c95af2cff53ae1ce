"""Keyed hashes of the CRM contacts' addresses, so that activity stored with hashed external
addresses (``hash_external_addresses``) still matches contacts exactly.

The readers store an external address as a keyed hash; the CRM keeps its contacts' addresses in
clear. dbt cannot compute the readers' HMAC, so before each build this writes, for every address a
CRM contact record holds, the form the readers would store (`raw_activity.contact_address_hash`);
activity matching joins through it. It holds only addresses the CRM already has: an activity
address that is no contact's stays an unreadable hash.
"""

from __future__ import annotations

import logging

from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.settings import Settings
from revwh.warehouse import connect

log = logging.getLogger(__name__)

TABLE = "contact_address_hash"
# the raw schemas (the readers' datasets; importing the readers would load pyarrow and dlt)
ACTIVITY_SCHEMA, SALESFORCE_SCHEMA, HUBSPOT_SCHEMA = "raw_activity", "raw_salesforce", "raw_hubspot"
# (schema, table, address column) of every raw table holding contact addresses
CONTACT_ADDRESS_COLUMNS = ((SALESFORCE_SCHEMA, "contact", "email"),
                           (HUBSPOT_SCHEMA, "contact", "property_email"))


def write_contact_address_hashes(settings: Settings) -> int:
    """Replace `raw_activity.contact_address_hash` (email, activity_address); returns its rows.
    With hashing off it is written empty: dbt reads it only when hashing is on, but its unit
    tests need the relation to exist. pandas is loaded only to write addresses (every build
    runs this while dbt starts, on the same cores)."""
    privacy = Privacy(PrivacyConfig.from_settings(settings))
    table = f'"{ACTIVITY_SCHEMA}"."{TABLE}"'
    with connect(settings) as con:
        selects = [f'select lower(trim("{column}")) as email from "{schema}"."{source}"'
                   for schema, source, column in CONTACT_ADDRESS_COLUMNS
                   if settings.hash_external_addresses
                   and con.schema_exists(schema) and source in con.relations(schema)]
        emails = [row[0] for row in con.execute(" union ".join(selects) + " order by 1")
                  if row[0]] if selects else []
        con.execute(f"create schema if not exists {ACTIVITY_SCHEMA}")
        if emails:
            import pandas as pd

            con.write_frame(ACTIVITY_SCHEMA, TABLE, pd.DataFrame({
                "email": pd.Series(emails, dtype="string"),
                "activity_address": pd.Series([privacy.address(e)[0] for e in emails],
                                              dtype="string")}))
        else:
            with con.transaction():
                con.execute(f"drop table if exists {table}")
                con.execute(f"create table {table} (email varchar, activity_address varchar)")
    log.info("contact address hashes: %d addresses", len(emails))
    return len(emails)
