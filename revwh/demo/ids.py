"""Salesforce-style 18-character record ids (15-char id + case-insensitive checksum)."""

from __future__ import annotations

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# key prefixes of the objects we write (Salesforce's real ones; a0V is a custom object's)
PREFIX = {
    "user_role": "00E",
    "user": "005",
    "account": "001",
    "contact": "003",
    "lead": "00Q",
    "opportunity": "006",
    "opportunity_history": "008",
    "opportunity_field_history": "017",
    "opportunity_contact_role": "00K",
    "verifier_status_c": "a0V",
    "task": "00T",
    "event": "00U",
}


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def _checksum(id15: str) -> str:
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_CHK[bits])
    return "".join(out)


_B62_2 = [a + b for a in _B62 for b in _B62]
_CHUNK_CACHE: dict[str, str] = {}


def _chunk_chk(chunk: str) -> str:
    c = _CHUNK_CACHE.get(chunk)
    if c is None:
        bits = 0
        for i, ch in enumerate(chunk):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        c = _CHK[bits]
        _CHUNK_CACHE[chunk] = c
    return c


def sf_id(table: str, n: int) -> str:
    """Deterministic 18-character id for row number ``n`` of ``table``."""
    hi, lo = divmod(n, 3844)
    hi, mid = divmod(hi, 3844)
    tail6 = _B62_2[hi % 3844] + _B62_2[mid] + _B62_2[lo]
    head = PREFIX[table] + "8c"
    c1 = "0000" + tail6[0]
    c2 = tail6[1:]
    return head + c1 + c2 + _chunk_chk(head) + _chunk_chk(c1) + _checksum_chunk(c2)


def _checksum_chunk(chunk: str) -> str:
    bits = 0
    for i, ch in enumerate(chunk):
        if "A" <= ch <= "Z":
            bits |= 1 << i
    return _CHK[bits]


_UP2 = [((1 if "A" <= p[0] <= "Z" else 0), (1 if "A" <= p[1] <= "Z" else 0)) for p in _B62_2]


def sf_ids(table: str, start: int, count: int) -> list[str]:
    """``[sf_id(table, n) for n in range(start, start + count)]``, vectorised."""
    import numpy as np

    n = np.arange(start, start + count, dtype=np.int64)
    lo = n % 3844
    mid = (n // 3844) % 3844
    hi = (n // 3844 // 3844) % 3844
    up = np.array(_UP2, dtype=np.int64)
    b1 = up[hi, 0] << 4  # chunk "0000" + first char
    b2 = up[hi, 1] | (up[mid, 0] << 1) | (up[mid, 1] << 2) | (up[lo, 0] << 3) | (up[lo, 1] << 4)
    head = PREFIX[table] + "8c"
    head_chk = _chunk_chk(head)
    p2 = _B62_2
    return [
        f"{head}0000{p2[h]}{p2[m]}{p2[l_]}{head_chk}{_CHK[x]}{_CHK[y]}"
        for h, m, l_, x, y in zip(hi.tolist(), mid.tolist(), lo.tolist(), b1.tolist(), b2.tolist())
    ]
