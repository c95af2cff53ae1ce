"""A small JSON-over-HTTPS client for the mail and calendar APIs.

- The bearer token goes only to the API's own host: a paging link that points elsewhere is
  refused, never followed with the token. The token is never logged nor put in an error.
- Throttling is honoured: 429 and 503 (and Google's 403 rate-limit errors) wait for the
  ``Retry-After`` the server sends (seconds or an HTTP date), else back off exponentially.
- 410 Gone (an expired delta link or sync token) raises :class:`SyncExpired`, so the reader
  can start a full sync again.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode, urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}


class ApiError(RuntimeError):
    """The API answered with an error we cannot retry; the message says what to fix."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class SyncExpired(ApiError):
    """The delta link / sync token / history id is no longer valid: sync again in full."""


def retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _rate_limited_403(resp: requests.Response) -> bool:
    return resp.status_code == 403 and "ratelimitexceeded" in resp.text[:2000].lower()


class HttpClient:
    def __init__(self, base_url: str, token: str, *, name: str = "API", token_env: str = "",
                 max_retries: int = 6, max_wait: float = 300.0, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, headers: dict | None = None):
        self.base_url = base_url.rstrip("/") + "/"
        origin = urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.netloc)
        self._token = token
        self.name = name
        self.token_env = token_env
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        self.headers = dict(headers or {})
        self.requests = 0
        self.waited = 0.0

    def url(self, path_or_url: str, params: dict | None = None) -> str:
        url = path_or_url if "://" in path_or_url else urljoin(self.base_url,
                                                               path_or_url.lstrip("/"))
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise ApiError(f"{self.name}: refusing to follow a link to {parts.scheme}://"
                           f"{parts.netloc} with the credentials of {self.base_url}")
        if params:
            url += ("&" if parts.query else "?") + urlencode(params, doseq=True)
        return url

    def get(self, path_or_url: str, params: dict | None = None,
            headers: dict | None = None) -> dict:
        url = self.url(path_or_url, params)
        hdrs = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                **self.headers, **(headers or {})}
        attempt = 0
        while True:
            self.requests += 1
            try:
                resp = self.session.get(url, headers=hdrs, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise ApiError(f"{self.name}: {type(exc).__name__} after {attempt + 1} "
                                   f"attempts: {exc}") from None
                self._wait(attempt, None)
                attempt += 1
                continue
            status = resp.status_code
            if status < 300:
                try:
                    return resp.json()
                except ValueError:
                    raise ApiError(f"{self.name}: answer to {_short(url)} is not JSON",
                                   status) from None
            if (status in RETRY_STATUS or _rate_limited_403(resp)) and \
                    attempt < self.max_retries:
                self._wait(attempt, resp)
                attempt += 1
                continue
            body = resp.text[:300].replace("\n", " ")
            if status == 410:
                raise SyncExpired(f"{self.name}: {status} Gone for {_short(url)}: {body}",
                                  status)
            if status in (401, 403):
                hint = f" (check {self.token_env})" if self.token_env else ""
                raise ApiError(f"{self.name}: {status} not authorised{hint}: {body}", status)
            raise ApiError(f"{self.name}: {status} for {_short(url)}: {body}", status)

    def _wait(self, attempt: int, resp: requests.Response | None) -> None:
        wait = retry_after(resp) if resp is not None else None
        if wait is None:
            wait = min(2.0 ** attempt, 60.0)
        wait = min(wait, self.max_wait)
        log.info("%s: throttled or unavailable (%s), waiting %.1fs", self.name,
                 resp.status_code if resp is not None else "no answer", wait)
        self.waited += wait
        self.sleep(wait)


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}"
