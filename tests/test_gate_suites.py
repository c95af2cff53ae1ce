"""The quality gate's suites against the dbt project, without a warehouse: every published mart
has exactly one GX suite in `expectations/`, and a mart suite only names columns documented for
its model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DBT = ROOT / "dbt_project"
MARTS = DBT / "models" / "marts"
EXPECTATIONS = ROOT / "expectations"
# the kwargs of an expectation that name columns
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list", "column_set")
# `publish` in a model's own config block: {{ config(meta={'publish': false}) }}
SQL_PUBLISH = re.compile(r"""['"]?publish['"]?\s*[:=]\s*(true|false)\b""", re.IGNORECASE)


def _publish_setting(config: dict | None) -> bool | None:
    """`publish` from one level of dbt config (`+meta` in dbt_project.yml, `meta` elsewhere)."""
    config = config or {}
    for name in ("+meta", "meta"):
        meta = config.get(name) or {}
        if "publish" in meta:
            return bool(meta["publish"])
    return None


def _documented_models() -> dict[str, dict]:
    """Each model documented under models/marts: its yml entry."""
    models = {}
    for path in sorted(MARTS.rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            models[model["name"]] = model
    return models


def _published_models() -> list[str]:
    """Models under models/marts that dbt publishes: the dbt_project.yml hierarchy
    (models: <project>: marts: ... +meta: publish), then the model's yml config, then the
    config block in its SQL, the most specific setting winning."""
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text())
    tree = (project.get("models") or {}).get(project["name"]) or {}
    documented = _documented_models()
    published = []
    for sql in sorted(MARTS.rglob("*.sql")):
        name = sql.stem
        publish = None
        level = tree
        for part in ("marts", *sql.relative_to(MARTS).parent.parts, name):
            level = level.get(part) if isinstance(level, dict) else None
            if not isinstance(level, dict):
                break
            if _publish_setting(level) is not None:
                publish = _publish_setting(level)
        entry = documented.get(name, {})
        for setting in (_publish_setting(entry.get("config")), _publish_setting(entry)):
            if setting is not None:
                publish = setting
        match = SQL_PUBLISH.search(sql.read_text())
        if match:
            publish = match.group(1).lower() == "true"
        if publish:
            published.append(name)
    return published


def _mart_suites() -> list[tuple[str, dict]]:
    suites = [(p.name, json.loads(p.read_text())) for p in sorted(EXPECTATIONS.glob("*.json"))]
    return [(f, s) for f, s in suites if s["meta"].get("layer", "marts") == "marts"]


def _suite_columns(suite: dict) -> set[str]:
    """Every column the suite names: its key and the columns of each expectation."""
    columns = {suite["meta"]["key"]} if suite["meta"].get("key") else set()
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        columns |= {kwargs[k] for k in COLUMN_KWARGS if k in kwargs}
        for k in COLUMN_LIST_KWARGS:
            columns |= set(kwargs.get(k) or [])
    return columns


PUBLISHED = _published_models()
MART_SUITES = _mart_suites()


def test_marts_are_published():
    """Sanity: the project publishes its marts (dbt_project.yml), so the checks below bite."""
    assert "fct_opportunity" in PUBLISHED
    assert len(PUBLISHED) >= 10


@pytest.mark.parametrize("model", PUBLISHED)
def test_published_mart_has_one_suite(model):
    files = [f for f, s in MART_SUITES if s["meta"]["table"] == model]
    assert len(files) == 1, f"{model}: expected one suite in expectations/, found {files}"


@pytest.mark.parametrize("suite_file", [f for f, _ in MART_SUITES])
def test_mart_suite_names_documented_columns(suite_file):
    suite = dict(MART_SUITES)[suite_file]
    table = suite["meta"]["table"]
    models = _documented_models()
    assert table in models, f"{suite_file}: {table} is not a model documented under models/marts"
    documented = {c["name"] for c in models[table].get("columns") or []}
    unknown = sorted(_suite_columns(suite) - documented)
    assert not unknown, f"{suite_file}: columns not documented for {table}: {unknown}"
