"""lift_summary, the final ablation table (SPEC 8-9): question, candidate, roll-up, fallback-rate
and sanity rows with one stable column set and a deterministic row order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.params import LiftParams
from lifthouse.research.promotion import fallback_rates
from lifthouse.research.questions import question_rows
from lifthouse.research.rollups import rollups
from lifthouse.research.sanity import sanity_checks, zero_lift_event_types
from lifthouse.research.verdicts import verdicts

ROW_TYPES = ("question", "candidate", "rollup", "rollup_rule", "fallback_rate", "sanity")

SUMMARY_COLUMNS = [
    "row_num", "row_type", "row_key",
    "event_type", "condition", "horizon_min", "direction_rule", "symbol_scope",
    "candidate_id", "twin_candidate_id", "n_horizons", "horizons", "edge_rules",
    "n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
    "mean_cond_bps", "mean_twin_bps", "mean_complement_bps",
    "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "lift_p_holm",
    "lift_mde_bps", "lift_vs_complement_bps", "lift_vs_complement_ci_low", "lift_vs_complement_ci_high",
    "lift_vs_complement_p_value", "lift_vs_complement_q_bh",
    "verdict", "verdict_reason", "flag",
    "disc_lift_bps", "disc_lift_ci_low", "disc_lift_ci_high", "hold_lift_bps",
    "status", "status_reason",
    "n_promoted", "n_fallback", "n_promotions", "fallback_rate", "n_families",
    "n_families_promoted", "n_families_fallback", "fallback_rate_families",
    "check_name", "check_scope", "check_value", "check_expected", "check_ok", "detail",
]

_INT_COLUMNS = ["row_num", "horizon_min", "n_horizons", "n_cond", "n_cond_days", "n_twin",
                "n_complement", "n_boot_days", "n_boot_valid", "n_promoted", "n_fallback",
                "n_promotions", "n_families", "n_families_promoted", "n_families_fallback"]
_FLOAT_COLUMNS = ["mean_cond_bps", "mean_twin_bps", "mean_complement_bps", "lift_bps",
                  "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "lift_p_holm",
                  "lift_mde_bps", "lift_vs_complement_bps", "lift_vs_complement_ci_low",
                  "lift_vs_complement_ci_high", "lift_vs_complement_p_value",
                  "lift_vs_complement_q_bh", "disc_lift_bps", "disc_lift_ci_low",
                  "disc_lift_ci_high", "hold_lift_bps", "fallback_rate", "fallback_rate_families",
                  "check_value"]


def lift_summary(plan: pd.DataFrame, trades: pd.DataFrame, lift: pd.DataFrame,
                 results: pd.DataFrame | None, params: LiftParams = LiftParams(),
                 questions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The final table: the answers to the pre-registered questions (``questions``, the seed
    lift_questions, plus the fallback-rate question), candidate rows (lift + q + verdict +
    phase-2 status), roll-ups, fallback rates and sanity checks, with the stable column set
    SUMMARY_COLUMNS, ordered by (row_type in ROW_TYPES order, row_key) and numbered by row_num.
    No rounding."""
    cand = verdicts(lift, params)
    zero = zero_lift_event_types(lift)
    cand["flag"] = [f"probable bug: {zero[e]} for {e}" if e in zero else None
                    for e in cand["event_type"]]
    if results is not None and len(results):
        st = results[["candidate_id", "status", "status_reason"]].astype(
            {"candidate_id": str})
        cand = cand.merge(st, on="candidate_id", how="left")
    cand["row_type"] = "candidate"
    cand["row_key"] = cand["candidate_id"]

    roll = rollups(plan, trades, params, lift=lift)
    roll["row_key"] = (roll["event_type"] + "|" + roll["condition"] + "|"
                       + roll["direction_rule"])

    fb = fallback_rates(results) if results is not None and len(results) else \
        pd.DataFrame([dict(scope="all", detail="n/a: no phase-2 results")])
    fb["row_type"] = "fallback_rate"
    fb["row_key"] = fb["scope"]
    fb = fb.drop(columns=["scope"])

    san = sanity_checks(plan, trades, lift, roll)
    san = san.rename(columns={"check": "check_name", "scope": "check_scope",
                              "value": "check_value", "expected": "check_expected",
                              "ok": "check_ok"})
    san["row_type"] = "sanity"
    san["row_key"] = san["check_name"] + "|" + san["check_scope"]

    quest = question_rows(questions, roll, fb, plan, lift, params)

    frames = [f for f in (quest, cand, roll, fb, san) if len(f)]
    out = pd.concat([f.reindex(columns=[c for c in SUMMARY_COLUMNS if c in f.columns])
                     for f in frames], ignore_index=True)
    out = out.reindex(columns=SUMMARY_COLUMNS)
    out["_rank"] = out["row_type"].map({t: i for i, t in enumerate(ROW_TYPES)})
    out = out.sort_values(["_rank", "row_key"], kind="mergesort").drop(columns="_rank")
    out["row_num"] = np.arange(1, len(out) + 1)
    for c in _INT_COLUMNS:
        out[c] = pd.array(out[c], dtype="Int64")
    for c in _FLOAT_COLUMNS:
        out[c] = out[c].astype(np.float64)
    out["check_ok"] = pd.array(out["check_ok"], dtype="boolean")
    for c in set(SUMMARY_COLUMNS) - set(_INT_COLUMNS) - set(_FLOAT_COLUMNS) - {"check_ok"}:
        out[c] = pd.Series([None if (v is None or v is pd.NA or (isinstance(v, float) and
                                                                  np.isnan(v))) else str(v)
                            for v in out[c]], dtype=object, index=out.index)
    return out.reset_index(drop=True)
