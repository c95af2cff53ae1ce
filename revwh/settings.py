"""Settings in one place: defaults, then one TOML file, then REVWH_* environment variables.

The file is `revwh.toml` in the working directory, or the path in REVWH_CONFIG. Secrets never
live here: they come from the environment (CLI) or Airflow Connections (DAG).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_DIR = PROJECT_ROOT / "dags"

TARGETS = ("duckdb", "postgres")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the setting and the fix."""


@dataclass(frozen=True)
class Settings:
    home: Path = PROJECT_ROOT / ".revwh"
    target: str = "duckdb"
    duckdb_path: Path | None = None  # default: <home>/warehouse.duckdb
    postgres_dsn: str = ""  # from REVWH_POSTGRES_DSN; never written to the config file
    # sources: folders of Salesforce-shaped file drops, calendars (.ics) and mailboxes (mbox)
    salesforce_file_drop: Path | None = None  # default: <home>/demo/crm/salesforce
    calendar_dir: Path | None = None  # default: <home>/demo/calendar
    mail_dir: Path | None = None  # default: <home>/demo/mail
    # other CRM exports loaded through a mapping file: ({"mapping": name or path, "folder": ...},)
    mapped_exports: tuple = ()
    company_domains: tuple[str, ...] = ("northpeak.io",)
    # email and calendar privacy (DESIGN §4): subjects keep | hash | drop; external addresses
    # may be stored as a keyed hash (key from REVWH_ADDRESS_HASH_KEY, never in the file)
    subject_mode: str = "keep"
    hash_external_addresses: bool = False
    address_hash_key: str = ""
    calendar_days_back: int = 1100
    calendar_days_ahead: int = 120
    schedule: str = "0 3 * * *"  # cron, UTC
    keep_versions: int = 5
    # quality gate: a mart may shrink or grow this much against the published version
    volume_max_drop: float = 0.5
    volume_max_growth: float = 3.0
    # DuckDB: rows per dataframe the gate validates at once (GX costs per frame: 2M rows was the
    # fastest at S=10, 500k and 4M slower, 4M with 5.6 GB instead of 3.2)
    gate_chunk_rows: int = 2_000_000
    max_reject_share: float = 0.02
    retries: int = 2
    retry_delay_seconds: int = 300
    reporting_currency: str = "USD"
    forecast_horizon_months: int = 6
    dashboard_stale_hours: float = 36.0  # the dashboard warns when the last publish is older
    # production (revwh.cosmos_dbt, revwh.alerting, revwh.bi_access): dbt as one Airflow task
    # ("build") or one task per model ("cosmos"); failure alerts to a Slack webhook and/or email
    # (the webhook and the SMTP URL hold secrets: environment only); the PostgreSQL role that BI
    # tools read the published relations with (granted again on every publish)
    dbt_tasks: str = "build"
    alert_slack_webhook_url: str = ""
    alert_smtp_url: str = ""  # smtp://user:password@host:587?starttls=true, or smtps://...
    alert_email_to: str = ""  # comma-separated addresses
    alert_email_from: str = "revwh@localhost"
    bi_role: str = ""
    extra: dict = field(default_factory=dict)

    # derived locations
    @property
    def warehouse_path(self) -> Path:
        return self.duckdb_path or self.home / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        """DuckDB: the read replica of what is published (see revwh.publish)."""
        return self.warehouse_path.with_name("published.duckdb")

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def file_drop_dir(self) -> Path:
        return self.salesforce_file_drop or self.demo_dir / "crm" / "salesforce"

    @property
    def calendar_path(self) -> Path:
        return self.calendar_dir or self.demo_dir / "calendar"

    @property
    def mail_path(self) -> Path:
        return self.mail_dir or self.demo_dir / "mail"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def dlt_dir(self) -> Path:
        return self.home / "dlt"

    def validate(self) -> "Settings":
        if self.target not in TARGETS:
            raise SettingsError(
                f"target={self.target!r} is not supported: set REVWH_TARGET to one of {TARGETS}")
        if self.target == "postgres" and not self.postgres_dsn:
            raise SettingsError(
                "target=postgres needs a connection: set REVWH_POSTGRES_DSN, "
                "e.g. postgresql://user@127.0.0.1:5432/warehouse")
        if self.keep_versions < 2:
            raise SettingsError("keep_versions must be at least 2 so that rollback has a target")
        if not 0 <= self.max_reject_share <= 1:
            raise SettingsError("max_reject_share must be a share between 0 and 1")
        if self.subject_mode not in ("keep", "hash", "drop"):
            raise SettingsError(f"subject_mode={self.subject_mode!r}: use keep, hash or drop")
        if self.hash_external_addresses and not self.address_hash_key:
            raise SettingsError("hash_external_addresses is on but no key is set: "
                                "set REVWH_ADDRESS_HASH_KEY to a secret")
        if not self.company_domains:
            raise SettingsError("company_domains is empty: list your company's email domains")
        if self.dbt_tasks not in ("build", "cosmos"):
            raise SettingsError(f"dbt_tasks={self.dbt_tasks!r}: use build (one dbt build task) "
                                "or cosmos (one Airflow task per dbt model)")
        if self.alert_email_to and not self.alert_smtp_url:
            raise SettingsError("alert_email_to is set but no mail server: set "
                                "REVWH_ALERT_SMTP_URL, e.g. smtp://user:password@host:587?starttls=true")
        return self


_PATHS = {"home", "duckdb_path", "salesforce_file_drop", "calendar_dir", "mail_dir"}


def _coerce(name: str, value, kind):
    if value is None or value == "":
        return None if name in _PATHS - {"home"} else value
    try:
        if name in _PATHS:
            return Path(value).expanduser()
        if name == "mapped_exports":
            if isinstance(value, str):  # REVWH_MAPPED_EXPORTS="mapping=folder;mapping=folder"
                value = [dict(zip(("mapping", "folder"), item.split("=", 1)))
                         for item in value.split(";") if item.strip()]
            if any(set(m) != {"mapping", "folder"} for m in value):
                raise ValueError("each mapped export needs a mapping and a folder")
            return tuple(dict(m) for m in value)
        if name == "company_domains":
            items = value.split(",") if isinstance(value, str) else value
            return tuple(d.strip().lower() for d in items if d.strip())
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}={value!r} is invalid: {exc}") from None
    return value


def load_settings(config_file: Path | None = None, env: dict | None = None) -> Settings:
    """Defaults < config file < environment. Raises SettingsError with the fix on bad input."""
    env = os.environ if env is None else env
    path = config_file or (Path(env["REVWH_CONFIG"]) if env.get("REVWH_CONFIG") else None)
    if path is None and Path("revwh.toml").is_file():
        path = Path("revwh.toml")
    values: dict = {}
    known = {f.name: f for f in fields(Settings)}
    if path is not None:
        if not path.is_file():
            raise SettingsError(f"config file {path} not found: fix REVWH_CONFIG or create it")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in known:
                raise SettingsError(f"config file {path}: unknown setting {key!r}; "
                                    f"known settings: {', '.join(sorted(known))}")
            values[key] = value
    for name, f in known.items():
        env_value = env.get(f"REVWH_{name.upper()}")
        if env_value is not None:
            values[name] = env_value
    typed = {name: _coerce(name, value, type(getattr(Settings, name, None)))
             for name, value in values.items()}
    return replace(Settings(), **typed).validate()
