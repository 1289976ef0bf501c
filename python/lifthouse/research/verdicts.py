"""Verdicts of lift rows (SPEC 8): BH q-values over the rows with enough data, then
improves / hurts / inconclusive with the reason in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.multiple_testing import bh_subset
from lifthouse.research.params import LiftParams


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.6g}"


def verdicts(df: pd.DataFrame, params: LiftParams, n_col: str = "n_cond",
             days_col: str = "n_cond_days") -> pd.DataFrame:
    """Add lift_q_bh, lift_vs_complement_q_bh, verdict, verdict_reason. The BH family is the
    rows of ``df`` with enough data (n and days); the others are 'inconclusive' with the
    reason and carry no q."""
    out = df.copy()
    enough = (out[n_col] >= params.lift_min_n) & (out[days_col] >= params.lift_min_days)
    out["lift_q_bh"] = bh_subset(out["lift_p_value"], enough.to_numpy())
    out["lift_vs_complement_q_bh"] = bh_subset(out["lift_vs_complement_p_value"],
                                               enough.to_numpy())
    verdict, reason = [], []
    for r, ok in zip(out.itertuples(index=False), enough):
        lo, hi, q = r.lift_ci_low, r.lift_ci_high, r.lift_q_bh
        if getattr(r, n_col) < params.lift_min_n:
            v, why = "inconclusive", f"n_cond={getattr(r, n_col)} < min_n={params.lift_min_n}"
        elif getattr(r, days_col) < params.lift_min_days:
            v, why = "inconclusive", (f"cond_days={getattr(r, days_col)} < "
                                      f"min_days={params.lift_min_days}")
        elif not np.isfinite(r.lift_bps):
            v, why = "inconclusive", "lift undefined (twin has no traded trades)"
        elif not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(q)):
            v, why = "inconclusive", "bootstrap undefined (too few valid draws)"
        elif lo > 0 and q <= params.lift_q_max:
            v, why = "improves", f"ci_low={_fmt(lo)} > 0 and q={_fmt(q)} <= {params.lift_q_max}"
        elif hi < 0 and q <= params.lift_q_max:
            v, why = "hurts", f"ci_high={_fmt(hi)} < 0 and q={_fmt(q)} <= {params.lift_q_max}"
        elif lo <= 0 <= hi:
            v, why = "inconclusive", f"ci [{_fmt(lo)}, {_fmt(hi)}] contains 0"
        else:
            v, why = "inconclusive", f"q={_fmt(q)} > q_max={params.lift_q_max}"
        verdict.append(v)
        reason.append(why)
    out["verdict"] = verdict
    out["verdict_reason"] = reason
    return out
