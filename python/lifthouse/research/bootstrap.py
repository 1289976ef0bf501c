"""Day-block bootstrap primitives (SPEC 8): seeded per-row generators, day-count draws,
resampled means, percentile CIs, bootstrap p-values and the detectable lift a CI implies.

Determinism: every bootstrap uses its own ``numpy.random.Generator(PCG64(seed))`` whose seed is
a SHA-256 of (bootstrap_seed, row key), never Python's ``hash()``. A resampled sum adds its days
one at a time in universe order (``sequential_day_sums``; no BLAS, so no thread count can change
a bit); resampled counts are whole numbers, exact in any order."""

from __future__ import annotations

import hashlib

import numpy as np


def row_seed(key: str, bootstrap_seed: int) -> int:
    """A 64-bit seed from a stable hash of (bootstrap_seed, key)."""
    digest = hashlib.sha256(f"{int(bootstrap_seed)}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def row_rng(key: str, bootstrap_seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(row_seed(key, bootstrap_seed)))


def day_draws(rng: np.random.Generator, n_days: int, n_boot: int) -> np.ndarray:
    """(n_boot, n_days) float matrix: how often each day is drawn when n_days days are drawn
    with replacement (a multinomial draw, built from uniform integer picks). Stored day-major
    (the transpose of a C-contiguous (n_days, n_boot) array), the layout ``resampled_means``
    walks."""
    # int32 picks are the same stream as int64 ones (both take numpy's 32-bit bounded path
    # below 2**32) and halve the memory traffic of the counting below
    dtype = np.int32 if n_days * n_boot < 2 ** 31 else np.int64
    idx = rng.integers(0, n_days, size=(n_boot, n_days), dtype=dtype)
    idx *= n_boot
    idx += np.arange(n_boot, dtype=dtype)[:, None]   # pick of day d in draw b -> bin d * n_boot + b
    counts = np.bincount(idx.ravel(), minlength=n_days * n_boot)
    return counts.astype(np.float64).reshape(n_days, n_boot).T


def _day_agg(universe: np.ndarray, days: np.ndarray, values: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    pos = np.searchsorted(universe, days)
    d = len(universe)
    return (np.bincount(pos, weights=values, minlength=d),
            np.bincount(pos, minlength=d).astype(np.float64))


def sequential_day_sums(x: np.ndarray, w_days: np.ndarray) -> np.ndarray:
    """(k, n_boot): for each row of ``x`` (k, n_days) and each draw, sum over days of
    x[:, d] * w_days[d, b], the days added one at a time in order. ``w_days`` is day-major
    (n_days, n_boot), C-contiguous.

    With the draws as the contiguous output axis, numpy's einsum walks the days in order and
    vectorises over the draws: the same bits as the explicit loop below, 5-10x faster
    (tests/python/test_lift.py checks the two agree). With a single draw einsum would sum the
    days as a dot product (another order), so that case takes the loop."""
    if w_days.shape[1] > 1:
        return np.einsum("kd,db->kb", x, w_days, optimize=False)
    sums = np.zeros((x.shape[0], w_days.shape[1]))
    for d in range(w_days.shape[0]):
        sums += x[:, d, None] * w_days[d]
    return sums


def resampled_means(weights: np.ndarray, universe: np.ndarray,
                    groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(n_boot, len(groups)) resampled means; each group is (days, values). NaN where a draw
    holds no observation of the group."""
    day_sums, day_counts = zip(*(_day_agg(universe, days, values) for days, values in groups))
    w = np.ascontiguousarray(weights.T)                       # (days, n_boot); free for day_draws
    sums = sequential_day_sums(np.array(day_sums), w)
    counts = sequential_day_sums(np.array(day_counts), w)     # whole numbers: exact
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)
    return means.T


def percentile_ci(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    if len(draws) == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'the statistic is 0': 2 * min share on either side of 0,
    with the +1 correction, capped at 1."""
    b = len(draws)
    if b == 0:
        return np.nan
    le = int(np.count_nonzero(draws <= 0.0))
    ge = int(np.count_nonzero(draws >= 0.0))
    return float(min(1.0, 2.0 * (1 + min(le, ge)) / (b + 1)))


def minimum_detectable_lift(ci_low, ci_high, alpha: float, power: float = 0.8):
    """The smallest true lift a two-sided test at level ``alpha`` detects with ``power``, given
    the standard error implied by the (1 - alpha) bootstrap CI: (z_{1-a/2} + z_power) * se with
    se = CI width / (2 z_{1-a/2}). A normal approximation, to say what n the data supports."""
    # the standard normal quantile is scipy.special.ndtri, which scipy.stats.norm.ppf calls
    # (the same bits) without importing scipy.stats (1-3 s, on the build's critical path);
    # imported here, not at module import: the lift's worker processes never need scipy
    from scipy.special import ndtri

    z = ndtri(1 - alpha / 2)
    se = (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / (2 * z)
    return (z + ndtri(power)) * se
