"""Privacy rules for email and calendar activity (DESIGN §4), applied before anything lands.

- Addresses are normalised: lower case, display names stripped (names go to their own column).
- Internal people are recognised by the company's domains (``settings.company_domains``), a
  subdomain counts as the domain (``eu.northpeak.io`` is internal when ``northpeak.io`` is).
- With ``hash_external_addresses`` on, an external address is stored as ``h:`` + the hex
  HMAC-SHA256 of the normalised address under ``address_hash_key``: the same address always gives
  the same hash, so matching still works, but nothing else of it is kept except its domain (a
  column of its own) — its display name is dropped. Internal addresses are never hashed.
- Subjects (and meeting summaries) are kept, hashed (``h:`` + HMAC-SHA256, keyed when a key is
  set) or dropped (null), by ``subject_mode``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from revwh.settings import Settings

HASH_PREFIX = "h:"
_CACHE_LIMIT = 500_000


@dataclass(frozen=True)
class PrivacyConfig:
    """The picklable part of the settings that the parsers need (sent to worker processes)."""

    company_domains: tuple[str, ...]
    subject_mode: str = "keep"
    hash_external_addresses: bool = False
    address_hash_key: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyConfig:
        return cls(company_domains=tuple(d.lower().lstrip("@") for d in settings.company_domains),
                   subject_mode=settings.subject_mode,
                   hash_external_addresses=settings.hash_external_addresses,
                   address_hash_key=settings.address_hash_key)


def normalise_address(raw: str) -> str:
    """``" <Jane.Doe@Example.COM> "`` -> ``jane.doe@example.com``; ``mailto:`` is dropped."""
    a = raw.strip()
    if a[:1] == "<" and a[-1:] == ">":
        a = a[1:-1].strip()
    a = a.lower()
    if a.startswith("mailto:"):
        a = a[7:].strip()
    return a


class Privacy:
    """Applies the rules; caches per distinct address (addresses repeat a lot)."""

    def __init__(self, config: PrivacyConfig):
        self.config = config
        self.domains = config.company_domains
        self._suffixes = tuple("." + d for d in self.domains)
        self.hash_external = config.hash_external_addresses
        self._key = config.address_hash_key.encode()
        self.subject_mode = config.subject_mode
        self._cache: dict[str, tuple[str, str | None, bool, bool]] = {}

    def is_internal_domain(self, domain: str | None) -> bool:
        if not domain:
            return False
        return domain in self.domains or domain.endswith(self._suffixes)

    def keyed_hash(self, value: str) -> str:
        if self._key:
            digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"),
                              hashlib.sha256).hexdigest()
        else:
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return HASH_PREFIX + digest

    def address(self, raw: str) -> tuple[str, str | None, bool, bool]:
        """(stored address, domain, is_internal, is_hashed) for a raw address."""
        hit = self._cache.get(raw)
        if hit is not None:
            return hit
        addr = normalise_address(raw)
        at = addr.rfind("@")
        domain = addr[at + 1:] if at >= 0 and at < len(addr) - 1 else None
        internal = self.is_internal_domain(domain)
        hashed = self.hash_external and not internal and bool(addr)
        out = (self.keyed_hash(addr) if hashed else addr, domain, internal, hashed)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[raw] = out
        return out

    def name(self, name: str | None, is_hashed: bool) -> str | None:
        """A display name is kept unless its address is hashed (then nothing else is kept)."""
        if is_hashed or not name:
            return None
        return name

    def subject(self, subject: str | None) -> str | None:
        if subject is None:
            return None
        if self.subject_mode == "keep":
            return subject
        if self.subject_mode == "drop":
            return None
        return self.keyed_hash(" ".join(subject.split()))
