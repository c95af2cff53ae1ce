"""Win probability per open opportunity, three ways, each scored by its Brier score.

- `p_stage` (the classic view): historical stage conversion. Of the closed deals of the same
  type that were ever in the deal's current stage, the share that was won (smoothed toward the
  type's win rate with 5 pseudo-deals; stages never seen fall back to all types, then the base
  rate).
- `p_verifier`: a calibrated logistic regression on the verifier vector: per catalogue
  verifier, verified / in flight (started, not verified) at the snapshot, the number of buying
  jobs revisited, and an intercept per opportunity type. L2-penalised maximum likelihood
  (scipy), so its probabilities are calibrated on the outcomes it was fitted to (the score
  table shows mean p next to the observed win rate).
- `p_markov`: an absorbing Markov chain per opportunity type over (stage x verifier bucket)
  states (4 equal-width buckets of the verifier score, as the marts use), daily steps,
  absorbing in Won and Lost, estimated from the daily snapshots (types
  with few transitions borrow from the pooled chain with 20 pseudo-transitions per state).
  p = the probability of absorption in Won from the deal's state; the expected days to close
  = the expected steps to absorption (fundamental matrix N = (I - Q)^-1: B = N R, t = N 1).

Scoring is honest: a time split at `as_of - EVAL_MONTHS`. Every method is fitted on what was
known at the cut-off (deals closed before it; chain transitions before it) and scored on weekly
snapshots, from the cut-off to `as_of - OUTCOME_DAYS`, of deals open at the snapshot that
closed by the as-of date (each snapshot weighs the same: it is one deal of the open pipeline on
that date). Stopping
`OUTCOME_DAYS` before the as-of date (and learning only from snapshots that long before the
cut-off) keeps the deals that take longest, mostly wins, from being cut off the scored sample.
The published probabilities are refitted on everything known at the as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from forecasting.data import MartData

EVAL_MONTHS = 9
OUTCOME_DAYS = 120  # a snapshot is scored (or learnt from) only if its deal had this long to close
SNAPSHOT_DAYS = 7
N_BUCKETS = 4
STAGE_PRIOR = 5.0
CHAIN_PRIOR = 20.0
L2 = 1.0
METHODS = ("stage", "verifier", "markov")
WON, LOST = "__won__", "__lost__"


@dataclass
class WinProbResult:
    opportunities: pd.DataFrame  # opportunity_win_probability
    scores: pd.DataFrame  # win_probability_score
    eval_rows: pd.DataFrame  # the scored snapshots (for tests and audits)


# ---- states ------------------------------------------------------------------------------

def bucket(score) -> np.ndarray:
    s = np.nan_to_num(np.asarray(score, dtype=float))
    return np.clip(np.floor(s * N_BUCKETS), 0, N_BUCKETS - 1).astype(int)


def closed_on(daily: pd.DataFrame, opps: pd.DataFrame) -> pd.Series:
    """The day each closed opportunity closed (its first day not open), by opportunity id."""
    closed = daily[~daily["is_open"]].groupby("opportunity_id")["snapshot_date"].min()
    fallback = opps.loc[opps["is_closed"]].set_index("opportunity_id")["close_date"]
    return closed.combine_first(fallback)


def snapshots(data: MartData, dates: list[pd.Timestamp]) -> pd.DataFrame:
    """The state of every opportunity open on each of `dates`: stage, amount, close date,
    verifier score and bucket, the verifier vector (verified_<key>, inflight_<key>), buying jobs
    revisited, type and outcome."""
    daily = data.daily
    rows = daily[daily["is_open"] & daily["snapshot_date"].isin(pd.DatetimeIndex(dates))]
    rows = rows.merge(data.opportunities[["opportunity_id", "opportunity_type", "is_closed",
                                          "is_won", "created_at"]]
                      .rename(columns={"is_won": "won", "is_closed": "closed"}),
                      on="opportunity_id", how="inner")
    rows = rows.assign(bucket=bucket(rows["verifier_score"]))
    return _with_verifier_vector(rows, data.events, data.verifiers).reset_index(drop=True)


def _with_verifier_vector(rows: pd.DataFrame, events: pd.DataFrame,
                          verifiers: list[str]) -> pd.DataFrame:
    """Each verifier's latest status at the snapshot date (as-of join on the event dates)."""
    out = rows.copy()
    for key in verifiers:
        out[f"verified_{key}"] = 0.0
        out[f"inflight_{key}"] = 0.0
    out["revisited"] = 0.0
    if rows.empty or events.empty:
        return out
    ev = events.sort_values(["event_date", "opportunity_id", "verifier_key", "event_sequence"])
    left = out[["opportunity_id", "snapshot_date"]].reset_index().sort_values("snapshot_date")
    for key in verifiers:
        e = ev[ev["verifier_key"] == key][["opportunity_id", "event_date", "status"]]
        if e.empty:
            continue
        m = pd.merge_asof(left, e, left_on="snapshot_date", right_on="event_date",
                          by="opportunity_id", direction="backward")
        status = m.set_index("index")["status"].reindex(out.index)
        out[f"verified_{key}"] = (status == "verified").astype(float).to_numpy()
        out[f"inflight_{key}"] = status.isin(["started", "regressed"]).astype(float).to_numpy()
    reg = ev[ev["status"] == "regressed"][["opportunity_id", "event_date"]].copy()
    if len(reg):
        reg["n"] = reg.groupby("opportunity_id").cumcount() + 1
        m = pd.merge_asof(left, reg, left_on="snapshot_date", right_on="event_date",
                          by="opportunity_id", direction="backward")
        out["revisited"] = m.set_index("index")["n"].reindex(out.index).fillna(0).to_numpy()
    return out


