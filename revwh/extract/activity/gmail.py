"""Gmail: message headers with ``format=metadata``, incremental on ``historyId``.

The first run reads the profile's ``historyId``, then lists every message (``nextPageToken``
paging) and gets each one's metadata (only the kept headers are asked for: never the body). The
cursor is that ``historyId``. Later runs list ``history`` since the cursor (``messageAdded``)
and read only the messages added; the cursor becomes the answer's ``historyId``. Gmail answers
404 for a history id that is too old: that mailbox is synced again in full. Drafts are skipped.

Credentials: ``token`` argument, else REVWH_GMAIL_TOKEN, else REVWH_GOOGLE_TOKEN (an OAuth
access token with the gmail.metadata scope). Users: ``users`` or REVWH_GMAIL_USERS (default
``me``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from revwh.extract.activity.apisource import credential, env_list, run_units
from revwh.extract.activity.http import ApiError, HttpClient
from revwh.extract.activity.mailrows import MailRows
from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.raw.landing import LandResult
from revwh.settings import Settings

log = logging.getLogger(__name__)

GMAIL_URL = "https://gmail.googleapis.com"
PIPELINE = "revwh_activity_gmail"
SOURCE = "gmail"
HEADERS = ("Message-ID", "In-Reply-To", "References", "Date", "From", "To", "Cc", "Subject")
PAGE_SIZE = 500


class HistoryExpired(ApiError):
    pass


class GmailReader:
    def __init__(self, client: HttpClient, privacy: Privacy):
        self.client = client
        self.privacy = privacy

    def _base(self, user: str) -> str:
        return f"gmail/v1/users/{quote(user)}"

    def sync(self, user: str, cursor: dict | None, out: dict):
        profile = self.client.get(f"{self._base(user)}/profile")
        mailbox = profile.get("emailAddress") or user
        if cursor and cursor.get("history_id"):
            try:
                yield from self._incremental(user, mailbox, cursor["history_id"], out)
                return
            except HistoryExpired:
                log.info("Gmail: history of %s expired, syncing it again in full", user)
        start_history = profile.get("historyId")
        token = None
        while True:
            params = {"maxResults": PAGE_SIZE}
            if token:
                params["pageToken"] = token
            page = self.client.get(f"{self._base(user)}/messages", params)
            ids = [m["id"] for m in page.get("messages") or ()]
            yield self._read(user, mailbox, ids)
            token = page.get("nextPageToken")
            if not token:
                break
        out["cursor"] = {"history_id": str(start_history)}

    def _incremental(self, user: str, mailbox: str, history_id: str, out: dict):
        token = None
        last = history_id
        while True:
            params = {"startHistoryId": history_id, "historyTypes": "messageAdded",
                      "maxResults": PAGE_SIZE}
            if token:
                params["pageToken"] = token
            try:
                page = self.client.get(f"{self._base(user)}/history", params)
            except ApiError as exc:
                if exc.status == 404:
                    raise HistoryExpired(str(exc), 404) from None
                raise
            ids: list[str] = []
            for h in page.get("history") or ():
                for added in h.get("messagesAdded") or ():
                    mid = (added.get("message") or {}).get("id")
                    if mid and mid not in ids:
                        ids.append(mid)
            yield self._read(user, mailbox, ids)
            last = page.get("historyId") or last
            token = page.get("nextPageToken")
            if not token:
                break
        out["cursor"] = {"history_id": str(last)}

    def _read(self, user: str, mailbox: str, ids: list[str]):
        rows = MailRows(self.privacy, SOURCE)
        for mid in ids:
            try:
                msg = self.client.get(f"{self._base(user)}/messages/{quote(mid)}",
                                      {"format": "metadata", "metadataHeaders": list(HEADERS)})
            except ApiError as exc:
                if exc.status == 404:  # deleted between the list and the get
                    continue
                raise
            if "DRAFT" in (msg.get("labelIds") or ()):
                continue
            f: dict[str, str] = {}
            for h in (msg.get("payload") or {}).get("headers") or ():
                name = str(h.get("name", "")).lower()
                value = str(h.get("value", ""))
                if name in f:
                    if name in ("to", "cc") and value:
                        f[name] += ", " + value
                    continue
                f[name] = value
            if not f.get("date") and msg.get("internalDate"):
                f["date"] = format_datetime(datetime.fromtimestamp(
                    int(msg["internalDate"]) / 1000, UTC))
            rows.add_raw(f, mailbox, f"gmail:{mailbox}/{mid}", provider_id=mid,
                         provider_thread_id=msg.get("threadId"))
        return rows.take()


def extract_gmail(settings: Settings, logical_date: str, *, base_url: str = GMAIL_URL,
                  token: str | None = None, users: Iterable[str] | None = None) -> LandResult:
    """Land the headers of every new Gmail message of each user, incrementally."""
    client = HttpClient(base_url, credential(token, "REVWH_GMAIL_TOKEN", "REVWH_GOOGLE_TOKEN"),
                        name="Gmail", token_env="REVWH_GMAIL_TOKEN")
    reader = GmailReader(client, Privacy(PrivacyConfig.from_settings(settings)))
    units = {user: (lambda cur, out, user=user: reader.sync(user, cur, out))
             for user in env_list(users, "REVWH_GMAIL_USERS", "me")}
    return run_units(settings, pipeline_name=PIPELINE, source=SOURCE, logical_date=logical_date,
                     units=units)
