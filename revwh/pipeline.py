"""The nightly run as plain functions, one per step. The DAG and the CLI both call these; each
takes the settings and the logical date (YYYY-MM-DD) and returns a JSON-able summary."""

from __future__ import annotations

import logging
from dataclasses import asdict

from revwh import publish
from revwh.extract.file_drop import SourceUnreadable
from revwh.gate import GateFailed
from revwh.publish import PublishError
from revwh.raw.landing import RejectShareExceeded
from revwh.settings import Settings, SettingsError
from revwh.transform import DbtFailed

log = logging.getLogger(__name__)


class ForecastAuditFailed(RuntimeError):
    """The candidate forecast failed its checks; nothing was published."""


# Failures that a retry cannot fix: the DAG fails such a task at once instead of retrying.
PERMANENT_ERRORS = (SettingsError, SourceUnreadable, RejectShareExceeded, DbtFailed, GateFailed,
                    PublishError, ForecastAuditFailed)


def extract_crm(settings: Settings, ds: str) -> dict:
    from revwh.extract.file_drop import extract_file_drop

    result = extract_file_drop(settings, ds)
    return asdict(result)


def extract_activity(settings: Settings, ds: str) -> dict:
    """Mailboxes and calendars in the configured folders. A missing folder means the source is
    not in use: a warning, not a failure."""
    from revwh.extract.activity import extract_calendars, extract_mail

    out = {}
    for name, folder, extract in (("mail", settings.mail_path, extract_mail),
                                  ("calendars", settings.calendar_path, extract_calendars)):
        if not folder.exists():
            log.warning("%s folder %s does not exist: skipped", name, folder)
            out[name] = {"skipped": str(folder)}
            continue
        out[name] = asdict(extract(settings, ds))
    return out


def build(settings: Settings, ds: str, full_refresh: bool = False) -> dict:
    """dbt build into a fresh candidate schema. Incremental models continue from the published
    version's tables (carried over into the candidate first) unless `full_refresh`."""
    from revwh.transform import build_candidate, mart_models

    previous = None if full_refresh else publish.current(settings, "marts")
    version = publish.new_version(settings, "marts", ds)
    try:
        result = build_candidate(settings, version, ds,
                                 previous=previous.version if previous else None,
                                 full_refresh=full_refresh)
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
    """Fit and write the forecast into a candidate forecast version, then audit it."""
    from forecasting.revenue import audit_forecast, forecast_company, write_forecast

    version = publish.new_version(settings, "forecast", ds)
    try:
        frame = forecast_company(settings, ds, run_id=version)
        problems = audit_forecast(frame)
        if problems:
            raise ForecastAuditFailed(f"forecast {version} not published: " + "; ".join(problems))
        relations = write_forecast(settings, version, frame)
    except Exception:
        publish.mark_failed(settings, version)
        raise
    return {"version": version, "relations": relations}


def publish_forecast(settings: Settings, version: str, relations: list[str]) -> dict:
    publish.publish(settings, "forecast", version, relations)
    return {"version": version, "rows": publish.row_counts(settings, "forecast")}


def run_all(settings: Settings, ds: str, on_step=None) -> dict:
    """Every step in DAG order, in this process (`revwh run`)."""
    def step(name, fn, *args):
        if on_step:
            on_step(name)
        out = fn(*args)
        summary[name] = out
        return out

    summary: dict = {}
    step("extract_crm", extract_crm, settings, ds)
    step("extract_activity", extract_activity, settings, ds)
    built = step("build", build, settings, ds)
    step("gate", gate, settings, ds, built["version"])
    step("publish_marts", publish_marts, settings, built["version"], built["relations"])
    fc = step("forecast", forecast, settings, ds)
    step("publish_forecast", publish_forecast, settings, fc["version"], fc["relations"])
    return summary
