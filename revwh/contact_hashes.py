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

import pandas as pd

from revwh.extract.activity.mail import DATASET as ACTIVITY_SCHEMA
from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.extract.file_drop import DATASET as SALESFORCE_SCHEMA
from revwh.settings import Settings
from revwh.warehouse import connect

log = logging.getLogger(__name__)

TABLE = "contact_address_hash"
HUBSPOT_SCHEMA = "raw_hubspot"
# (schema, table, address column) of every raw table holding contact addresses
CONTACT_ADDRESS_COLUMNS = ((SALESFORCE_SCHEMA, "contact", "email"),
                           (HUBSPOT_SCHEMA, "contact", "property_email"))


def write_contact_address_hashes(settings: Settings) -> int:
    """Replace `raw_activity.contact_address_hash` (email, activity_address); returns its rows.
    With hashing off it is written empty: dbt reads it only when hashing is on, but its unit
    tests need the relation to exist."""
    privacy = Privacy(PrivacyConfig.from_settings(settings))
    with connect(settings) as con:
        selects = [f'select lower(trim("{column}")) as email from "{schema}"."{table}"'
                   for schema, table, column in CONTACT_ADDRESS_COLUMNS
                   if settings.hash_external_addresses
                   and con.schema_exists(schema) and table in con.relations(schema)]
        emails = [row[0] for row in con.execute(" union ".join(selects) + " order by 1")
                  if row[0]] if selects else []
        frame = pd.DataFrame({"email": pd.Series(emails, dtype="string"),
                              "activity_address": pd.Series(
                                  [privacy.address(e)[0] for e in emails], dtype="string")})
        con.execute(f"create schema if not exists {ACTIVITY_SCHEMA}")
        con.write_frame(ACTIVITY_SCHEMA, TABLE, frame)
    log.info("contact address hashes: %d addresses", len(frame))
    return len(frame)
