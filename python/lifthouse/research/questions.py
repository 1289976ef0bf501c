"""The pre-registered questions (SPEC 0): confirmatory answers from the roll-ups, Holm-adjusted
across the questions, and the fallback promotion rate as question Q3 (docs/lift.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.bootstrap import minimum_detectable_lift
from lifthouse.research.multiple_testing import holm_adjust
from lifthouse.research.params import LiftParams
from lifthouse.research.plan import plan_frame
from lifthouse.research.rollups import rollup_scope

QUESTION_COLUMNS = ["question_id", "event_type", "condition", "question"]
FALLBACK_QUESTION_ID = "Q3"   # SPEC 0 question 3; reserved, a seed question may not use it
FALLBACK_QUESTION = "What is the overall fallback promotion rate?"

def _bps(x: float) -> str:
    return f"{x:.2f}"


def _pv(x: float) -> str:
    return f"{x:.3g}"


def _missing_rollup_reason(plan: pd.DataFrame, lift: pd.DataFrame, et: str, cond: str) -> str:
    """Why (event_type, condition) has no roll-up row, in words."""
    head = f"no roll-up row for ({et}, {cond})"
    p = plan_frame(plan)
    p_et = p.loc[p["event_type"].astype(str) == et]
    if p_et.empty:
        return f"{head}: event type not in the candidate plan"
    if not (p_et["condition"].astype(str) == cond).any():
        return f"{head}: condition not in the candidate plan for this event type"
    scope = rollup_scope(p, et)
    if scope is None:
        return f"{head}: the plan has no roll-up scope for it (no pooled scope)"
    l_et = lift.loc[lift["event_type"].astype(str) == et] if len(lift) else lift
    if len(l_et) == 0 or int(l_et["n_twin"].sum()) == 0:
        return f"{head}: no traded {et} trades in this run (no events of this type?)"
    return (f"{head}: no horizon has discovery-block trades of the unconditioned {scope} "
            "rule, so no edge rule could be chosen")


def question_rows(questions: pd.DataFrame | None, roll: pd.DataFrame, fallback: pd.DataFrame,
                  plan: pd.DataFrame, lift: pd.DataFrame, params: LiftParams) -> pd.DataFrame:
    """One 'question' row per pre-registered question, the run's answers (docs/lift.md):

    - per row of ``questions`` (question_id, event_type, condition, question): the numbers of
      the matching 'rollup' row (edge rule), its p-value Holm-adjusted across the questions of
      the run that have enough data (``lift_p_holm``; confirmatory, unlike the exploratory BH
      q of the roll-ups), and verdict improves / hurts / inconclusive with ``verdict_reason``;
      a question without a roll-up row is inconclusive with the reason;
    - row ``Q3``: the overall fallback promotion rate (the 'all' row of ``fallback``).
    ``detail`` holds the question text."""
    q = pd.DataFrame(columns=QUESTION_COLUMNS) if questions is None else questions
    missing = [c for c in QUESTION_COLUMNS if c not in q.columns]
    if missing:
        raise ValueError(f"lift questions need the columns {QUESTION_COLUMNS}; missing {missing}")
    q = pd.DataFrame({c: [str(v) for v in q[c]] for c in QUESTION_COLUMNS}, dtype=object)
    if (q["question_id"] == FALLBACK_QUESTION_ID).any():
        raise ValueError(f"question_id {FALLBACK_QUESTION_ID} is reserved for the fallback "
                         "promotion rate (SPEC 0); number lift questions Q1, Q2, Q4, ...")
    if q["question_id"].duplicated().any():
        raise ValueError("duplicate question_id in the lift questions")
    q = q.sort_values("question_id", kind="mergesort").reset_index(drop=True)
    r = roll.loc[roll["row_type"] == "rollup"] if len(roll) else roll
    by_key = {(str(a), str(b)): row for a, b, row in
              zip(r.get("event_type", []), r.get("condition", []),
                  r.to_dict("records") if len(r) else [])}
    carry = ["event_type", "condition", "direction_rule", "symbol_scope", "n_horizons",
             "horizons", "edge_rules", "n_cond", "n_cond_days", "n_twin", "n_complement",
             "n_boot_days", "n_boot_valid", "mean_cond_bps", "mean_twin_bps",
             "mean_complement_bps", "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value",
             "lift_vs_complement_bps", "lift_vs_complement_ci_low",
             "lift_vs_complement_ci_high", "lift_vs_complement_p_value", "flag"]
    rows, no_rollup = [], []
    for x in q.itertuples(index=False):
        row = dict(row_type="question", row_key=x.question_id, event_type=x.event_type,
                   condition=x.condition, detail=x.question)
        src = by_key.get((x.event_type, x.condition))
        if src is not None:
            row.update({c: src.get(c) for c in carry if c not in row})
        no_rollup.append(None if src is not None else
                         _missing_rollup_reason(plan, lift, x.event_type, x.condition))
        rows.append(row)
    out = pd.DataFrame(rows, columns=["row_type", "row_key", "detail"] + carry)
    if len(out):
        n = out["n_cond"].astype(float).fillna(0)
        days = out["n_cond_days"].astype(float).fillna(0)
        enough = ((n >= params.lift_min_n) & (days >= params.lift_min_days)).to_numpy()
        out["lift_p_holm"] = holm_adjust(np.where(enough, out["lift_p_value"].astype(float),
                                                  np.nan))
        verdict, reason = [], []
        for x, missing in zip(out.to_dict("records"), no_rollup):
            v, why = ("inconclusive", missing) if missing else _question_verdict(x, params)
            verdict.append(v)
            reason.append(why)
        out["verdict"], out["verdict_reason"] = verdict, reason
        out["lift_mde_bps"] = minimum_detectable_lift(out["lift_ci_low"].astype(float),
                                                      out["lift_ci_high"].astype(float),
                                                      params.lift_alpha)
    all_fb = fallback.loc[fallback["row_key"] == "all"] if len(fallback) else fallback
    fb_row = dict(row_type="question", row_key=FALLBACK_QUESTION_ID, detail=FALLBACK_QUESTION)
    if len(all_fb):
        a = all_fb.iloc[0].to_dict()
        for c in ("n_promoted", "n_fallback", "n_promotions", "fallback_rate", "n_families",
                  "n_families_promoted", "n_families_fallback", "fallback_rate_families"):
            fb_row[c] = a.get(c)
        rate = a.get("fallback_rate")
        fb_row["verdict_reason"] = (
            f"fallback rate {100 * float(rate):.1f}%: {a.get('detail')}"
            if rate is not None and np.isfinite(float(rate)) else str(a.get("detail")))
    else:
        fb_row["verdict_reason"] = "n/a: no fallback_rate row"
    return pd.concat([out, pd.DataFrame([fb_row])], ignore_index=True) if len(out) else \
        pd.DataFrame([fb_row])


def _question_verdict(x: dict, params: LiftParams) -> tuple[str, str]:
    """improves / hurts / inconclusive for one question row, and the reason in words."""
    def num(c: str) -> float:
        v = x.get(c)
        return np.nan if v is None or pd.isna(v) else float(v)

    n, days = num("n_cond"), num("n_cond_days")
    lift, lo, hi, ph = num("lift_bps"), num("lift_ci_low"), num("lift_ci_high"), num("lift_p_holm")
    a = params.lift_alpha
    flag = x.get("flag")
    if isinstance(flag, str) and flag:
        return "inconclusive", flag
    if not n >= params.lift_min_n:
        return "inconclusive", (f"n = {int(n) if np.isfinite(n) else 0} conditioned events "
                                f"< lift_min_n = {params.lift_min_n}")
    if not days >= params.lift_min_days:
        return "inconclusive", (f"{int(days)} days with conditioned events < lift_min_days = "
                                f"{params.lift_min_days}")
    if not np.isfinite(lift):
        return "inconclusive", "lift undefined (the twin has no traded trades)"
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(ph)):
        return "inconclusive", "no CI: too few valid bootstrap draws"
    ci = f"CI [{_bps(lo)}, {_bps(hi)}]"
    if lo > 0 and ph <= a:
        return "improves", f"{ci} above 0, Holm p = {_pv(ph)} <= {a:g}"
    if hi < 0 and ph <= a:
        return "hurts", f"{ci} below 0, Holm p = {_pv(ph)} <= {a:g}"
    if lo <= 0 <= hi:
        return "inconclusive", f"{ci} contains 0, Holm p = {_pv(ph)}"
    side = "above" if lo > 0 else "below"
    return "inconclusive", f"{ci} {side} 0 but Holm p = {_pv(ph)} > {a:g}"
