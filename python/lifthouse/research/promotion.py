"""Promotion gates, the fallback rule and the fallback promotion rate (SPEC 7): the one home of
fallback, its status (:func:`apply_gates`) and its rate (:func:`fallback_rates`). Pure pandas.

Gates, evaluated in this order (the first failing one is the ``status_reason``):

1. ``gate_min_n``     discovery n >= phase2_min_trades  else ``insufficient_data`` / ``min_n``
2. ``gate_mean_pos``  discovery mean net bps > 0         else ``rejected`` / ``mean<=0``
3. ``gate_q``         q (phase2_q_column) <= phase2_q_max  else ``rejected`` / ``q>{phase2_q_max}``
4. ``gate_holdout``   holdout mean net bps > 0           else ``rejected`` / ``holdout<=0``
   (no holdout trades -> fails with ``holdout n=0``)

``passes_gates`` = all four. Then per candidate (the lift of SPEC 7-8, int_candidate_lift):

* conditioned, passes gates, ``disc_lift_ci_low > 0`` (the lift CI on the DISCOVERY block, so
  the holdout decides only once, through its replication gates) and
  ``hold_lift_bps > phase2_holdout_lift_min_bps`` (the holdout lift, replication)
  -> ``promoted`` (``passes gates; discovery lift CI > 0; holdout lift > {min}``)
* conditioned, passes gates, discovery lift CI not above 0 or missing -> ``rejected`` /
  ``lift_ci``; discovery lift CI above 0 but holdout lift not above the gate (or undefined) ->
  ``rejected`` / ``holdout_lift<={min}``
* unconditioned, passes gates, no conditioned variant of its family promoted -> ``fallback``
* unconditioned, passes gates, a conditioned variant promoted -> ``rejected`` /
  ``superseded by conditioned variant``: the family is already promoted through its conditioned
  rule, so the twin is not counted as a second promotion. Hence
  fallback rate = fallback / (promoted + fallback) counts each family at most once on the
  fallback side, and a family with a promoted conditioned rule never counts as a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

STATUSES = ("promoted", "fallback", "rejected", "insufficient_data")


@dataclass(frozen=True)
class Gates:
    """The promotion vars of dbt_project.yml (SPEC 7)."""
    phase2_min_trades: int = 30
    phase2_q_max: float = 0.10
    phase2_q_column: str = "q_bh"  # or "q_by" for the conservative view
    phase2_holdout_lift_min_bps: float = 0.0  # replication: holdout lift must exceed this
    phase2_gate_snooping: bool = False  # promotion (and fallback) also needs stepm_selected


def _fmt(x: float) -> str:
    return f"{x:g}"


def apply_gates(results: pd.DataFrame, gates: Gates) -> pd.DataFrame:
    """Add gate_min_n, gate_mean_pos, gate_q, gate_holdout, passes_gates, status, status_reason.

    results needs: candidate_id, family_id, is_conditioned, disc_n, disc_mean_bps, hold_n,
    hold_mean_bps, the q column (gates.phase2_q_column), disc_lift_ci_low and hold_lift_bps (NaN when
    unknown)."""
    r = results.copy()
    disc_n = r["disc_n"].fillna(0).to_numpy(dtype=float)
    disc_mean = r["disc_mean_bps"].to_numpy(dtype=float)
    q = r[gates.phase2_q_column].to_numpy(dtype=float)
    hold_n = r["hold_n"].fillna(0).to_numpy(dtype=float)
    hold_mean = r["hold_mean_bps"].to_numpy(dtype=float)
    lift_lo = r["disc_lift_ci_low"].to_numpy(dtype=float)
    hold_lift = r["hold_lift_bps"].to_numpy(dtype=float)
    cond = r["is_conditioned"].fillna(False).to_numpy(dtype=bool)
    # the snooping gate: StepM over the whole grid selects the candidate (phase2_grid_tests)
    stepm = (r["stepm_selected"].fillna(False).to_numpy(dtype=bool)
             if "stepm_selected" in r.columns else np.zeros(len(r), dtype=bool))
    g_snoop = stepm if gates.phase2_gate_snooping else np.ones(len(r), dtype=bool)

    g_n = disc_n >= gates.phase2_min_trades
    with np.errstate(invalid="ignore"):
        g_mean = np.nan_to_num(disc_mean, nan=-np.inf) > 0
        g_q = np.nan_to_num(q, nan=np.inf) <= gates.phase2_q_max
        g_hold = (hold_n > 0) & (np.nan_to_num(hold_mean, nan=-np.inf) > 0)
        g_lift = np.nan_to_num(lift_lo, nan=-np.inf) > 0
        g_hold_lift = np.nan_to_num(hold_lift, nan=-np.inf) > gates.phase2_holdout_lift_min_bps
    passes = g_n & g_mean & g_q & g_hold

    status = np.full(len(r), "rejected", dtype=object)
    reason = np.full(len(r), "", dtype=object)
    reason[~g_hold] = np.where(hold_n[~g_hold] > 0, "holdout<=0", "holdout n=0")
    reason[~g_q] = f"q>{_fmt(gates.phase2_q_max)}"
    reason[~g_mean] = "mean<=0"
    reason[~g_n] = "min_n"
    status[~g_n] = "insufficient_data"

    min_hold = _fmt(gates.phase2_holdout_lift_min_bps)
    promoted = passes & cond & g_lift & g_hold_lift & g_snoop
    status[promoted] = "promoted"
    reason[promoted] = f"passes gates; discovery lift CI > 0; holdout lift > {min_hold}"
    reason[passes & cond & g_lift & g_hold_lift & ~g_snoop] = "not selected by StepM"
    reason[passes & cond & g_lift & ~g_hold_lift] = f"holdout_lift<={min_hold}"
    lift_fail = passes & cond & ~g_lift
    reason[lift_fail] = np.where(np.isnan(lift_lo[lift_fail]), "lift_ci (no lift row)",
                                 "lift_ci")

    fam = r["family_id"].to_numpy(dtype=object)
    fam_with_promotion = set(fam[promoted].tolist())
    twin_pass = passes & ~cond
    superseded = twin_pass & np.isin(fam, list(fam_with_promotion))
    fallback = twin_pass & ~superseded & g_snoop
    status[fallback] = "fallback"
    reason[fallback] = "passes gates; no conditioned variant promoted"
    reason[twin_pass & ~superseded & ~g_snoop] = "not selected by StepM"
    reason[superseded] = "superseded by conditioned variant"

    r["gate_min_n"] = g_n
    r["gate_mean_pos"] = g_mean
    r["gate_q"] = g_q
    r["gate_holdout"] = g_hold
    r["passes_gates"] = passes
    r["status"] = status
    r["status_reason"] = reason
    return r


LIFT_COLUMNS = ("lift_bps", "lift_ci_low", "lift_ci_high", "disc_lift_bps", "disc_lift_ci_low",
                "disc_lift_ci_high", "hold_lift_bps")


def build_candidate_results(plan: pd.DataFrame, stats: pd.DataFrame, lift: pd.DataFrame | None,
                            gates: Gates) -> pd.DataFrame:
    """Plan columns + statistics (``stats.candidate_statistics``) + lift columns (from
    int_candidate_lift; NaN for unconditioned candidates and missing rows) + gates and status."""
    r = plan.merge(stats, on="candidate_id", how="left", validate="one_to_one")
    if lift is not None and len(lift):
        lift_cols = ["candidate_id", *[c for c in LIFT_COLUMNS if c in lift.columns]]
        r = r.merge(lift[lift_cols], on="candidate_id", how="left", validate="one_to_one")
    for c in LIFT_COLUMNS:
        if c not in r.columns:
            r[c] = np.nan
        r[c] = r[c].astype(float)
    return apply_gates(r, gates)


FALLBACK_COLUMNS = ["scope", "n_promoted", "n_fallback", "n_promotions", "fallback_rate",
                    "n_families", "n_families_promoted", "n_families_fallback",
                    "fallback_rate_families", "detail"]


def fallback_rates(results: pd.DataFrame) -> pd.DataFrame:
    """fallback promotions / all promotions (promoted + fallback), by candidates and by
    families, overall ('all') and per event type ('event_type=<X>'). NaN with a reason when
    there are no promotions."""
    r = results.copy()
    r["status"] = r["status"].astype(str)
    scopes = [("all", r)] + [(f"event_type={et}", g)
                             for et, g in r.groupby("event_type", sort=True)]
    rows = []
    for scope, g in scopes:
        n_prom = int((g["status"] == "promoted").sum())
        n_fb = int((g["status"] == "fallback").sum())
        fam = g.groupby("family_id", sort=True)["status"]
        fam_prom = int(fam.apply(lambda s: (s == "promoted").any()).sum())
        fam_fb = int(fam.apply(lambda s: (s == "fallback").any() and not (s == "promoted").any()
                               ).sum())
        n = n_prom + n_fb
        rows.append(dict(
            scope=scope, n_promoted=n_prom, n_fallback=n_fb, n_promotions=n,
            fallback_rate=(n_fb / n) if n else np.nan, n_families=int(g["family_id"].nunique()),
            n_families_promoted=fam_prom, n_families_fallback=fam_fb,
            fallback_rate_families=(fam_fb / (fam_prom + fam_fb)) if (fam_prom + fam_fb) else np.nan,
            detail=("n/a: no promotions at all" if n == 0 else
                    f"{n_fb} fallback of {n} promotions; {fam_fb} of {fam_prom + fam_fb} "
                    f"promoted families by fallback"),
        ))
    return pd.DataFrame(rows, columns=FALLBACK_COLUMNS)