def weekly_dates(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Every SNAPSHOT_DAYS days back from `end` (inclusive) to `start`."""
    out, d = [], pd.Timestamp(end)
    while d >= start:
        out.append(d)
        d -= pd.Timedelta(days=SNAPSHOT_DAYS)
    return sorted(out)


# ---- method 1: stage conversion ----------------------------------------------------------

@dataclass
class StageModel:
    by_type_stage: dict
    by_stage: dict
    by_type: dict
    base: float

    def predict(self, types, stages) -> np.ndarray:
        out = []
        for t, s in zip(types, stages):
            p = self.by_type_stage.get((t, s))
            if p is None:
                p = self.by_stage.get(s, self.by_type.get(t, self.base))
            out.append(p)
        return np.asarray(out, dtype=float)


def fit_stage(daily: pd.DataFrame, outcomes: pd.DataFrame) -> StageModel:
    """`outcomes`: opportunity_id, opportunity_type, won for the closed deals to learn from;
    `daily`: their open days (stage per day)."""
    if outcomes.empty:
        return StageModel({}, {}, {}, 0.5)
    base = float(outcomes["won"].mean())
    by_type_rate = outcomes.groupby("opportunity_type")["won"].agg(["sum", "count"])
    by_type = {t: float((r["sum"] + STAGE_PRIOR * base) / (r["count"] + STAGE_PRIOR))
               for t, r in by_type_rate.iterrows()}
    visited = daily[daily["is_open"]][["opportunity_id", "stage_name"]].drop_duplicates()
    visited = visited.merge(outcomes, on="opportunity_id", how="inner")
    pooled = visited.groupby("stage_name")["won"].agg(["sum", "count"])
    by_stage = {s: float((r["sum"] + STAGE_PRIOR * base) / (r["count"] + STAGE_PRIOR))
                for s, r in pooled.iterrows()}
    typed = visited.groupby(["opportunity_type", "stage_name"])["won"].agg(["sum", "count"])
    by_type_stage = {}
    for (t, s), r in typed.iterrows():
        prior = by_type.get(t, base)
        by_type_stage[(t, s)] = float((r["sum"] + STAGE_PRIOR * prior) / (r["count"] + STAGE_PRIOR))
    return StageModel(by_type_stage, by_stage, by_type, base)


# ---- method 2: logistic regression on the verifier vector ---------------------------------

@dataclass
class VerifierModel:
    columns: list[str]
    types: list[str]
    coef: np.ndarray

    def design(self, rows: pd.DataFrame) -> np.ndarray:
        x = [rows[c].to_numpy(dtype=float) if c in rows else np.zeros(len(rows))
             for c in self.columns]
        t = [(rows["opportunity_type"] == typ).to_numpy(dtype=float) for typ in self.types]
        return np.column_stack([np.ones(len(rows)), *t, *x]) if len(rows) else \
            np.zeros((0, 1 + len(self.types) + len(self.columns)))

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return _sigmoid(self.design(rows) @ self.coef)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def verifier_columns(verifiers: list[str]) -> list[str]:
    return [f"verified_{k}" for k in verifiers] + [f"inflight_{k}" for k in verifiers] + \
        ["revisited"]


def fit_verifier(rows: pd.DataFrame, verifiers: list[str], weights: np.ndarray | None = None
                 ) -> VerifierModel:
    types = sorted(rows["opportunity_type"].unique())[1:] if len(rows) else []
    model = VerifierModel(verifier_columns(verifiers), types, np.array([]))
    X = model.design(rows)
    y = rows["won"].to_numpy(dtype=float) if len(rows) else np.zeros(0)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum() * len(w) if len(w) and w.sum() > 0 else w
    penalty = np.full(X.shape[1], L2)
    penalty[0] = 0.0  # no penalty on the intercept

    def loss(beta):
        z = X @ beta
        ll = np.sum(w * (np.logaddexp(0.0, z) - y * z))
        grad = X.T @ (w * (_sigmoid(z) - y)) + penalty * beta
        return ll + 0.5 * float(np.sum(penalty * beta ** 2)), grad

    beta0 = np.zeros(X.shape[1])
    if len(y) and 0 < y.mean() < 1:
        beta0[0] = np.log(y.mean() / (1 - y.mean()))
    if len(y) == 0:
        model.coef = beta0
        return model
    res = minimize(loss, beta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    model.coef = res.x
    return model


# ---- method 3: absorbing Markov chain ------------------------------------------------------

@dataclass
class ChainModel:
    stages: list[str]
    chains: dict  # type -> (states, B_won, t_days); "__all__" pooled

    def predict(self, types, stages, buckets) -> tuple[np.ndarray, np.ndarray]:
        p, t = [], []
        for typ, s, b in zip(types, stages, buckets):
            state = state_key(s, b)
            states, won, days = self.chains.get(typ, self.chains["__all__"])
            i = states.get(state)
            if i is None:
                states, won, days = self.chains["__all__"]
                i = states.get(state)
            p.append(won[i] if i is not None else np.nan)
            t.append(days[i] if i is not None else np.nan)
        return np.asarray(p, dtype=float), np.asarray(t, dtype=float)


def state_key(stage: str, verifier_bucket) -> str:
    return f"{stage}|{int(verifier_bucket)}"


def transitions(daily: pd.DataFrame, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Day-to-day moves between (stage, verifier bucket) states and into Won / Lost, for moves
    completed before `before` (so nothing after a cut-off leaks in)."""
    d = daily.sort_values(["opportunity_id", "snapshot_date"], kind="stable")
    nxt = d.groupby("opportunity_id", sort=False).shift(-1)
    frm = d[d["is_open"]].copy()
    frm["to_open"] = nxt.loc[frm.index, "is_open"]
    frm["to_won"] = nxt.loc[frm.index, "is_won"]
    frm["to_stage"] = nxt.loc[frm.index, "stage_name"]
    frm["to_bucket"] = bucket(nxt.loc[frm.index, "verifier_score"].fillna(0))
    frm["to_date"] = nxt.loc[frm.index, "snapshot_date"]
    frm = frm[frm["to_date"].notna()]
    if before is not None:
        frm = frm[frm["to_date"] < before]
    to_open = frm["to_open"].astype(bool).to_numpy()
    to_won = frm["to_won"].astype(bool).to_numpy()
    frm["to"] = [state_key(s, b) if o else (WON if w else LOST) for o, w, s, b in
                 zip(to_open, to_won, frm["to_stage"], frm["to_bucket"])]
    frm["from"] = [state_key(s, b) for s, b in
                   zip(frm["stage_name"], bucket(frm["verifier_score"]))]
    return frm[["opportunity_id", "from", "to"]]


def _absorb(counts: dict, states: list, prior: dict | None) -> tuple[dict, np.ndarray,
                                                                       np.ndarray]:
    """Absorption probability in Won and expected steps to absorption for every state."""
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    P = np.zeros((n, n + 2))  # transient ... won, lost
    for (a, b), c in counts.items():
        j = n if b == WON else n + 1 if b == LOST else index[b]
        P[index[a], j] += c
    if prior is not None:
        P = P + CHAIN_PRIOR * prior
    rows = P.sum(axis=1, keepdims=True)
    stuck = P[:, :n].diagonal() >= rows[:, 0]  # never left (or never seen): no evidence
    P = np.divide(P, rows, out=np.zeros_like(P), where=rows > 0)
    # for solving, a stuck state absorbs at once; its own probabilities are unknown (NaN)
    P[stuck] = 0.0
    P[stuck, n + 1] = 1.0
    Q, R = P[:, :n], P[:, n:]
    try:
        N = np.linalg.solve(np.eye(n) - Q, np.eye(n))
    except np.linalg.LinAlgError:  # states that only lead into each other: no absorption
        N = np.linalg.pinv(np.eye(n) - Q)
    B = np.clip(N @ R, 0.0, 1.0)
    t = N @ np.ones(n)
    won, days = B[:, 0].copy(), t.copy()
    won[stuck] = np.nan
    days[stuck | ~np.isfinite(days) | (days > 3650)] = np.nan
    return index, won, days


def fit_chain(moves: pd.DataFrame, types: pd.Series, stages: list[str]) -> ChainModel:
    """One chain per opportunity type, shrunk toward the pooled chain."""
    states = sorted(set(moves["from"]) | (set(moves["to"]) - {WON, LOST}))
    if not states:
        states = [state_key(s, b) for s in stages for b in range(N_BUCKETS)]
    moves = moves.assign(opportunity_type=moves["opportunity_id"].map(types).fillna("Unknown"))
    pooled_counts = moves.groupby(["from", "to"]).size().to_dict()
    idx, won, days = _absorb(pooled_counts, states, None)
    n = len(states)
    # pooled transition probabilities as the prior of each typed chain
    P = np.zeros((n, n + 2))
    for (a, b), c in pooled_counts.items():
        P[idx[a], n if b == WON else n + 1 if b == LOST else idx[b]] += c
    rs = P.sum(axis=1, keepdims=True)
    prior = np.divide(P, rs, out=np.zeros_like(P), where=rs > 0)
    chains = {"__all__": (idx, won, days)}
    for typ, g in moves.groupby("opportunity_type"):
        counts = g.groupby(["from", "to"]).size().to_dict()
        chains[typ] = _absorb(counts, states, prior)
    return ChainModel(stages, chains)


# ---- scoring and the published table -------------------------------------------------------

def brier(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * (p - y) ** 2) / np.sum(w))


