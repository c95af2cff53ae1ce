"""Counts scale linearly with the scale factor."""

from __future__ import annotations

import json

from revwh.demo import generate


def _deal_meetings(root) -> int:
    with open(root / "ground_truth" / "activity_truth.csv", encoding="utf-8") as f:
        return sum(1 for r in f if ",meeting," in r and ",0068" in r)


def test_counts_scale_linearly(tmp_path):
    a = generate(tmp_path / "a", scale=0.1, seed=5)
    b = generate(tmp_path / "b", scale=0.2, seed=5)
    pairs = {
        "opportunities": (a["rows"]["opportunity"], b["rows"]["opportunity"]),
        "accounts": (a["rows"]["account"], b["rows"]["account"]),
        "contacts": (a["rows"]["contact"], b["rows"]["contact"]),
        "tasks": (a["rows"]["task"], b["rows"]["task"]),
        "emails": (a["emails"], b["emails"]),
        "customer meetings": tuple(_deal_meetings(p) for p in (tmp_path / "a", tmp_path / "b")),
    }
    for name, (x, y) in pairs.items():
        assert x > 0 and 1.6 <= y / x <= 2.4, (name, x, y)
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["scale"] == 0.2
