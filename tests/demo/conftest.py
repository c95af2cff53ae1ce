"""Demo data generated once per test session: a small data set for structure, S=1 for effects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from revwh.demo import generate

SMALL_SCALE, SMALL_SEED = 0.05, 7
FULL_SCALE, FULL_SEED = 1.0, 42


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_small")
    generate(out, scale=SMALL_SCALE, seed=SMALL_SEED, rest_pages=True)
    return out


@pytest.fixture(scope="session")
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_full")
    generate(out, scale=FULL_SCALE, seed=FULL_SEED)
    return out


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def read_dicts(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def truth(root: Path) -> dict:
    return json.loads((root / "ground_truth" / "ground_truth.json").read_text(encoding="utf-8"))
