"""Mail files: mbox files, Maildir folders and .eml files under ``settings.mail_path``.

Only header blocks are read: an mbox is scanned for its ``From `` separator lines and each
message's bytes up to the first empty line are parsed; Maildir and .eml files are read up to
their empty line and no further. Work is cut into tasks (a byte range of an mbox, a batch of
Maildir or .eml files) that a worker turns into arrow tables; a task that fails becomes a reject
naming its file, and the other tasks carry on.

Incremental state, per file (key: path relative to mail_path):

- mbox: ``offset`` (bytes parsed) and ``prefix_sha256`` (hash of those bytes). A file that still
  starts with the same bytes is parsed from ``offset`` on: mail appended since the last run.
  Otherwise (rewritten, compacted) it is parsed again from the start.
- Maildir: the unique names (before ``:``) of the messages landed; new names are parsed.
- .eml: the content hash, like a file drop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from revwh.extract.activity import headers as H
from revwh.extract.activity.mailrows import MailRows
from revwh.extract.activity.privacy import Privacy, PrivacyConfig
from revwh.extract.activity.tables import EMAIL, Rejects

log = logging.getLogger(__name__)

READ_CHUNK = 8 << 20
RANGE_BYTES = 32 << 20  # an mbox is cut into tasks of about this size
FILES_PER_TASK = 4000  # Maildir / .eml files per task
MBOX_SUFFIXES = {".mbox", ".mbx"}
EML_SUFFIXES = {".eml"}
_SEP = b"\nFrom "


@dataclass
class MailSource:
    kind: str  # mbox | maildir | eml
    path: Path
    key: str  # path relative to the mail root, posix
    mailbox: str


@dataclass
class MailTask:
    kind: str
    path: str
    key: str
    mailbox: str
    start: int = 0
    end: int = 0
    names: list[tuple[str, str]] = field(default_factory=list)  # (relative file, origin)


# -- discovery ---------------------------------------------------------------------------------
def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _sniff_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(5) == b"From "
    except OSError:
        return False


def discover(root: Path) -> list[MailSource]:
    """Every mbox, Maildir and .eml under ``root`` (sorted, hidden files left alone)."""
    found: list[MailSource] = []
    eml_dirs: dict[Path, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        rel = d.relative_to(root).as_posix()
        if _is_maildir(d):
            top = rel
            # a Maildir++ subfolder (".Sent") belongs to the mailbox of its parent
            parts = rel.split("/")
            while len(parts) > 1 and parts[-1].startswith("."):
                parts.pop()
            top = "/".join(parts) if rel != "." else root.name
            found.append(MailSource("maildir", d, rel if rel != "." else ".", top))
            dirnames[:] = sorted(x for x in dirnames if x.startswith(".") and _is_maildir(d / x))
            continue
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = d / name
            suffix = p.suffix.lower()
            key = p.relative_to(root).as_posix()
            if suffix in EML_SUFFIXES:
                eml_dirs.setdefault(d, []).append(p)
            elif suffix in MBOX_SUFFIXES or (suffix == "" and _sniff_mbox(p)):
                mailbox = key[: -len(p.suffix)] if p.suffix else key
                found.append(MailSource("mbox", p, key, mailbox))
            else:
                log.info("mail: %s is not an mbox, Maildir or .eml file, left alone", key)
    for d, files in eml_dirs.items():
        rel = d.relative_to(root).as_posix()
        mailbox = root.name if rel == "." else rel
        for p in files:
            found.append(MailSource("eml", p, p.relative_to(root).as_posix(), mailbox))
    found.sort(key=lambda s: s.key)
    return found


def maildir_messages(path: Path) -> dict[str, str]:
    """unique name -> file path relative to the Maildir (new/ and cur/)."""
    out: dict[str, str] = {}
    for sub in ("new", "cur"):
        try:
            entries = os.scandir(path / sub)
        except OSError:
            continue
        with entries:
            for e in entries:
                if e.name.startswith(".") or not e.is_file():
                    continue
                out.setdefault(e.name.split(":", 1)[0], f"{sub}/{e.name}")
    return out


# -- hashing and mbox boundaries -----------------------------------------------------------------
def sha256_file(path: Path, start: int = 0, end: int | None = None,
                h: hashlib._Hash | None = None) -> hashlib._Hash:
    h = h or hashlib.sha256()
    with path.open("rb") as f:
        f.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            chunk = f.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h


def next_boundary(f, pos: int, end: int) -> int:
    """Offset of the first mbox separator line starting after ``pos`` (or ``end``)."""
    f.seek(pos)
    carry = b""
    base = pos
    while base < end:
        chunk = f.read(min(1 << 20, end - base))
        if not chunk:
            break
        data = carry + chunk
        i = data.find(_SEP)
        if i >= 0:
            return base - len(carry) + i + 1
        carry = data[-(len(_SEP) - 1):]
        base += len(chunk)
    return end


def mbox_ranges(path: Path, start: int, end: int, size: int = RANGE_BYTES) -> list[tuple[int, int]]:
    out = []
    with path.open("rb") as f:
        pos = start
        while pos < end:
            cut = end if end - pos <= size * 1.5 else next_boundary(f, pos + size, end)
            out.append((pos, cut))
            pos = cut
    return out


# -- parsing ---------------------------------------------------------------------------------------
def iter_mbox(path: str, start: int, end: int):
    """The messages of [start, end) of an mbox, as items:

    - ``("region", offset, data, at_eof)``: complete messages, ``data`` starting at a separator
      line (parsed in bulk by :func:`scan_region`);
    - ``("message", offset, header block or None, problem or None)``: one message too large to
      hold (its body is skipped, not kept; a header block above the limit is a problem).

    Memory holds at most one read chunk plus the header of the message being read."""
    with open(path, "rb") as f:
        f.seek(start)
        first = f.read(5)
        if not first:
            return
        if first != b"From ":
            yield ("message", start, None,
                   "not an mbox: the data does not start with a 'From ' separator line")
            return
        f.seek(start)
        remaining = end - start
        buf = b""
        pos = start  # file offset of buf[0]
        i = 0  # start of the current message in buf, or where to look for its end (in body)
        msg_off = start
        header: bytes | None = None
        problem: str | None = None
        in_body = False  # a large message whose header is known: skipping to the next one
        eof = False
        while not eof:
            chunk = f.read(min(READ_CHUNK, remaining)) if remaining > 0 else b""
            remaining -= len(chunk)
            eof = not chunk
            buf = buf[i:] + chunk if i else (buf + chunk if buf else chunk)
            pos += i
            i = 0
            while True:
                if not in_body:
                    j = buf.rfind(_SEP, i)
                    if j >= 0:
                        yield "region", pos + i, buf[i:j + 1], False
                        i = j + 1
                        msg_off = pos + i
                    if eof:
                        if i < len(buf):
                            yield "region", pos + i, buf[i:], True
                        return
                    # the message at i continues in the next chunk: keep it, unless it is big
                    nl = buf.find(b"\n", i)
                    he = H.header_end(buf, nl + 1)[0] if nl >= 0 else -1
                    if len(buf) - i <= READ_CHUNK // 2:
                        break
                    if he >= 0:
                        header, problem, in_body, i = buf[nl + 1:he], None, True, he - 1
                    elif len(buf) - i > H.MAX_HEADER_BYTES:
                        header, in_body = None, True
                        problem = f"header block above the {H.MAX_HEADER_BYTES} byte limit"
                        i = len(buf) - len(_SEP)
                    else:
                        break
                j = buf.find(_SEP, max(i, 0))
                if j >= 0:
                    yield "message", msg_off, header, problem
                    i = j + 1
                    msg_off = pos + i
                    header, problem, in_body = None, None, False
                    continue
                if eof:
                    yield "message", msg_off, header, problem
                    return
                keep = len(_SEP) - 1  # the body is not kept: only a tail to find the separator
                i = len(buf) - keep
                break


def _ci(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


# The kept header fields of a header block, found with one findall (no Match objects).
# Anchored on "\n" rather than "^" so the regex engine can jump from newline to newline (far
# faster than MULTILINE "^"); the first line of a message is its separator, never a field.
_FIELDS_PATTERN = (r"\n(" + "|".join(_ci(k) for k in sorted(H.KEPT))
                   + r")[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_FIELDS = re.compile(_FIELDS_PATTERN)
_UNFOLD_S = re.compile(r"\r?\n(?=[ \t])")


def scan_region(rows: MailRows, data: bytes, base: int, at_eof: bool, key: str,
                mailbox: str) -> None:
    """Parse every message of a region of complete messages: messages are cut at their
    separator lines with ``str.find``, and only each header block (up to its first empty line)
    is searched for the kept fields; bodies are never looked at beyond finding the next
    separator (a body line that looks like a header is ignored)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # some message holds 8-bit bytes that are not UTF-8: parse message by message, so that
        # only a message whose kept fields are affected is rejected
        for off, block, problem in _split_region(data, base, at_eof):
            if block is None:
                rows.reject(f"{key}@{off}", None, problem or "unreadable message")
            else:
                rows.add_block(block, mailbox, f"{key}@{off}")
        return
    add = rows.add_raw
    limit = H.MAX_HEADER_BYTES
    unfold = _UNFOLD_S.sub
    fields = _FIELDS.findall
    find = text.find
    n = len(text)
    # separators are ASCII: the same search in the bytes gives each message's byte offset
    ascii_only = len(data) == n
    find_b = data.find
    start = start_b = 0  # a region starts with a separator line
    while True:
        sep = find("\nFrom ", start)
        stop = sep if sep >= 0 else n  # the message is text[start:stop]
        # its header block ends at its first empty line ("\n\n" or "\n\r\n"; the newline
        # after it may be the separator's)
        look = sep + 1 if sep >= 0 else n
        a = find("\n\n", start, look)
        b = find("\n\r\n", start, a + 1 if a >= 0 else look)
        hend = b + 1 if b >= 0 else (a + 1 if a >= 0 else -1)
        end = hend if hend >= 0 else stop
        origin = f"{key}@{base + (start if ascii_only else start_b)}"
        if sep < 0 and hend < 0 and at_eof and not text.endswith("\n"):
            rows.reject(origin, None, "truncated: the message ends inside its header block")
        elif end - start > limit:
            rows.reject(origin, None, f"header block of about {end - start} bytes is above "
                        f"the {limit} byte limit", rows.redacted(None, end - start))
        else:
            # headers.fields' rule (first occurrence wins, To/Cc joined), inlined: the hot loop
            f: dict[str, str] = {}
            for name, value in fields(text, start, end):
                name = name.lower()
                if "\n" in value:
                    value = unfold("", value)
                value = value.strip()
                if name in f:
                    if (name == "to" or name == "cc") and value:
                        f[name] = f[name] + ", " + value
                    continue
                f[name] = value
            add(f, mailbox, origin)
        if sep < 0:
            return
        start = sep + 1
        if not ascii_only:
            start_b = find_b(b"\nFrom ", start_b) + 1


