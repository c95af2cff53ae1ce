"""Access to the raw table contracts (revwh.contract)."""

from __future__ import annotations

from revwh.contract import SALESFORCE, TableContract


def salesforce_contract() -> dict[str, TableContract]:
    return SALESFORCE
