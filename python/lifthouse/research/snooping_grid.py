"""The grid-level data-snooping tests of a run (docs/phase2.md, "Data snooping"): what the
models phase2_grid_tests (one row per scope) and phase2_candidate_results (psr, dsr,
min_trl_days, stepm_selected per candidate) report, from phase2_candidate_daily.

Scopes: ``all`` (every candidate of the plan) and ``event_type=<X>``. In each scope, on the
discovery block's days: SPA and StepM (studentized, stationary bootstrap), the effective number
of trials and the variance of the trials' daily Sharpe ratios (for the DSR); on the discovery
and holdout days together: the PBO by CSCV. The per-candidate columns are those of the ``all``
scope: its StepM (family-wise over the whole grid) and its DSR (deflated by the whole grid)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifthouse.research import snooping as sn
from lifthouse.research.daily import pnl_matrix

SCOPE_ALL = "all"

GRID_TEST_COLUMNS = [
    "scope", "k", "k_tested", "n_days", "best_candidate_id", "best_mean_bps", "spa_statistic",
    "spa_p_consistent", "spa_p_lower", "spa_p_upper", "stepm_n_selected", "stepm_selected_ids",
    "n_trials_effective", "var_sr", "sr0", "pbo", "prob_oos_loss", "pbo_slope", "pbo_n_splits",
    "pbo_n_days", "pbo_logit_histogram", "block_days", "reps", "alpha",
]
CANDIDATE_COLUMNS = ["candidate_id", "disc_sr_daily", "psr", "dsr", "min_trl_days",
                     "stepm_selected"]


@dataclass(frozen=True)
class SnoopParams:
    """The snooping vars of dbt_project.yml."""
    snoop_alpha: float = 0.05
    snoop_reps: int = 1000
    snoop_block_days: float = 2.0
    snoop_pbo_blocks: int = 16
    bootstrap_seed: int = 20250101


def scope_seed(seed: int, scope: str) -> int:
    """The bootstrap seed of one scope: the run's seed and the scope's name, hashed."""
    return int(hashlib.sha256(f"{int(seed)}|snooping|{scope}".encode()).hexdigest()[:15], 16)


def scopes(plan: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(scope, its candidate ids): 'all', then 'event_type=<X>' per event type, sorted."""
    ids = sorted(plan["candidate_id"].astype(str))
    out = [(SCOPE_ALL, ids)]
    for et, g in plan.groupby("event_type", sort=True):
        out.append((f"event_type={et}", sorted(g["candidate_id"].astype(str))))
    return out


def logit_histogram(logits: np.ndarray, width: float = 0.25) -> str:
    """The PBO logits as a histogram, JSON {"width": w, "bins": {left edge: count}} (the
    report's figure): bins of ``width`` on a grid anchored at 0, so logit 0 is an edge."""
    if logits.size == 0:
        return json.dumps({"width": width, "bins": {}})
    left = np.floor(logits / width) * width
    edges, counts = np.unique(np.round(left, 6), return_counts=True)
    return json.dumps({"width": width,
                       "bins": {f"{e:.2f}": int(c) for e, c in zip(edges, counts)}},
                      sort_keys=False)


@dataclass(frozen=True)
class Matrices:
    """The daily P&L of every candidate, built once: ``disc`` (discovery days x k) and
    ``both`` (discovery then holdout days x k), columns in ``ids`` order (sorted)."""
    ids: np.ndarray
    disc: np.ndarray
    both: np.ndarray

    @classmethod
    def of(cls, daily: pd.DataFrame, plan: pd.DataFrame,
           calendar: dict[str, np.ndarray] | None = None) -> "Matrices":
        """From phase2_candidate_daily (all of it, or only its non-zero rows with the block
        ``calendar``: see ``read_daily``)."""
        ids = np.asarray(sorted(plan["candidate_id"].astype(str)), dtype=object)
        disc, _, _ = pnl_matrix(daily, "discovery", ids, calendar)
        hold, _, _ = pnl_matrix(daily, "holdout", ids, calendar)
        return cls(ids, disc, np.vstack([disc, hold]))

    def columns(self, scope_ids: list[str]) -> np.ndarray:
        return pd.Index(self.ids).get_indexer(np.asarray(scope_ids, dtype=object))


def _scope_tests(scope: str, x: np.ndarray, p: SnoopParams
                 ) -> tuple[dict, sn.BootstrapTests]:
    """SPA, StepM, the effective number of trials, V[SR] and SR0 on one scope's discovery
    matrix ``x``."""
    boot = sn.bootstrap_tests(x, reps=p.snoop_reps, block_days=p.snoop_block_days,
                              seed=scope_seed(p.bootstrap_seed, scope), alpha=p.snoop_alpha)
    sr = sn.sharpe_moments(x)[0] if x.shape[0] else np.full(x.shape[1], np.nan)
    tested_sr = sr[np.isfinite(sr)]
    n_eff = sn.effective_trials(x) if x.shape[0] else 0.0
    var_sr = float(np.var(tested_sr, ddof=1)) if tested_sr.size > 1 else float("nan")
    sr0 = sn.expected_max_sharpe(n_eff, var_sr) if np.isfinite(var_sr) else float("nan")
    return dict(n_trials_effective=n_eff, var_sr=var_sr, sr0=sr0), boot