def _split_region(data: bytes, base: int, at_eof: bool):
    i = 0
    while i < len(data):
        j = data.find(_SEP, i)
        stop = j + 1 if j >= 0 else len(data)
        nl = data.find(b"\n", i, stop)
        he = H.header_end(data, nl + 1, stop)[0] if nl >= 0 else -1
        if he >= 0:
            yield base + i, data[nl + 1:he], None
        else:
            yield base + i, *_finish(None, None, data[i:stop])
        i = stop


def _finish(header: bytes | None, problem: str | None,
            tail: bytes) -> tuple[bytes | None, str | None]:
    if header is not None or problem is not None:
        return header, problem
    # no empty line in the message: headers only if the message ends cleanly, else truncated
    nl = tail.find(b"\n")
    if nl < 0:
        return None, "truncated: the message ends inside its separator line"
    if tail.endswith(b"\n"):
        return tail[nl + 1:], None
    return None, "truncated: the message ends inside its header block"


def read_header_file(path: str) -> tuple[bytes | None, str | None]:
    """The header block of a one-message file (Maildir, .eml)."""
    with open(path, "rb") as f:
        data = f.read(64 * 1024)
        he, _ = H.header_end(data)
        while he < 0:
            more = f.read(256 * 1024)
            if not more:
                if not data:
                    return None, "empty file"
                if data.endswith(b"\n"):
                    return data, None  # headers only, no body
                return None, "truncated: the file ends inside its header block"
            data += more
            he, _ = H.header_end(data, max(0, len(data) - len(more) - 2))
            if he < 0 and len(data) > H.MAX_HEADER_BYTES:
                return None, f"header block above the {H.MAX_HEADER_BYTES} byte limit"
        return data[:he], None


