"""Multiple-comparison adjustments (SPEC 6, 8): Benjamini-Hochberg and Benjamini-Yekutieli
q-values (step-up, NaN in, NaN out), BH over a subset, and Holm's step-down adjusted p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up adjusted p-values); NaN in, NaN out."""
    return _step_up(p, by=False)


def by_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Yekutieli q-values (valid under arbitrary dependence); NaN in, NaN out."""
    return _step_up(p, by=True)


def _step_up(p: np.ndarray, by: bool) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    ranks = np.arange(1, m + 1, dtype=float)
    c = float(np.sum(1.0 / ranks)) if by else 1.0
    adj = pv[order] * m * c / ranks
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    # q >= p holds exactly in theory (m * c / rank >= 1); p * m / m can round one ulp below p
    adj = np.maximum(adj, pv[order])
    q = np.empty(m)
    q[order] = np.minimum(adj, 1.0)
    out[ok] = q
    return out


def bh_subset(p: pd.Series | np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """BH q-values over the finite p-values of the eligible rows; NaN elsewhere."""
    p = np.asarray(p, dtype=float)
    use = np.asarray(eligible, dtype=bool) & np.isfinite(p)
    q = np.full(len(p), np.nan)
    if use.any():
        q[use] = np.asarray(bh_qvalues(p[use]), dtype=float)
    return q


def holm_adjust(p: np.ndarray | pd.Series) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error) over the finite p-values; NaN
    elsewhere. Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1,
    (m - j + 1) p_(j)). Ties keep their input order (stable sort), which cannot change a
    value."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="mergesort")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