def _scope_pbo(x: np.ndarray, p: SnoopParams) -> dict:
    """PBO by CSCV on one scope's discovery + holdout matrix ``x`` (the candidates that trade)."""
    varying = x.std(axis=0) > 0 if x.shape[0] else np.zeros(x.shape[1], dtype=bool)
    s = int(p.snoop_pbo_blocks)
    if x.shape[0] >= s and int(varying.sum()) >= 2:
        res = sn.pbo_cscv(*sn.block_sums(x[:, varying], s))
        return dict(pbo=res.pbo, prob_oos_loss=res.prob_oos_loss, pbo_slope=res.slope,
                    pbo_n_splits=res.n_splits, pbo_logit_histogram=logit_histogram(res.logits))
    # fewer days than blocks, or fewer than two candidates that trade: no PBO
    return dict(pbo=np.nan, prob_oos_loss=np.nan, pbo_slope=np.nan, pbo_n_splits=0,
                pbo_logit_histogram=None)


def calendar_of(days: pd.DataFrame) -> dict[str, np.ndarray]:
    """{block: its days, sorted} from rows (block, day): the calendar of phase2_candidate_daily,
    so a model can read only its non-zero rows (a small fraction at scale)."""
    return {str(b): np.sort(pd.to_datetime(g["day"]).to_numpy(dtype="datetime64[us]"))
            for b, g in days.groupby("block", sort=True)}


def grid_tests(daily: pd.DataFrame, plan: pd.DataFrame, p: SnoopParams,
               calendar: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per scope (GRID_TEST_COLUMNS). ``daily``: phase2_candidate_daily, or its
    non-zero rows with ``calendar`` (``calendar_of``)."""
    m = Matrices.of(daily, plan, calendar)
    rows = []
    for scope, ids in scopes(plan):
        cols = m.columns(ids)
        x = m.disc[:, cols]
        stats, boot = _scope_tests(scope, x, p)
        names = np.asarray(ids, dtype=object)
        row = dict(scope=scope, k=len(ids), k_tested=boot.k_tested, n_days=int(x.shape[0]),
                   best_candidate_id=(str(names[boot.best_column])
                                      if boot.best_column is not None else None),
                   best_mean_bps=boot.best_mean, spa_statistic=boot.statistic,
                   spa_p_consistent=boot.spa_p_consistent, spa_p_lower=boot.spa_p_lower,
                   spa_p_upper=boot.spa_p_upper,
                   stepm_n_selected=int(boot.stepm_selected.sum()),
                   stepm_selected_ids=",".join(str(c) for c in names[boot.stepm_selected]),
                   **stats, **_scope_pbo(m.both[:, cols], p),
                   pbo_n_days=int(m.both.shape[0]), block_days=float(p.snoop_block_days),
                   reps=int(p.snoop_reps), alpha=float(p.snoop_alpha))
        rows.append(row)
    return pd.DataFrame(rows, columns=GRID_TEST_COLUMNS)


def candidate_snooping(daily: pd.DataFrame, plan: pd.DataFrame, p: SnoopParams,
                       calendar: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Per candidate (CANDIDATE_COLUMNS), from the ``all`` scope: the daily Sharpe ratio of its
    discovery series, PSR against 0, DSR (deflated by the grid's effective number of trials and
    the variance of its trials' Sharpe ratios), the minimum track record length in days at 95%
    against 0, and whether StepM selects it (family-wise error over the whole grid: the same
    resamples as phase2_grid_tests' ``all`` row)."""
    m = Matrices.of(daily, plan, calendar)
    ids = list(m.ids)
    x = m.disc
    if x.shape[0] == 0:
        nan = np.full(len(ids), np.nan)
        return pd.DataFrame({"candidate_id": ids, "disc_sr_daily": nan, "psr": nan, "dsr": nan,
                             "min_trl_days": nan, "stepm_selected": False})[CANDIDATE_COLUMNS]
    stats, boot = _scope_tests(SCOPE_ALL, x, p)
    sr, skew, kurt, n = sn.sharpe_moments(x)
    n_eff, var_sr = stats["n_trials_effective"], stats["var_sr"]
    dsr = (sn.dsr(sr, n, skew, kurt, n_eff, var_sr) if np.isfinite(var_sr)
           else np.full(len(ids), np.nan))
    return pd.DataFrame({
        "candidate_id": ids, "disc_sr_daily": sr, "psr": sn.psr(sr, n, skew, kurt),
        "dsr": dsr, "min_trl_days": sn.min_trl(sr, skew, kurt),
        "stepm_selected": boot.stepm_selected,
    })[CANDIDATE_COLUMNS]
