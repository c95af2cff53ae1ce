"""Turn email headers into rows of activity_email and activity_email_recipient.

One builder per chunk of messages: files hand it raw header blocks, API readers hand it header
values they already have. Privacy is applied here, before a value reaches a column. A message
that cannot be read becomes a reject whose raw text holds only what privacy allows (never a
body: bodies are not read at all).
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from revwh.extract.activity import headers as H
from revwh.extract.activity.privacy import Privacy
from revwh.extract.activity.tables import EMAIL, RECIPIENT, Columns, Rejects

_EMAIL_COLS = ("message_id", "mailbox", "thread_id", "in_reply_to", "references", "sent_at",
               "from_address", "from_name", "subject", "is_internal_sender", "from_domain",
               "from_is_hashed", "subject_mode", "origin", "provider_id", "provider_thread_id")
_RCPT_COLS = ("message_id", "address", "name", "kind", "mailbox", "origin", "position",
              "domain", "is_internal", "address_is_hashed")
_RAW_SAFE = ("message-id", "in-reply-to", "references", "date")


class MailRows:
    def __init__(self, privacy: Privacy, source: str):
        self.privacy = privacy
        self.source = source
        self.emails = Columns(EMAIL)
        self.recipients = Columns(RECIPIENT)
        self.rejects = Rejects(source)
        self._e = self.emails.lists(*_EMAIL_COLS)
        self._r = self.recipients.lists(*_RCPT_COLS)
        self.count = 0  # messages seen (landed or rejected) since the last take()
        self._people_cache: dict[str, list[tuple[str, str]]] = {}

    # -- rejects ------------------------------------------------------------------------------
    def redacted(self, fields: dict[str, bytes] | None, size: int) -> str:
        """What of a bad header block may be kept: ids and date always, addresses unless they
        are hashed, the subject only if subjects are kept."""
        if not fields:
            return f"[header block of {size} bytes not kept]"
        keep = list(_RAW_SAFE)
        if not self.privacy.hash_external:
            keep += ["from", "to", "cc"]
        if self.privacy.subject_mode == "keep":
            keep.append("subject")
        names = {"message-id": "Message-ID", "in-reply-to": "In-Reply-To", "cc": "Cc"}
        lines = [f"{names.get(k, k.capitalize())}: {fields[k][:500].decode('utf-8', 'replace')}"
                 for k in keep if k in fields]
        return "\n".join(lines) + (f"\n[header block of {size} bytes]" if size else "")

    def reject(self, origin: str, line: int | None, reason: str, raw_text: str = "") -> None:
        self.count += 1
        self.rejects.add(EMAIL, origin, line, reason, raw_text)

    # -- rows ---------------------------------------------------------------------------------
    def add_block(self, block: bytes, mailbox: str, origin: str, line: int | None = None) -> None:
        """One message's header block (bytes up to the empty line)."""
        if len(block) > H.MAX_HEADER_BYTES:
            self.reject(origin, line, f"header block of {len(block)} bytes is above the "
                        f"{H.MAX_HEADER_BYTES} byte limit", self.redacted(None, len(block)))
            return
        try:
            self._add(H.fields(block), mailbox, origin)
        except H.HeaderError as exc:
            self.reject(origin, line, str(exc), self.redacted(H.raw_fields(block), len(block)))

    def add_raw(self, f: dict[str, str], mailbox: str, origin: str,
                provider_id: str | None = None, provider_thread_id: str | None = None) -> None:
        """One message from its kept header fields (lower-case names, text, unfolded)."""
        try:
            self._add(f, mailbox, origin, provider_id, provider_thread_id)
        except H.HeaderError as exc:
            self.reject(origin, None, str(exc), self.redacted(
                {k: v.encode("utf-8", "replace") for k, v in f.items()}, 0))

    def _people(self, value: str | None, field: str) -> list[tuple[str, str]]:
        if not value:
            return []
        hit = self._people_cache.get(value)
        if hit is None:
            hit = H.addresses(value, field)
            if len(self._people_cache) > 200_000:
                self._people_cache.clear()
            self._people_cache[value] = hit
        return hit

    def _add(self, f: dict[str, str], mailbox: str, origin: str,
             provider_id: str | None = None, provider_thread_id: str | None = None) -> None:
        date = f.get("date")
        if not date:
            raise H.HeaderError("missing Date header")
        sent_us = H.parse_date_us(date)
        mid = f.get("message-id")
        message_id = H.message_id(mid) if mid else None
        irt = f.get("in-reply-to")
        refs = f.get("references")
        subject = f.get("subject")
        if subject is not None and self.privacy.subject_mode != "drop":
            if "=?" in subject:
                subject = H.decode_words(subject, "Subject")
        else:
            subject = None
        from_list = self._people(f.get("from"), "From")
        if message_id is None:
            message_id = synthetic_message_id(f)
        self._append(message_id, mailbox, origin, sent_us,
                     H.message_ids(irt) if irt else [], H.message_ids(refs) if refs else [],
                     from_list[0] if from_list else None, subject,
                     self._people(f.get("to"), "To"), self._people(f.get("cc"), "Cc"),
                     provider_id, provider_thread_id)

    def add_message(self, *, message_id: str, mailbox: str, origin: str, sent_us: int,
                    in_reply_to: list[str], references: list[str],
                    sender: tuple[str, str] | None, subject: str | None,
                    to: list[tuple[str, str]], cc: list[tuple[str, str]],
                    provider_id: str | None = None, provider_thread_id: str | None = None,
                    ) -> None:
        """One message from already-decoded values (names are display names, addresses raw)."""
        self._append(message_id, mailbox, origin, sent_us, in_reply_to, references, sender,
                     subject, to, cc, provider_id, provider_thread_id)

    def _append(self, message_id: str, mailbox: str, origin: str, sent_us: int,
                in_reply_to: list[str], references: list[str], sender: tuple[str, str] | None,
                subject: str | None, to: list[tuple[str, str]], cc: list[tuple[str, str]],
                provider_id: str | None, provider_thread_id: str | None) -> None:
        p = self.privacy
        if sender is not None:
            addr, domain, internal, hashed = p.address(sender[1])
            name = None if hashed else (sender[0] or None)
        else:
            addr = domain = name = None
            internal = hashed = False
        thread = references[0] if references else (in_reply_to[0] if in_reply_to else message_id)
        (mid_l, mb_l, th_l, irt_l, ref_l, sent_l, fa_l, fn_l, subj_l, isi_l, fd_l, fh_l, sm_l,
         org_l, pid_l, ptid_l) = self._e
        mid_l.append(message_id)
        mb_l.append(mailbox)
        th_l.append(thread)
        irt_l.append(in_reply_to[0] if in_reply_to else None)
        ref_l.append(" ".join(references) if references else None)
        sent_l.append(sent_us)
        fa_l.append(addr)
        fn_l.append(name)
        subj_l.append(subject if p.subject_mode == "keep" else p.subject(subject))
        isi_l.append(internal)
        fd_l.append(domain)
        fh_l.append(hashed)
        sm_l.append(p.subject_mode)
        org_l.append(origin)
        pid_l.append(provider_id)
        ptid_l.append(provider_thread_id)
        self.count += 1
        if to or cc:
            (rm_l, ra_l, rn_l, rk_l, rmb_l, ro_l, rp_l, rd_l, ri_l, rh_l) = self._r
            for kind, people in (("to", to), ("cc", cc)):
                for pos, (rname, raw) in enumerate(people):
                    a, d, i, h = p.address(raw)
                    if not a:
                        continue
                    rm_l.append(message_id)
                    ra_l.append(a)
                    rn_l.append(None if h else (rname or None))
                    rk_l.append(kind)
                    rmb_l.append(mailbox)
                    ro_l.append(origin)
                    rp_l.append(pos)
                    rd_l.append(d)
                    ri_l.append(i)
                    rh_l.append(h)

    def __len__(self) -> int:
        return self.count

    def take(self) -> list[tuple[str, pa.Table]]:
        """The rows so far as arrow tables (empty ones left out); the builder starts afresh."""
        out = []
        for cols in (self.emails, self.recipients, self.rejects):
            if len(cols):
                out.append((cols.table, cols.take()))
        self.count = 0
        return out


def synthetic_message_id(fields: dict[str, str]) -> str:
    """A message without Message-ID gets a stable one from its headers, so that its copies in
    other mailboxes get the same id."""
    h = hashlib.sha256()
    for k in ("date", "from", "to", "cc", "subject"):
        h.update(fields.get(k, "").encode("utf-8", "surrogatepass") + b"\x00")
    return f"generated-{h.hexdigest()[:32]}@revwh.invalid"
