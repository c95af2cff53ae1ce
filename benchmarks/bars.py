"""The speed and memory bars other issues promise, as data, and their evaluation.

A bar names the issue, its text, the metric (a dotted path into one scale's results, e.g.
`steps.demo.wall_s` or `ratios.gate_vs_build.value`), the scale it applies to, a comparison and
a threshold. An issue that promises a new bar adds one entry to `BARS`; nothing else changes.

`context` is an optional second path whose value is added to the bar's note (e.g. which marts
the measured build contained). `requires` lists features (see `benchmarks.features`) without
which the measured figure does not yet mean what the bar says (e.g. the forecast step exists but
does not backtest yet): such a bar is reported as missing, with the figure shown for
information.

Statuses: `met`, `not met`, `missing` (the step or feature does not exist yet), `not run` (the
scale or step was not part of this run), `reported` (a figure an issue asks for, no threshold).
"""

from __future__ import annotations

import operator

MB_2G = 2048
MB_4G = 4096

BARS: list[dict] = [
    # 3 demo data
    {"issue": 3, "text": "S=10 demo data generates in under 60 s",
     "metric": "steps.demo.wall_s", "scale": 10, "op": "<", "threshold": 60, "unit": "s"},
    {"issue": 3, "text": "S=10 demo generation peak memory under 2 GB",
     "metric": "steps.demo.peak_rss_mb", "scale": 10, "op": "<", "threshold": MB_2G,
     "unit": "MB"},
    # 5 CRM extraction
    {"issue": 5, "text": "raw landing of the S=10 file drop within 2x of DuckDB's own read_csv "
                         "of the same files",
     "metric": "ratios.crm_landing_vs_duckdb_read_csv.value", "scale": 10, "op": "<=",
     "threshold": 2.0, "unit": "x"},
    {"issue": 5, "text": "S=10 CRM extraction peak memory under 2 GB",
     "metric": "steps.extract_crm.peak_rss_mb", "scale": 10, "op": "<", "threshold": MB_2G,
     "unit": "MB"},
    # 6 email and calendar
    {"issue": 6, "text": "S=10 mailboxes and calendars parsed into raw at >= 50,000 rows/s "
                         "end to end",
     "metric": "steps.extract_activity.rows_per_s", "scale": 10, "op": ">=",
     "threshold": 50_000, "unit": "rows/s"},
    {"issue": 6, "text": "S=10 email/calendar extraction peak memory under 2 GB",
     "metric": "steps.extract_activity.peak_rss_mb", "scale": 10, "op": "<",
     "threshold": MB_2G, "unit": "MB"},
    # 7 marts
    {"issue": 7, "text": "S=10 full-refresh dbt build of all marts under 3 minutes",
     "metric": "steps.build_full.wall_s", "scale": 10, "op": "<", "threshold": 180, "unit": "s",
     "context": "steps.build_full.details.marts_note"},
    {"issue": 7, "text": "S=10 nightly incremental build after one new day under 20% of the "
                         "full build's time",
     "metric": "ratios.incremental_vs_full_build.value", "scale": 10, "op": "<",
     "threshold": 0.20, "unit": "x"},
    {"issue": 7, "text": "S=10 dbt build peak memory under 4 GB",
     "metric": "steps.build_full.peak_rss_mb", "scale": 10, "op": "<", "threshold": MB_4G,
     "unit": "MB"},
    # 9 quality gate
    {"issue": 9, "text": "S=10 gate on all marts adds under 25% to the dbt build time",
     "metric": "ratios.gate_vs_build.value", "scale": 10, "op": "<", "threshold": 0.25,
     "unit": "x", "context": "steps.build_full.details.marts_note"},
    # 10 forecasting
    {"issue": 10, "text": "S=1: all series fitted, backtested and written in under 2 minutes",
     "metric": "steps.forecast.wall_s", "scale": 1, "op": "<", "threshold": 120, "unit": "s",
     "requires": ["forecast_backtest"]},
    {"issue": 10, "text": "seconds per Prophet fit (S=1)",
     "metric": "steps.prophet_fit.details.seconds_per_prophet_fit", "scale": 1,
     "op": "report", "unit": "s"},
    {"issue": 10, "text": "Prophet fit vs the baselines' fits (S=1)",
     "metric": "ratios.prophet_vs_baselines.value", "scale": 1, "op": "report", "unit": "x",
     "context": "ratios.prophet_vs_baselines.note"},
    # 11 production stack
    {"issue": 11, "text": "dbt as cosmos tasks (one per model) vs one dbt build task, both "
                          "through Airflow (S=1)",
     "metric": "steps.build_cosmos.details.cosmos_vs_build", "scale": 1, "op": "report",
     "unit": "x", "context": "steps.build_cosmos.details.note"},
]

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
BAR_STATUSES = ("met", "not met", "missing", "not run", "reported")
UNAVAILABLE = ("missing", "failed", "not run")