def _snapshot_weights(rows: pd.DataFrame) -> np.ndarray:
    """Every snapshot weighs the same: the open pipeline on a date is a set of snapshots, in
    which a deal that stays open longer is met more often (weighting deals equally instead
    would over-represent the quick, mostly lost, deals)."""
    return np.ones(len(rows))


def _predict_all(rows: pd.DataFrame, stage: StageModel, verifier: VerifierModel,
                 chain: ChainModel) -> pd.DataFrame:
    out = rows.copy()
    out["p_stage"] = stage.predict(rows["opportunity_type"], rows["stage_name"])
    out["p_verifier"] = verifier.predict(rows)
    p, t = chain.predict(rows["opportunity_type"], rows["stage_name"], rows["bucket"])
    # a state the chain never saw: its stage-conversion probability, no time estimate
    out["p_markov"] = np.where(np.isnan(p), out["p_stage"], p)
    out["expected_days_to_close"] = t
    return out


def _fit_all(data: MartData, cutoff: pd.Timestamp, closed: pd.Series):
    """The three methods, fitted on what was known just before `cutoff`."""
    opps = data.opportunities
    done = closed[closed < cutoff]
    outcomes = opps[opps["opportunity_id"].isin(done.index)][
        ["opportunity_id", "opportunity_type", "is_won"]].rename(columns={"is_won": "won"})
    daily_known = data.daily[data.daily["snapshot_date"] < cutoff]
    stage = fit_stage(daily_known, outcomes)
    train_dates = weekly_dates(data.daily["snapshot_date"].min(),
                               cutoff - pd.Timedelta(days=OUTCOME_DAYS))
    train = snapshots(data, train_dates)
    train = train[train["opportunity_id"].isin(done.index)]
    verifier = fit_verifier(train, data.verifiers, _snapshot_weights(train))
    types = opps.set_index("opportunity_id")["opportunity_type"]
    stages = sorted(data.daily.loc[data.daily["is_open"], "stage_name"].dropna().unique())
    chain = fit_chain(transitions(data.daily, before=cutoff), types, stages)
    return stage, verifier, chain


