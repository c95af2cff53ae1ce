"""Pipeline forecast for the current and the next quarter, from the open opportunities' win
probabilities: expected bookings sum(amount * p), variance sum(amount^2 * p (1 - p)) (deals
independent), and P10 / P90 of the bookings by Monte Carlo (seeded). One row per quarter and
win-probability method; `is_primary` marks the method with the best Brier score.

A deal counts in the quarter of its CRM close date; a close date already past (the deal is
still open) counts in the current quarter. Deals closing after the next quarter are left out.
`closed_won_to_date` is what the quarter has already booked (current quarter only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data import MartData
from forecasting.models import SEED

N_SIMS = 10_000
CHUNK = 1_000


def _quantiles(amount: np.ndarray, p: np.ndarray, seed: int) -> tuple[float, float]:
    if len(amount) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    totals = []
    for _ in range(N_SIMS // CHUNK):
        wins = rng.random((CHUNK, len(p))) < p
        totals.append(wins @ amount)
    totals = np.concatenate(totals)
    return float(np.quantile(totals, 0.1)), float(np.quantile(totals, 0.9))


def pipeline_forecast(data: MartData, win: pd.DataFrame, scores: pd.DataFrame,
                      run_id: str) -> pd.DataFrame:
    """`win`: opportunity_win_probability rows (open deals at the as-of date)."""
    as_of = data.as_of
    q0 = as_of.to_period("Q")
    quarters = [q0, q0 + 1]
    primary = scores.loc[scores["is_best"], "method"].iloc[0] if len(scores) and \
        scores["is_best"].any() else "stage"
    close = pd.to_datetime(win["close_date"]).fillna(as_of)
    q = close.where(close >= as_of.normalize(), as_of).dt.to_period("Q")
    opps = data.opportunities
    won = opps[opps["is_won"] & opps["close_date"].notna()]
    rows = []
    for k, quarter in enumerate(quarters):
        sel = win[(q == quarter).to_numpy()]
        amount = sel["amount"].fillna(0.0).to_numpy(dtype=float)
        booked = 0.0
        if k == 0:
            in_q = (won["close_date"] >= quarter.start_time) & (won["close_date"] <= as_of)
            booked = float(won.loc[in_q, "amount"].sum())
        for j, method in enumerate(("stage", "verifier", "markov")):
            p = np.clip(sel[f"p_{method}"].fillna(0.0).to_numpy(dtype=float), 0.0, 1.0)
            p10, p90 = _quantiles(amount, p, SEED + 97 * k + j)
            rows.append({
                "quarter_start": quarter.start_time.date(),
                "quarter_end": quarter.end_time.date(),
                "method": method, "is_primary": method == primary,
                "n_open": len(sel), "open_amount": float(amount.sum()),
                "expected": float(np.sum(amount * p)),
                "variance": float(np.sum(amount ** 2 * p * (1 - p))),
                "p10": p10, "p90": p90, "closed_won_to_date": booked})
    out = pd.DataFrame(rows)
    out["std"] = np.sqrt(out["variance"])
    out.insert(0, "as_of_date", as_of.date())
    out.insert(0, "run_id", run_id)
    return out
