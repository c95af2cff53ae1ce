"""Which parts of the pipeline exist yet. The harness grows with the issues: a step or a bar whose
feature is absent is reported as missing, never faked.

Run as `python -m benchmarks.features` it prints the features as JSON (the harness runs it in a
subprocess so that a half-landed package cannot break the parent).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "dbt_project" / "models"
DBT_PROJECT_FILE = ROOT / "dbt_project" / "dbt_project.yml"

INCREMENTAL = re.compile(
    r"materialized\s*=\s*['\"]incremental['\"]|\+?materialized\s*:\s*['\"]?incremental")


def incremental_models() -> list[str]:
    found = []
    for path in sorted(MODELS_DIR.rglob("*")):
        if path.suffix in (".sql", ".yml", ".yaml") and INCREMENTAL.search(path.read_text()):
            found.append(str(path.relative_to(ROOT)))
    if DBT_PROJECT_FILE.exists() and INCREMENTAL.search(DBT_PROJECT_FILE.read_text()):
        found.append(str(DBT_PROJECT_FILE.relative_to(ROOT)))
    return found


def forecasting_functions() -> dict[str, object]:
    """Public functions of every module of the `forecasting` package, by `module.name`."""
    import forecasting

    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(forecasting.__path__, "forecasting."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001, S112 (a half-landed module is not a feature yet)
            continue
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = fn
    return found


def prophet_fitter():
    """The function that fits Prophet on one monthly series: (history, horizon) -> frame."""
    functions = forecasting_functions()
    for name in ("forecasting.models.fit_prophet", "forecasting.revenue.fit_prophet"):
        if name in functions:
            return name, functions[name]
    try:
        from forecasting import revenue
    except ImportError:
        return None, None
    fn = getattr(revenue, "_prophet", None)
    return ("forecasting.revenue._prophet", fn) if fn else (None, None)


def baseline_fitters() -> dict[str, object]:
    """Baseline models: `forecasting.baselines.BASELINES` ({name: fn(history, horizon)}) when it
    exists, else public functions named *baseline* or *naive* taking (history, horizon)."""
    try:
        module = importlib.import_module("forecasting.baselines")
        registry = getattr(module, "BASELINES", None)
        if isinstance(registry, dict) and registry:
            return dict(registry)
    except ImportError:
        pass
    out = {}
    for name, fn in forecasting_functions().items():
        short = name.rsplit(".", 1)[-1]
        if short.startswith("_") or not ("baseline" in short or "naive" in short):
            continue
        params = list(inspect.signature(fn).parameters)
        if params[:2] == ["history", "horizon"]:
            out[name] = fn
    return out


def detect() -> dict[str, dict]:
    features: dict[str, dict] = {}
    models = incremental_models()
    features["incremental_model"] = {
        "present": bool(models), "where": models,
        "reason": "" if models else "no incremental dbt model in dbt_project/models yet"}
    try:
        from revwh.extract.activity import extract_calendars, extract_mail  # noqa: F401
        features["extract_activity"] = {"present": True, "reason": ""}
    except Exception as exc:  # noqa: BLE001 (absent or half-landed: reported, not raised)
        features["extract_activity"] = {
            "present": False,
            "reason": f"email/calendar extraction not importable yet ({type(exc).__name__}: "
                      f"{exc})"}
    try:
        functions = forecasting_functions()
    except Exception as exc:  # noqa: BLE001
        functions = {}
        features["forecasting_error"] = {"present": False, "reason": str(exc)}
    backtests = sorted(n for n in functions if "backtest" in n.rsplit(".", 1)[-1]
                       and not n.rsplit(".", 1)[-1].startswith("_"))
    features["forecast_backtest"] = {
        "present": bool(backtests), "where": backtests,
        "reason": "" if backtests else "the forecast job has no backtest yet (issue #10)"}
    try:
        baselines = sorted(baseline_fitters())
    except Exception:  # noqa: BLE001
        baselines = []
    features["forecast_baselines"] = {
        "present": bool(baselines), "where": baselines,
        "reason": "" if baselines else (
            "the forecasting package exposes no baseline models yet (expected "
            "forecasting.baselines.BASELINES or public *baseline*/*naive*(history, horizon))")}
    try:
        name, fn = prophet_fitter()
    except Exception:  # noqa: BLE001
        name, fn = None, None
    features["prophet_fit"] = {"present": fn is not None, "where": name or "",
                               "reason": "" if fn else "no Prophet fitting function found"}
    return features


if __name__ == "__main__":
    print(json.dumps(detect(), indent=1))