def scale_key(scale: float) -> str:
    return f"{scale:g}"


def resolve(node, path: str) -> tuple[object, str | None, str]:
    """Follow `path` into `node`. Returns (value, blocking status, reason): a node on the way
    whose status is missing/failed/not run blocks the lookup and gives its reason."""
    for part in path.split("."):
        if isinstance(node, dict) and node.get("status") in UNAVAILABLE:
            return None, node["status"], node.get("reason") or node.get("error") or ""
        if not isinstance(node, dict) or part not in node:
            return None, "missing", f"{path} not recorded"
        node = node[part]
    return node, None, ""


def cpu_path(metric: str) -> str | None:
    """The CPU-time twin of a wall-time metric, shown next to it: on a busy machine wall time
    grows with the other work, CPU time much less."""
    if metric.endswith(".wall_s"):
        return metric[: -len("wall_s")] + "cpu_s"
    if metric.endswith(".rows_per_s"):
        return metric[: -len("rows_per_s")] + "rows_per_cpu_s"
    if metric.startswith("ratios.") and metric.endswith(".value"):
        return metric[: -len("value")] + "cpu_value"
    return None


def evaluate(bar: dict, results: dict) -> dict:
    out = {k: bar.get(k) for k in ("issue", "text", "metric", "scale", "op", "threshold", "unit")}
    out.update(figure=None, status="not run", note="")
    scale = results.get("scales", {}).get(scale_key(bar["scale"]))
    if scale is None:
        out["note"] = f"S={scale_key(bar['scale'])} was not part of this run"
        return out
    value, blocked, reason = resolve(scale, bar["metric"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out["figure"] = value
    cpu_metric = cpu_path(bar["metric"])
    if out["figure"] is not None and cpu_metric:
        cpu, _, _ = resolve(scale, cpu_metric)
        if isinstance(cpu, (int, float)):
            out["cpu_figure"] = cpu
    if blocked:
        out["status"] = {"failed": "not met"}.get(blocked, blocked)
        out["note"] = (f"step failed: {reason}" if blocked == "failed" else reason)
        return out
    if out["figure"] is None:
        out.update(status="missing", note=f"{bar['metric']} has no figure")
        return out
    features = results.get("features", {})
    for need in bar.get("requires", []):
        feature = features.get(need, {})
        if not feature.get("present"):
            out["status"] = "missing"
            out["note"] = (f"figure measured, but {feature.get('reason') or need + ' missing'}")
            return out
    if bar.get("context"):
        context, _, _ = resolve(scale, bar["context"])
        if context:
            out["note"] = str(context)
    if bar["op"] == "report":
        out["status"] = "reported"
        return out
    out["status"] = "met" if OPS[bar["op"]](out["figure"], bar["threshold"]) else "not met"
    return out


def evaluate_all(results: dict, bars: list[dict] | None = None) -> list[dict]:
    return [evaluate(bar, results) for bar in (BARS if bars is None else bars)]
