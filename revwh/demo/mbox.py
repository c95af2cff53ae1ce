"""One mbox file per internal mailbox, written directly as text (no email.message objects)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import vocab
from .activity import K_MALFORMED, Emails, People
from .fileio import HashingWriter, Manifest
from .timeutil import DAY, MONTHS, WEEKDAYS, civil, utc_offsets

_ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~ ")
_QSAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")


def encoded_words(text: str, q: bool = False) -> str:
    """RFC 2047 encoded words (UTF-8, B or Q), each at most 75 characters, folded."""
    words = []
    chunk = ""
    limit = 45 if not q else 20  # bytes per word: keeps each word within 75 characters
    for ch in text:
        if len((chunk + ch).encode()) > limit:
            words.append(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        words.append(chunk)
    out = []
    for w in words:
        b = w.encode()
        if q:
            enc = "".join(
                chr(c) if chr(c) in _QSAFE else "_" if c == 32 else f"={c:02X}" for c in b
            )
            out.append(f"=?utf-8?q?{enc}?=")
        else:
            out.append(f"=?utf-8?b?{base64.b64encode(b).decode()}?=")
    return "\n ".join(out)


def display(name: str, email: str, q: bool = False) -> str:
    if name.isascii():
        if all(c in _ATEXT for c in name):
            return f"{name} <{email}>"
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{email}>'
    return f"{encoded_words(name, q)} <{email}>"


def subject_header(s: str, q: bool) -> str:
    return s if s.isascii() else encoded_words(s, q)


def _fold_list(items: list[str]) -> str:
    line = ", ".join(items)
    if len(line) < 70 and "\n" not in line:
        return line
    return ",\n ".join(items)


def mailbox_pairs(em: Emails, people: People) -> tuple[np.ndarray, np.ndarray]:
    """(mailbox person id, message index) for every copy of every message, sorted by
    mailbox, then time, then message. A message is in the mailbox of every internal
    participant of its thread."""
    internal = np.array(people.internal, dtype=bool)
    T = len(em.threads)
    tids, pids = [], []
    for ptr, dat in ((em.a_ptr, em.a_dat), (em.b_ptr, em.b_dat), (em.p_ptr, em.p_dat)):
        lens = ptr[1:] - ptr[:-1]
        tids.append(np.repeat(np.arange(T, dtype=np.int64), lens))
        pids.append(dat)
    tid = np.concatenate(tids)
    pid = np.concatenate(pids)
    keep = internal[pid]
    P = len(internal)
    key = np.unique(tid[keep] * P + pid[keep])  # sorted by thread, then person; de-duplicated
    mt, mp = key // P, key % P
    lens = np.bincount(mt, minlength=T)
    ptr = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    cnt = lens[em.thread]
    msg = np.repeat(np.arange(len(em), dtype=np.int64), cnt)
    off = np.arange(len(msg), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    mb = mp[ptr[em.thread[msg]] + off]
    order = np.lexsort((msg, em.time[msg], mb))
    return mb[order], msg[order]


def write_mboxes(
    root: Path,
    em: Emails,
    people: People,
    mailbox_users: list[int],
    manifest: Manifest,
    progress: Callable[[float], None] | None = None,
) -> dict:
    out_dir = root / "mail"
    out_dir.mkdir(parents=True, exist_ok=True)
    th = em.threads
    n_people = len(people.email)
    hdr = [display(people.name[p], people.email[p], q=(p % 2 == 1)) for p in range(n_people)]
    subj = [subject_header(s, q=(i % 3 == 0)) for i, s in enumerate(th.subjects)]
    resubj = ["Re: " + x for x in subj]
    t_subj = th.subj
    mb, msg = mailbox_pairs(em, people)
    tz_of = np.array(people.tz, dtype=np.int64)
    msgid = em.msgid
    body_lines = vocab.BODY_LINES
    n_body = len(body_lines)
    kinds = th.kind
    side_a, side_b, passive = th.side_a, th.side_b, th.passive
    first_names = people.first
    from_line = [f"From {e} " for e in people.email]
    from_hdr = [f"\nFrom: {h}\n" for h in hdr]
    # lookup tables: time of day, dates (RFC 5322 and asctime), UTC offsets
    hms = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
    t_all = em.time
    day0 = int(t_all.min() // DAY) - 2 if len(t_all) else 0
    day1 = int(t_all.max() // DAY) + 3 if len(t_all) else 1
    dd_ = np.arange(day0, day1)
    yy_, mm_, dy_ = civil(dd_)
    wd_ = ((dd_ + 3) % 7).tolist()
    rfc_day = [
        f"{WEEKDAYS[w_]}, {d_:02d} {MONTHS[m_]} {y_} "
        for w_, d_, m_, y_ in zip(wd_, dy_.tolist(), mm_.tolist(), yy_.tolist())
    ]
    asc_day = [
        (f"{WEEKDAYS[w_]} {MONTHS[m_]} {d_:2d} ", f" {y_}\n")
        for w_, d_, m_, y_ in zip(wd_, dy_.tolist(), mm_.tolist(), yy_.tolist())
    ]
    bad_day = [
        f"{d_:02d}/{m_:02d}/{y_} 25:"
        for d_, m_, y_ in zip(dy_.tolist(), mm_.tolist(), yy_.tolist())
    ]
    off_str: dict[int, str] = {}
    tail = (
        '\nMIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n\nHi "
    )
    counts = {}
    total = 0
    for k, u in enumerate(mailbox_users):
        lo = int(np.searchsorted(mb, u, side="left"))
        hi = int(np.searchsorted(mb, u, side="right"))
        idx = msg[lo:hi]
        path = out_dir / f"{people.email[u]}.mbox"
        w = HashingWriter(path)
        if len(idx):
            t = em.time[idx]
            snd = em.sender[idx]
            off = utc_offsets(t, tz_of[snd], list(vocab.TZ_NAMES))
            loc = t + off
            days = loc // DAY
            sod = loc - days * DAY
            uday = t // DAY
            usod = t - uday * DAY
            cols = zip(
                idx.tolist(),
                snd.tolist(),
                em.thread[idx].tolist(),
                em.pos[idx].tolist(),
                em.first[idx].tolist(),
                em.side[idx].tolist(),
                (days - day0).tolist(),
                sod.tolist(),
                (off // 60).tolist(),
                (uday - day0).tolist(),
                usod.tolist(),
            )
            parts = []
            cache: dict[tuple[int, int], tuple[str, str]] = {}
            for i, s, tt, pos, first, side, di, ss, om, udi, uss in cols:
                rc = cache.get((tt, s))
                if rc is None:
                    if side == 0:
                        to, same = side_b[tt], side_a[tt]
                    else:
                        to, same = side_a[tt], side_b[tt]
                    cc = [x for x in same if x != s] + list(passive[tt])
                    rc = (
                        "To: "
                        + _fold_list([hdr[x] for x in to])
                        + ("\nCc: " + _fold_list([hdr[x] for x in cc]) if cc else ""),
                        first_names[to[0]],
                    )
                    cache[(tt, s)] = rc
                os_ = off_str.get(om)
                if os_ is None:
                    a_ = abs(om)
                    os_ = f"{'+' if om >= 0 else '-'}{a_ // 60:02d}{a_ % 60:02d}"
                    off_str[om] = os_
                if kinds[tt] == K_MALFORMED:
                    date_h = bad_day[di] + hms[ss][3:] + " +9900"
                else:
                    date_h = rfc_day[di] + hms[ss] + " " + os_
                ad = asc_day[udi]
                if pos:
                    subj_part = (
                        f"Subject: {resubj[t_subj[tt]]}\nIn-Reply-To: <{msgid[i - 1]}>\nReferences: <"
                        + ">\n <".join(msgid[first:i])
                        + ">"
                    )
                else:
                    subj_part = f"Subject: {subj[t_subj[tt]]}"
                parts.append(
                    f"{from_line[s]}{ad[0]}{hms[uss]}{ad[1]}Message-ID: <{msgid[i]}>\n"
                    f"Date: {date_h}{from_hdr[s]}{rc[0]}\n{subj_part}{tail}{rc[1]},\n\n"
                    f"{body_lines[(i * 7 + pos) % n_body]}\n\n{first_names[s]}\n\n"
                )
                if len(parts) >= 4000:
                    w.write("".join(parts))
                    parts = []
            w.write("".join(parts))
        sha = w.close()
        manifest.add(path, len(idx), sha)
        counts[people.email[u]] = len(idx)
        total += len(idx)
        if progress:
            progress((k + 1) / len(mailbox_users))
    return {"mailboxes": len(mailbox_users), "messages": len(em), "mailbox_messages": total}