def run_task(task: MailTask, config: PrivacyConfig, source: str) -> list[tuple[str, pa.Table]]:
    """Parse one task into arrow tables. Never raises for bad input: it becomes rejects."""
    rows = MailRows(Privacy(config), source)
    try:
        if task.kind == "mbox":
            for item in iter_mbox(task.path, task.start, task.end):
                if item[0] == "region":
                    scan_region(rows, item[2], item[1], item[3], task.key, task.mailbox)
                    continue
                _, off, block, problem = item
                origin = f"{task.key}@{off}"
                if block is None:
                    rows.reject(origin, None, problem or "unreadable message")
                else:
                    rows.add_block(block, task.mailbox, origin)
        else:
            base = Path(task.path)
            for rel, origin in task.names:
                try:
                    block, problem = read_header_file(str(base / rel) if rel else task.path)
                except OSError as exc:
                    block, problem = None, f"unreadable file: {exc.strerror or exc}"
                if block is None:
                    rows.reject(origin, None, problem or "unreadable message")
                else:
                    rows.add_block(block, task.mailbox, origin)
    except Exception as exc:  # noqa: BLE001 (one file never stops a run)
        log.warning("mail: %s failed: %s", task.key, exc)
        rejects = Rejects(source)
        rejects.add(EMAIL, task.key, None, f"file could not be read: {type(exc).__name__}: {exc}",
                    "")
        return rows.take() + [("_rejects", rejects.take())]
    return rows.take()
