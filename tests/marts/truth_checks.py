"""Compare mart queries with the demo generator's ground truth (its `definitions` say how each
aggregate is computed). Shared by the DuckDB and the PostgreSQL tests."""

from __future__ import annotations

from collections.abc import Callable

Query = Callable[[str], list[tuple]]


def closed_won_by_month(q: Query, schema: str) -> dict[str, tuple[int, float]]:
    rows = q(f'select cast(extract(year from close_date) as integer), '
             f'cast(extract(month from close_date) as integer), count(*), sum(amount) '
             f'from "{schema}".fct_opportunity where is_won group by 1, 2')
    return {f"{y:04d}-{m:02d}": (int(n), float(a)) for y, m, n, a in rows}


def closed_won_differences(q: Query, schema: str, truth: dict) -> list:
    expected = truth["aggregates"]["closed_won_by_month"]
    got = closed_won_by_month(q, schema)
    problems = [(month, v, got.get(month)) for month, v in expected.items()
                if got.get(month) is None or got[month][0] != v["count"]
                or abs(got[month][1] - v["amount"]) >= 0.005]
    problems += [(month, None, got[month]) for month in got if month not in expected]
    return problems


def stage_conversion(q: Query, schema: str) -> dict:
    out: dict = {}
    for y, m, stage, entered, reached, won in q(
            f'select cast(extract(year from cohort_month) as integer), '
            f'cast(extract(month from cohort_month) as integer), stage_name, entered, '
            f'reached_next, won from "{schema}".stage_conversion'):
        out.setdefault(f"{y:04d}-{m:02d}", {})[stage] = {
            "entered": int(entered), "reached_next": int(reached), "won": int(won)}
    return out


def cycle_times(q: Query, schema: str) -> dict:
    return {k: {"n": int(n), "mean": mean, "median": median, "p80": p80}
            for k, n, mean, median, p80 in q(
                f'select verifier_key, cycles, mean_days, median_days, p80_days '
                f'from "{schema}".verifier_cycle_time where quarter = \'all\' and segment = \'all\'')}


def cycle_time_differences(q: Query, schema: str, truth: dict, tolerance: float = 0.01) -> list:
    got = cycle_times(q, schema)
    problems = []
    for key, v in truth["aggregates"]["verifier_cycle_time"].items():
        g = got.get(key)
        if v["n"] == 0:
            if g is not None:
                problems.append((key, "truth has no cycles", g))
            continue
        if g is None or g["n"] != v["n"]:
            problems.append((key, v, g))
            continue
        for stat in ("mean", "median", "p80"):
            if abs(g[stat] - v[stat]) > tolerance * abs(v[stat]):
                problems.append((key, stat, v[stat], g[stat]))
    return problems


def status_mix_differences(q: Query, schema: str, truth: dict, tolerance: float = 0.01) -> list:
    mix = truth["aggregates"]["verifier_status_mix"]
    rows = q(f'select verifier_key, status, open_count, open_amount, open_total '
             f'from "{schema}".verifier_status_mix where snapshot_date = cast(\'{mix["as_of"]}\' as date)')
    got = {(k, s): (int(n), float(a), int(t)) for k, s, n, a, t in rows}
    problems = []
    totals = {t for _, _, t in got.values()}
    if totals != {mix["open_opportunities"]}:
        problems.append(("open_opportunities", mix["open_opportunities"], totals))
    for key, statuses in mix["by_verifier"].items():
        for status, v in statuses.items():
            n, amount, _ = got.get((key, status), (0, 0.0, 0))
            if abs(n - v["count"]) > tolerance * max(v["count"], 1) or \
                    abs(amount - v["amount"]) > tolerance * max(v["amount"], 1.0):
                problems.append((key, status, v, (n, amount)))
    return problems


def headline_numbers(q: Query, schema: str, as_of: str) -> dict:
    """A few headline numbers, to compare targets."""
    def one(sql: str) -> tuple:
        return q(sql)[0]

    pipeline_value, won, closed = one(
        f'select sum(case when not is_closed then amount else 0 end), '
        f'sum(case when is_won then 1 else 0 end), sum(case when is_closed then 1 else 0 end) '
        f'from "{schema}".fct_opportunity')
    weighted = one(f'select sum(verifier_weighted_pipeline) from "{schema}".opportunity_verifier_score '
                   f'where snapshot_date = cast(\'{as_of}\' as date)')[0]
    cycle = one(f'select sum(median_days * cycles) from "{schema}".verifier_cycle_time '
                f'where quarter = \'all\' and segment = \'all\'')[0]
    velocity = one(f'select sum(verifier_velocity) from "{schema}".verifier_velocity')[0]
    slip = one(f'select sum(pushed_out_amount), sum(end_amount) from "{schema}".pipeline_waterfall')
    counts = {t: one(f'select count(*) from "{schema}"."{t}"')[0] for t in (
        "fct_opportunity", "fct_opportunity_daily", "fct_stage_transition", "stage_conversion",
        "pipeline_waterfall", "pipeline_coverage", "fct_verifier_event", "fct_verifier_cycle",
        "verifier_cycle_time", "verifier_velocity", "verifier_status_mix",
        "opportunity_verifier_score")}
    return {"pipeline_value": float(pipeline_value), "win_rate": int(won) / int(closed),
            "verifier_weighted_pipeline": float(weighted), "cycle_days_weighted": float(cycle),
            "verifier_velocity": float(velocity), "pushed_out": float(slip[0]),
            "waterfall_end": float(slip[1]), "rows": {k: int(v) for k, v in counts.items()}}
