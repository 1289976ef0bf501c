"""The candidate plan as the Python code reads it (SPEC 6): its columns and one normalised frame."""

from __future__ import annotations

import pandas as pd

from lifthouse.research.states import obj_strings

PLAN_COLUMNS = ["candidate_id", "family_id", "twin_candidate_id", "event_type", "condition",
                "vol_condition", "carry_condition", "is_conditioned", "horizon_min",
                "direction_rule", "symbol_scope"]


def plan_frame(plan: pd.DataFrame) -> pd.DataFrame:
    p = plan.copy()
    # plain object columns: keep None (pandas 3 would infer str/NaN), and filtering object
    # columns is much faster than Arrow-backed strings
    for c in ("vol_condition", "carry_condition", "family_id", "event_type", "condition",
              "direction_rule", "symbol_scope"):
        if c in p.columns:
            p[c] = pd.Series(obj_strings(p[c]), dtype=object, index=p.index)
    p["is_conditioned"] = p["is_conditioned"].astype(bool)
    for c in ("candidate_id", "twin_candidate_id"):
        p[c] = pd.Series(p[c].astype(str).to_numpy(dtype=object), dtype=object, index=p.index)
    return p.sort_values("candidate_id", kind="mergesort").reset_index(drop=True)
