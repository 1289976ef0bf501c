"""Indicator states and condition matching (SPEC 4, 6): the one rule for whether an event's
state matches a candidate's condition, used by the backtest, the lift and the sanity checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

VOL_STATES = ("vol_low", "vol_mid", "vol_high")
CARRY_STATES = ("carry_pos", "carry_neutral", "carry_neg")
UNKNOWN_STATES = ("warmup",)  # plus NULL: never match a condition, never in a complement


def is_set(x) -> bool:
    return x is not None and not (isinstance(x, float) and np.isnan(x)) and x is not pd.NA \
        and str(x) != ""


def state_masks(vol: np.ndarray, carry: np.ndarray, vol_condition, carry_condition
                ) -> tuple[np.ndarray, np.ndarray]:
    """(matches, known) for arrays of event states against one condition (None = any).

    ``known``: the state is neither NULL nor warm-up on every dimension the condition
    constrains. ``matches`` implies ``known``."""
    n = len(vol)
    matches = np.ones(n, dtype=bool)
    known = np.ones(n, dtype=bool)
    for states, cond in ((vol, vol_condition), (carry, carry_condition)):
        if is_set(cond):
            s = np.asarray(states, dtype=object)
            ok = ~pd.isna(s) & (s != "")
            for u in UNKNOWN_STATES:
                ok &= s != u
            known &= ok
            matches &= ok & (s == cond)
    return matches, known


def obj_strings(s: pd.Series) -> np.ndarray:
    """Object array of ``str`` with ``None`` for missing values (None, NaN, NA). Vectorised:
    iterating an Arrow-backed string column element by element is the slow path."""
    s = s if isinstance(s, pd.Series) else pd.Series(s, dtype=object)
    a = s.to_numpy(dtype=object, na_value=None)
    if not isinstance(s.dtype, pd.StringDtype):   # object columns may hold non-str values
        a = np.array([v if v is None or type(v) is str else str(v) for v in a], dtype=object)
    return a
