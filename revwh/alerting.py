"""Failure alerts: the DAGs' `on_failure_callback`, to a Slack incoming webhook and/or by email.

Airflow 3 runs a task's failure callback in the task's own process (on the worker), after the
task has failed for good (a failure that will be retried calls `on_retry_callback` instead), so
one alert is sent per failed task, not per try. Channels come from the settings:
`alert_slack_webhook_url` and `alert_smtp_url` + `alert_email_to`; both are secrets and come only
from the environment. An alert that cannot be delivered is logged, never raised: the task has
already failed and its own error is the one that matters.

Only the standard library is imported here: the DAG files import this module at parse time.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

from revwh.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT_S = 10


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str


def failure_alert(context) -> Alert:
    """The alert for a failed task, from the Airflow callback context."""
    ti = context["ti"]
    error = context.get("exception")
    reason = (f"{type(error).__name__}: {error}".strip().splitlines()[0][:500] if error
              else "no exception recorded")
    subject = f"[revwh] {ti.dag_id}.{ti.task_id} failed ({context.get('ds')})"
    lines = [f"{ti.dag_id}.{ti.task_id} failed for logical date {context.get('ds')}",
             f"run: {ti.run_id}, try {ti.try_number}",
             f"cause: {reason}"]
    log_url = getattr(ti, "log_url", None)
    if log_url:
        lines.append(f"log: {log_url}")
    return Alert(subject=subject, text="\n".join(lines))


def send_slack(webhook_url: str, alert: Alert) -> None:
    body = json.dumps({"text": f"*{alert.subject}*\n{alert.text}"}).encode()
    request = urllib.request.Request(webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        response.read()


def send_email(smtp_url: str, sender: str, recipients: list[str], alert: Alert) -> None:
    url = urlparse(smtp_url)
    if url.scheme not in ("smtp", "smtps"):
        raise ValueError("alert_smtp_url must start with smtp:// or smtps://")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = alert.subject, sender, ", ".join(recipients)
    message.set_content(alert.text)
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    default_port = 465 if url.scheme == "smtps" else 25
    with smtp_class(url.hostname or "localhost", url.port or default_port,
                    timeout=TIMEOUT_S) as server:
        if parse_qs(url.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes"):
            server.starttls()
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)


def send(settings: Settings, alert: Alert) -> list[str]:
    """Send `alert` to every configured channel; returns the channels that failed."""
    failed = []
    recipients = [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]
    channels = []
    if settings.alert_slack_webhook_url:
        channels.append(("slack", lambda: send_slack(settings.alert_slack_webhook_url, alert)))
    if recipients:
        channels.append(("email", lambda: send_email(settings.alert_smtp_url,
                                                      settings.alert_email_from, recipients,
                                                      alert)))
    for name, deliver in channels:
        try:
            deliver()
        except Exception as exc:  # noqa: BLE001 (a lost alert is logged, never raised)
            # the exception text may contain the URL: log its type only, the URL is a secret
            log.warning("failure alert via %s not delivered (%s)", name, type(exc).__name__)
            failed.append(name)
    return failed


def on_failure(context) -> None:
    """`on_failure_callback` for every task of the DAGs (wired in their default_args)."""
    from revwh.settings import load_settings

    try:
        settings = load_settings()
    except Exception as exc:  # noqa: BLE001 (bad settings already failed the task itself)
        log.warning("no failure alert: settings do not load (%s)", exc)
        return
    send(settings, failure_alert(context))
