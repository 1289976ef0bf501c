"""Candidate lift (SPEC 7-8): per conditioned candidate, the lift over its unconditioned twin and
over the complement with paired day-block bootstrap CIs and p-values, and the promotion lift on
the discovery block with the holdout lift as its replication. Pure numpy/pandas; the dbt model
int_candidate_lift is a thin wrapper. Definitions and reasoning: docs/lift.md.

Determinism: one seeded generator per row (:mod:`lifthouse.research.bootstrap`), trades in a
canonical order (:mod:`lifthouse.research.lift_samples`): the same inputs give bit-identical
outputs whatever the input row order.
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager

import numpy as np
import pandas as pd

from lifthouse.research.bootstrap import bootstrap_p, day_draws, percentile_ci, row_rng
from lifthouse.research.lift_samples import (LiftParts, lift_draws, lift_parts, block_parts,
                                            mean_or_nan, traded_by_candidate)
from lifthouse.research.params import LiftParams
from lifthouse.research.plan import plan_frame

LIFT_COLUMNS = [
    "candidate_id", "twin_candidate_id", "event_type", "condition", "horizon_min",
    "direction_rule", "symbol_scope",
    "n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
    "mean_cond_bps", "mean_twin_bps", "mean_complement_bps",
    "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value",
    "lift_vs_complement_bps", "lift_vs_complement_ci_low", "lift_vs_complement_ci_high",
    "lift_vs_complement_p_value",
    # the promotion lift (SPEC 7): discovery block only, and the holdout lift as replication
    "n_cond_disc", "disc_lift_bps", "disc_lift_ci_low", "disc_lift_ci_high", "disc_lift_p_value",
    "n_cond_hold", "hold_lift_bps",
]
BLOCK_LIFT_INT_COLUMNS = ["n_cond_disc", "n_cond_hold"]


def _block_lift(key: str, parts: LiftParts, params: LiftParams) -> dict:
    """Lift of one block's trades (the promotion lift, SPEC 7): point estimate, and a paired
    day-block bootstrap CI / p-value with its own seeded draw (key = candidate | block)."""
    universe = np.unique(np.concatenate([parts.cond.day, parts.twin.day]))
    lift = mean_or_nan(parts.cond.net) - mean_or_nan(parts.twin.net)
    ci, p = (np.nan, np.nan), np.nan
    if len(parts.cond.net) and len(parts.twin.net) and params.n_boot > 0:
        w = day_draws(row_rng(key, params.bootstrap_seed), len(universe), params.n_boot)
        d_lift, _ = lift_draws(w, universe, parts)
        ok = np.isfinite(d_lift)
        if ok.sum() >= params.min_valid_share * params.n_boot:
            ci, p = percentile_ci(d_lift[ok], params.lift_alpha), bootstrap_p(d_lift[ok])
    return dict(n=len(parts.cond.net), lift=lift, ci_low=ci[0], ci_high=ci[1], p=p)


def _lift_row(row, by_cand: dict, params: LiftParams) -> dict:
    """The LIFT_COLUMNS of one conditioned candidate (a row of the plan frame)."""
    parts = lift_parts(row, by_cand)
    universe = np.unique(np.concatenate([parts.cond.day, parts.twin.day]))
    r = {c: getattr(row, c) for c in ("candidate_id", "twin_candidate_id", "event_type",
                                      "condition", "horizon_min", "direction_rule",
                                      "symbol_scope")}
    mc, mt, mx = mean_or_nan(parts.cond.net), mean_or_nan(parts.twin.net), mean_or_nan(parts.comp.net)
    r.update(n_cond=len(parts.cond.net), n_cond_days=len(np.unique(parts.cond.day)),
             n_twin=len(parts.twin.net), n_complement=len(parts.comp.net),
             n_boot_days=len(universe), mean_cond_bps=mc, mean_twin_bps=mt,
             mean_complement_bps=mx, lift_bps=mc - mt, lift_vs_complement_bps=mc - mx)
    lift_ci = comp_ci = (np.nan, np.nan)
    lift_p = comp_p = np.nan
    n_valid = 0
    if len(parts.cond.net) and len(parts.twin.net) and params.n_boot > 0:
        w = day_draws(row_rng(row.candidate_id, params.bootstrap_seed), len(universe),
                      params.n_boot)
        d_lift, d_comp = lift_draws(w, universe, parts)
        ok = np.isfinite(d_lift)
        n_valid = int(ok.sum())
        if n_valid >= params.min_valid_share * params.n_boot:
            lift_ci, lift_p = percentile_ci(d_lift[ok], params.lift_alpha), bootstrap_p(d_lift[ok])
        okc = np.isfinite(d_comp)
        if okc.sum() >= params.min_valid_share * params.n_boot:
            comp_ci, comp_p = percentile_ci(d_comp[okc], params.lift_alpha), bootstrap_p(d_comp[okc])
    r.update(n_boot_valid=n_valid, lift_ci_low=lift_ci[0], lift_ci_high=lift_ci[1],
             lift_p_value=lift_p, lift_vs_complement_ci_low=comp_ci[0],
             lift_vs_complement_ci_high=comp_ci[1], lift_vs_complement_p_value=comp_p)
    disc = _block_lift(f"{row.candidate_id}|discovery", block_parts(parts, "discovery"), params)
    hold = block_parts(parts, "holdout")
    r.update(n_cond_disc=disc["n"], disc_lift_bps=disc["lift"],
             disc_lift_ci_low=disc["ci_low"], disc_lift_ci_high=disc["ci_high"],
             disc_lift_p_value=disc["p"], n_cond_hold=len(hold.cond.net),
             hold_lift_bps=mean_or_nan(hold.cond.net) - mean_or_nan(hold.twin.net))
    return r


def _lift_rows(conditioned: pd.DataFrame, trades: pd.DataFrame, params: LiftParams) -> list[dict]:
    """The rows of ``conditioned`` (plan-frame rows), in order; run in a worker process."""
    by_cand = traded_by_candidate(trades)
    return [_lift_row(row, by_cand, params) for row in conditioned.itertuples(index=False)]


def candidate_lift(plan: pd.DataFrame, trades: pd.DataFrame, params: LiftParams = LiftParams(),
                   workers: int = 1) -> pd.DataFrame:
    """One row per conditioned candidate of the plan (columns LIFT_COLUMNS), sorted by
    candidate_id. ``lift_*`` / ``lift_vs_complement_*`` use traded trades of every block
    (discovery + embargo + holdout: the ablation's estimate); ``disc_lift_*`` the discovery
    block only (the promotion lift, SPEC 7) and ``hold_lift_bps`` the holdout block only (its
    replication, a point estimate).

    ``workers`` > 1 computes the rows in that many processes (a resource setting, not a
    parameter: every row has its own seeded generator and its own trades, so the output is
    bit-identical for any number of workers; grids under PARALLEL_MIN_ROWS stay in-process)."""
    p = plan_frame(plan)
    conditioned = p.loc[p["is_conditioned"]].reset_index(drop=True)
    if workers > 1 and len(conditioned) >= PARALLEL_MIN_ROWS:
        rows = _parallel_rows(conditioned, trades, params, workers)
    else:
        rows = _lift_rows(conditioned, trades, params)
    out = pd.DataFrame(rows, columns=LIFT_COLUMNS)
    for c in ("n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
              "horizon_min", *BLOCK_LIFT_INT_COLUMNS):
        out[c] = out[c].astype(np.int64)
    return out.reset_index(drop=True)


# below this many conditioned candidates, starting worker processes costs more than it saves.
# A spawned worker imports this module (numpy, pandas, pyarrow: ~0.5 s; scipy is imported only
# where the MDE needs it) and, but for _bare_main, dbt's CLI as well (2.7 s). Measured on the
# demo (960 rows, 4 runs each, noisy box): 4.7-5.7 s in one process, 4.0-4.7 s with 2 workers
# (11.9 s before both); at 20 x 365 (5,040 rows): 113 s in one process, 58-66 s with 2
# (docs/benchmarks.md)
PARALLEL_MIN_ROWS = 500


@contextmanager
def _bare_main():
    """While worker processes are spawned: an empty ``__main__``. A spawned process imports its
    parent's main module first; under dbt that is dbt's CLI (2.7 s per worker here), and the
    workers need only this module (imported by name when they unpickle ``_lift_rows``)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = main


def _parallel_rows(conditioned: pd.DataFrame, trades: pd.DataFrame, params: LiftParams,
                   workers: int) -> list[dict]:
    """_lift_rows over ``workers`` interleaved shares of the rows (row i to worker i % workers,
    which balances the grid's horizons and scopes), each with only the trades its rows read;
    reassembled in the original order."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ids = trades["candidate_id"].astype(str)
    shares = []
    for k in range(workers):
        part = conditioned.iloc[k::workers]
        needed = set(part["candidate_id"]) | set(part["twin_candidate_id"])
        shares.append((part, trades.loc[ids.isin(needed)]))
    # spawn, not fork: the caller (a dbt process) runs threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        with _bare_main():   # the workers start during the submits
            futures = [pool.submit(_lift_rows, part, share, params) for part, share in shares]
        results = [f.result() for f in futures]
    rows: list[dict] = [None] * len(conditioned)  # type: ignore[list-item]
    for k, share_rows in enumerate(results):
        rows[k::workers] = share_rows
    return rows
