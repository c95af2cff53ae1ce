"""A Salesforce-shaped CSV drop for the fake API: the hand-made mini drop, plus clones of its
rows (new ids, later modstamps, some deleted) so that queryAll has many pages."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import MINI_DROP

BASE = datetime(2025, 1, 1, 8, 0, 0)


def make_drop(folder: Path, *, clones: int = 40, opportunity_clones: int = 150) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted(MINI_DROP.glob("*.csv")):
        with src.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        header = list(rows[0])
        n = opportunity_clones if src.stem == "opportunity" else clones
        out = [dict(r) for r in rows]
        for k in range(n):
            row = dict(rows[k % len(rows)])
            row["id"] = f"{row['id']}x{k:04d}"
            # two clones share each timestamp: ties at the cursor boundary must be handled
            stamp = (BASE + timedelta(minutes=7 * (k // 2))).strftime("%Y-%m-%d %H:%M:%S")
            for col in ("system_modstamp", "created_date"):
                if col in row:
                    row[col] = stamp
            if "is_deleted" in row:
                row["is_deleted"] = "true" if k % 17 == 5 else "false"
            out.append(row)
        if src.stem == "opportunity":  # a custom field the contract does not know
            header.append("discount_tier_c")
            for i, row in enumerate(out):
                row["discount_tier_c"] = ["gold", "silver", ""][i % 3]
        with (folder / src.name).open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(out)
    return folder


def record_count(folder: Path) -> dict[str, int]:
    return {p.stem: sum(1 for _ in csv.DictReader(p.open(encoding="utf-8")))
            for p in sorted(folder.glob("*.csv"))}
