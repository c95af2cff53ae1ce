"""A few malformed records, planted on purpose and listed in the ground truth.

Every file still parses as UTF-8 CSV; "broken encoding" is mojibake text, never invalid bytes.
Rows are chosen so the truth aggregates stay exact: malformed opportunities are excluded from
every aggregate, other malformed rows sit on records the aggregates do not use (accounts and
contacts without deals) or are excluded explicitly (opportunity_history rows).
"""

from __future__ import annotations

from .crm import Table
from .rand import Rand
from .timeutil import fmt_date1

OPP_SHARE = 0.002


def _mojibake(s: str) -> str:
    return s.encode("utf-8").decode("latin-1")


def inject(
    tables: dict[str, Table],
    used_accounts: set[int],
    engaged_contacts: set[int],
    scale: float,
    rng: Rand,
) -> list[dict]:
    out: list[dict] = []

    def mark(t: Table, row: int, col: str, raw: str, reason: str) -> None:
        t.malformed.setdefault(row, {})[col] = raw
        t.malformed_reason[row] = reason
        rid = t.data["id"][row] if "id" in t.data else None
        out.append(
            {
                "table": t.name,
                "id": rid if col != "id" else None,
                "intended_id": rid,
                "row_number": row + 1,
                "column": col,
                "raw_value": raw,
                "reason": reason,
            }
        )

    few = max(1, round(scale))
    # opportunities
    t = tables["opportunity"]
    rows = [i for i in range(len(t)) if not t.data["is_deleted"][i]]
    k = max(4, round(OPP_SHARE * len(t)))
    pick = sorted(rng.gen.choice(len(rows), size=min(k, len(rows)), replace=False).tolist())
    for j, r in enumerate(rows[p] for p in pick):
        kind = j % 4
        if kind == 0:
            d = fmt_date1(t.data["close_date"][r])
            mark(t, r, "close_date", d[:8] + "32", "close_date is not a valid date")
        elif kind == 1:
            amt = int(t.data["amount"][r] or 0)
            mark(t, r, "amount", f"{amt:,}".replace("0", "O") + " USD", "amount is not numeric")
        elif kind == 2:
            mark(t, r, "id", "", "id is missing")
        else:
            mark(t, r, "stage_name", "", "stage_name is missing (required)")
    # accounts without deals
    t = tables["account"]
    free = [i for i in range(len(t)) if i not in used_accounts and t.data["type"][i] == "Prospect"]
    if free:
        for r in [free[rng.integers(len(free))] for _ in range(few)]:
            if r not in t.malformed:
                mark(
                    t,
                    r,
                    "number_of_employees",
                    f"approx. {t.data['number_of_employees'][r]}",
                    "number_of_employees is not an integer",
                )
        accented = [i for i in free if not t.data["name"][i].isascii() and i not in t.malformed]
        if accented:
            r = accented[rng.integers(len(accented))]
            mark(
                t,
                r,
                "name",
                _mojibake(t.data["name"][r]),
                "name is mojibake (UTF-8 read as Latin-1)",
            )
    # contacts nobody e-mails or meets
    t = tables["contact"]
    acc_of = t.data["account_id"]
    acc_ids = {tables["account"].data["id"][i] for i in used_accounts}
    quiet = [
        i
        for i in range(len(t))
        if i not in engaged_contacts and acc_of[i] not in acc_ids and not t.data["is_deleted"][i]
    ]
    if quiet:
        for r in [quiet[rng.integers(len(quiet))] for _ in range(few)]:
            if r not in t.malformed:
                mark(t, r, "id", "", "id is missing")
        accented = [i for i in quiet if not t.data["name"][i].isascii() and i not in t.malformed]
        if accented:
            r = accented[rng.integers(len(accented))]
            mark(
                t,
                r,
                "name",
                _mojibake(t.data["name"][r]),
                "name is mojibake (UTF-8 read as Latin-1)",
            )
    # opportunity history: impossible timestamps
    t = tables["opportunity_history"]
    for _ in range(few):
        r = rng.integers(len(t))
        if r not in t.malformed:
            mark(
                t, r, "created_date", "2025-13-01 25:61:00", "created_date is not a valid timestamp"
            )
    # tasks and events
    t = tables["task"]
    for _ in range(few):
        r = rng.integers(len(t))
        if r not in t.malformed:
            mark(t, r, "activity_date", "31/04/2025", "activity_date is not an ISO date")
    t = tables["event"]
    if len(t):
        r = rng.integers(len(t))
        mark(t, r, "duration_in_minutes", "half an hour", "duration_in_minutes is not an integer")
    return out