def win_probabilities(data: MartData, run_id: str) -> WinProbResult:
    as_of = data.as_of
    opps = data.opportunities
    closed = closed_on(data.daily, opps)
    cutoff = as_of - pd.DateOffset(months=EVAL_MONTHS)
    scores, eval_rows = [], pd.DataFrame()
    if len(data.daily):
        models = _fit_all(data, cutoff, closed)
        rows = snapshots(data, weekly_dates(cutoff, as_of - pd.Timedelta(days=OUTCOME_DAYS)))
        rows = rows[rows["closed"] & rows["opportunity_id"].isin(closed.index[closed <= as_of])]
        if len(rows):
            eval_rows = _predict_all(rows, *models)
            y = eval_rows["won"].to_numpy(dtype=float)
            w = _snapshot_weights(eval_rows)
            base = float(np.sum(w * y) / np.sum(w))
            ref = brier(np.full(len(y), base), y, w)
            for method in METHODS:
                p = np.clip(eval_rows[f"p_{method}"].to_numpy(dtype=float), 1e-6, 1 - 1e-6)
                b = brier(p, y, w)
                scores.append({
                    "method": method, "brier": b,
                    "brier_skill": 1 - b / ref if ref > 0 else np.nan,
                    "log_loss": float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p)))
                                      / np.sum(w)),
                    "mean_p": float(np.sum(w * p) / np.sum(w)), "observed_rate": base,
                    "n_deals": int(eval_rows["opportunity_id"].nunique()),
                    "n_snapshots": len(eval_rows)})
    score = pd.DataFrame(scores, columns=["method", "brier", "brier_skill", "log_loss", "mean_p",
                                          "observed_rate", "n_deals", "n_snapshots"])
    score["train_cutoff"] = cutoff.date()
    score["eval_last_snapshot"] = (as_of - pd.Timedelta(days=OUTCOME_DAYS)).date()
    score["outcomes_until"] = as_of.date()
    best = score.sort_values("brier").iloc[0]["method"] if len(score) else "stage"
    score["is_best"] = score["method"] == best

    # published: refit on everything known at the as-of date, score today's open deals
    current = snapshots(data, [as_of])
    if len(current) and len(data.daily):
        models = _fit_all(data, as_of + pd.Timedelta(days=1), closed)
        current = _predict_all(current, *models)
    else:
        current = current.assign(p_stage=np.nan, p_verifier=np.nan, p_markov=np.nan,
                                 expected_days_to_close=np.nan)
    days = current["expected_days_to_close"]
    table = pd.DataFrame({
        "opportunity_id": current["opportunity_id"],
        "opportunity_type": current["opportunity_type"],
        "stage_name": current["stage_name"],
        "verifier_score": current["verifier_score"].astype(float),
        "verifier_bucket": current["bucket"].astype("int64"),
        "amount": current["amount"].astype(float),
        "close_date": pd.to_datetime(current["close_date"]).dt.date,
        "p_stage": current["p_stage"].astype(float),
        "p_verifier": current["p_verifier"].astype(float),
        "p_markov": current["p_markov"].astype(float),
        "p_win": current[f"p_{best}"].astype(float),
        "p_win_method": best,
        "expected_days_to_close": days.astype(float).round(1),
        "expected_close_date": [(as_of + pd.Timedelta(days=float(d))).date()
                                if np.isfinite(d) else None for d in days],
    })
    table.insert(0, "as_of_date", as_of.date())
    table.insert(0, "run_id", run_id)
    score.insert(0, "as_of_date", as_of.date())
    score.insert(0, "run_id", run_id)
    return WinProbResult(table.sort_values("opportunity_id").reset_index(drop=True), score,
                         eval_rows)
