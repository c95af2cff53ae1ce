"""The nightly run as plain functions, one per step. The DAG and the CLI both call these; each
takes the settings and the logical date (YYYY-MM-DD) and returns a JSON-able summary."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict

from revwh import publish
from revwh.settings import Settings

log = logging.getLogger(__name__)


class ForecastAuditFailed(RuntimeError):
    """The candidate forecast failed its checks; nothing was published."""


def permanent_errors() -> tuple[type[BaseException], ...]:
    """Failures that a retry cannot fix: the DAG fails such a task at once instead of retrying.
    (Salesforce's and HubSpot's ApiUnavailable, retries exhausted, stays retryable.) Imported
    when asked: the extractors load pyarrow and requests, which the other steps do without
    (0.3 s of every build's start)."""
    from revwh.extract.file_drop import SourceUnreadable
    from revwh.extract.hubspot_api import HubSpotError
    from revwh.extract.mapped_export import MappingError
    from revwh.extract.salesforce_api import SalesforceError
    from revwh.gate import GateFailed
    from revwh.publish import PublishError
    from revwh.raw.landing import RejectShareExceeded
    from revwh.settings import SettingsError
    from revwh.transform import DbtFailed

    return (SettingsError, SourceUnreadable, RejectShareExceeded, DbtFailed, GateFailed,
            PublishError, ForecastAuditFailed, SalesforceError, HubSpotError, MappingError)


CRM_SOURCES = ("salesforce_files", "salesforce_api", "hubspot", "mapped_exports")
ACTIVITY_SOURCES = ("mail", "calendars")
SOURCES = CRM_SOURCES + ACTIVITY_SOURCES


def _folder_source(explicit, folder, extract, settings, ds) -> dict:
    """A folder source runs when its setting names a folder (which must then exist) or when
    the default folder exists (demo data)."""
    if explicit is None and not folder.exists():
        return {"skipped": f"no folder at {folder}"}
    return asdict(extract(settings, ds))


def extract(settings: Settings, ds: str, source: str, connection=None) -> dict:
    """Land one source for logical date `ds`. An API source takes its credentials from
    `connection` (an Airflow Connection) or the environment; a source that is not configured
    is skipped, and the summary names the setting that turns it on."""
    if source == "salesforce_files":
        from revwh.extract.file_drop import extract_file_drop

        return _folder_source(settings.salesforce_file_drop, settings.file_drop_dir,
                              extract_file_drop, settings, ds)
    if source == "mail":
        from revwh.extract.activity import extract_mail

        return _folder_source(settings.mail_dir, settings.mail_path, extract_mail, settings, ds)
    if source == "calendars":
        from revwh.extract.activity import extract_calendars

        return _folder_source(settings.calendar_dir, settings.calendar_path, extract_calendars,
                              settings, ds)
    if source == "salesforce_api":
        from revwh.extract.salesforce_api import SalesforceAuth, extract_salesforce

        if connection is None and not os.environ.get("SALESFORCE_INSTANCE_URL"):
            return {"skipped": "set SALESFORCE_INSTANCE_URL (or the Airflow Connection "
                               "revwh_salesforce_api) to extract from the Salesforce API"}
        auth = (SalesforceAuth.from_connection(connection) if connection
                else SalesforceAuth.from_env())
        return asdict(extract_salesforce(settings, ds, auth=auth))
    if source == "hubspot":
        from revwh.extract.hubspot_api import HubSpotAuth, extract_hubspot

        if connection is None and not os.environ.get("HUBSPOT_ACCESS_TOKEN"):
            return {"skipped": "set HUBSPOT_ACCESS_TOKEN (or the Airflow Connection "
                               "revwh_hubspot) to extract from HubSpot"}
        auth = HubSpotAuth.from_connection(connection) if connection else HubSpotAuth.from_env()
        return asdict(extract_hubspot(settings, ds, auth=auth))
    if source == "mapped_exports":
        from revwh.extract.mapped_export import extract_mapped

        if not settings.mapped_exports:
            return {"skipped": "no mapped_exports configured"}
        return {f"{m['mapping']}:{m['folder']}": asdict(
            extract_mapped(settings, ds, m["mapping"], m["folder"]))
            for m in settings.mapped_exports}
    raise ValueError(f"unknown source {source!r}; sources: {', '.join(SOURCES)}")


def extract_crm(settings: Settings, ds: str) -> dict:
    return {source: extract(settings, ds, source) for source in CRM_SOURCES}


def extract_activity(settings: Settings, ds: str) -> dict:
    return {source: extract(settings, ds, source) for source in ACTIVITY_SOURCES}


def build(settings: Settings, ds: str, full_refresh: bool = False) -> dict:
    """dbt build into a fresh candidate schema. Incremental models continue from the published
    version's tables (carried over into the candidate first) unless `full_refresh`."""
    from revwh.transform import Continued, build_candidate, mart_models

    version = publish.version_name("marts")

    def prepare() -> Continued | None:  # while dbt imports and parses the project
        from revwh.contact_hashes import write_contact_address_hashes

        publish.register_version(settings, version, ds)
        write_contact_address_hashes(settings)
        previous = None if full_refresh else publish.current(settings, "marts")
        return previous and Continued(previous.version, str(previous.built_at),
                                      previous.logical_date)

    try:
        result = build_candidate(settings, version, ds, full_refresh=full_refresh,
                                 prepare=prepare)
    except Exception:
        publish.mark_failed(settings, version)
        raise
    return {"version": version, "relations": mart_models(result),
            "full_refresh": full_refresh, "carried_over": result.carried_over}


def gate(settings: Settings, ds: str, version: str) -> dict:
    from revwh.gate import run_gate

    try:
        report = run_gate(settings, version, ds)
    except Exception:
        publish.mark_failed(settings, version)
        raise
    return {"version": version, "run_id": report.run_id,
            "dbt_checks": sum(len(r.nodes) for r in report.dbt),
            "expectations": len(report.expectations), "data_docs": str(report.data_docs)}


def publish_marts(settings: Settings, version: str, relations: list[str]) -> dict:
    publish.publish(settings, "marts", version, relations)
    return {"version": version, "rows": publish.row_counts(settings, "marts")}


def forecast(settings: Settings, ds: str) -> dict:
    """Build every forecast table (revenue forecasts with backtests, pipeline forecast, win
    probabilities, snapshot) into a candidate forecast version, audit it, and leave it for
    publish_forecast. A failed audit marks the version failed and publishes nothing."""
    from forecasting.job import audit_tables, build_tables, write_tables

    version = publish.new_version(settings, "forecast", ds)
    try:
        built = build_tables(settings, ds, run_id=version)
        problems = audit_tables(built.tables)
        if problems:
            raise ForecastAuditFailed(f"forecast {version} not published: " + "; ".join(problems))
        relations = write_tables(settings, version, built.tables)
    except Exception:
        publish.mark_failed(settings, version)
        raise
    return {"version": version, "relations": relations,
            "rows": {name: len(frame) for name, frame in built.tables.items()},
            **built.stats}


def publish_forecast(settings: Settings, version: str, relations: list[str]) -> dict:
    publish.publish(settings, "forecast", version, relations)
    return {"version": version, "rows": publish.row_counts(settings, "forecast")}


def run_all(settings: Settings, ds: str, on_step=None, full_refresh: bool = False) -> dict:
    """Every step in DAG order, in this process (`revwh run`)."""
    def step(name, fn, *args):
        if on_step:
            on_step(name)
        out = fn(*args)
        summary[name] = out
        return out

    summary: dict = {}
    for source in SOURCES:
        step(f"extract_{source}", extract, settings, ds, source)
    built = step("build", build, settings, ds, full_refresh)
    step("gate", gate, settings, ds, built["version"])
    step("publish_marts", publish_marts, settings, built["version"], built["relations"])
    fc = step("forecast", forecast, settings, ds)
    step("publish_forecast", publish_forecast, settings, fc["version"], fc["relations"])
    return summary
