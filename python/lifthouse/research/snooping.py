"""Grid-level data-snooping control over the candidates' daily P&L (docs/phase2.md, "Data
snooping"). Pure numpy/scipy; the input is a T x k matrix ``pnl`` of daily net P&L in bps (T
calendar days of one block, the same days for every column; a day without a trade is 0).

- :func:`spa` -- Hansen's test for Superior Predictive Ability (JBES 2005), studentized: is the
  best column's mean greater than zero once all k are accounted for? p-values with the lower,
  consistent and upper recentring.
- :func:`stepm` -- Romano & Wolf's StepM (Econometrica 2005), studentized: which columns have a
  mean > 0, with the family-wise error rate controlled at ``alpha``.
- :func:`psr`, :func:`dsr`, :func:`min_trl`, :func:`expected_max_sharpe` -- the probabilistic
  and deflated Sharpe ratio and the minimum track record length (Bailey & Lopez de Prado,
  J. Risk 2012, JPM 2014), on the daily (not annualised) Sharpe ratio with the series' own
  skewness and **non-excess** kurtosis (3 for a normal).
- :func:`effective_trials` -- the effective number of independent trials of a grid.
- :func:`pbo_cscv` -- the probability of backtest overfitting by combinatorially symmetric
  cross-validation (Bailey, Borwein, Lopez de Prado & Zhu, J. Comp. Finance 2017), from
  per-block sums, never from the 12,870 materialised splits.

Both bootstrap tests draw the same stationary-bootstrap resamples (Politis & Romano 1994) of
the days from one seeded generator, so a rerun with the same seed is byte-identical; each
column is studentized by its long-run standard deviation with Hansen's kernel for the same
block length (the variance the stationary bootstrap implies).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

EULER_GAMMA = 0.5772156649015329


# --------------------------------------------------------------------------------------------
# the stationary bootstrap and the studentizing variance


def stationary_bootstrap_indices(n_days: int, reps: int, block_days: float,
                                 rng: np.random.Generator) -> np.ndarray:
    """``reps`` resamples of the day indices 0..n_days-1 (shape reps x n_days): blocks of
    geometric length with mean ``block_days`` starting at uniform days, wrapping around."""
    if n_days < 1 or reps < 1:
        return np.zeros((max(reps, 0), max(n_days, 0)), dtype=np.int64)
    q = 1.0 / max(float(block_days), 1.0)
    starts = rng.integers(0, n_days, size=(reps, n_days))
    new_block = rng.random((reps, n_days)) < q
    new_block[:, 0] = True
    idx = np.empty((reps, n_days), dtype=np.int64)
    idx[:, 0] = starts[:, 0]
    for t in range(1, n_days):
        idx[:, t] = np.where(new_block[:, t], starts[:, t], (idx[:, t - 1] + 1) % n_days)
    return idx


def resample_counts(indices: np.ndarray, n_days: int) -> np.ndarray:
    """How often each day is drawn in each resample (reps x n_days, float64): a resample's
    column means are then ``counts @ pnl / n_days`` (one matrix product for every column)."""
    reps = indices.shape[0]
    counts = np.zeros((reps, n_days), dtype=np.float64)
    np.add.at(counts, (np.repeat(np.arange(reps), indices.shape[1]), indices.ravel()), 1.0)
    return counts


def hansen_kernel_weights(n_days: int, block_days: float) -> np.ndarray:
    """kappa(n, i) for lags i = 0..n-1: the autocovariance weights of the stationary
    bootstrap's variance (Politis & Romano 1994; Hansen 2005, eq. 5), q = 1 / block_days."""
    q = 1.0 / max(float(block_days), 1.0)
    i = np.arange(n_days, dtype=np.float64)
    n = float(n_days)
    return (n - i) / n * (1.0 - q) ** i + i / n * (1.0 - q) ** (n - i)


def long_run_std(pnl: np.ndarray, block_days: float) -> np.ndarray:
    """Each column's long-run standard deviation: sqrt(gamma_0 + 2 sum_i kappa(n, i) gamma_i),
    the autocovariances gamma_i over the whole sample (computed by FFT)."""
    x = np.asarray(pnl, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros(x.shape[1])
    c = x - x.mean(axis=0)
    size = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(c, n=size, axis=0)
    gamma = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n] / n
    w = hansen_kernel_weights(n, block_days)
    var = gamma[0] + 2.0 * (w[1:, None] * gamma[1:]).sum(axis=0)
    return np.sqrt(np.maximum(var, 0.0))


# --------------------------------------------------------------------------------------------
# SPA and StepM


@dataclass(frozen=True)
class BootstrapTests:
    """SPA p-values and StepM's selection over the columns of one block."""

    k: int                        # columns given
    k_tested: int                 # columns with a positive long-run variance (the rest untested)
    statistic: float              # max(max_k sqrt(T) mean_k / omega_k, 0)
    best_column: int | None       # the column of the largest studentized mean (-1 none)
    best_mean: float              # its mean (bps per day)
    spa_p_lower: float
    spa_p_consistent: float
    spa_p_upper: float
    stepm_selected: np.ndarray    # bool per column (False for untested columns)
    block_days: float
    reps: int


def _recentred(mean: np.ndarray, omega: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Hansen's three recentrings mu_k of the null mean <= 0: lower min(mean, 0); consistent
    the mean where it is significantly negative (sqrt(n) mean / omega <= -sqrt(2 log log n)),
    else 0; upper 0 (the least favourable configuration, White's Reality Check)."""
    threshold = -math.sqrt(2.0 * math.log(math.log(n))) if n >= 3 else -np.inf
    t = math.sqrt(n) * mean / omega
    return {"lower": np.minimum(mean, 0.0),
            "consistent": np.where(t <= threshold, mean, 0.0),
            "upper": np.zeros_like(mean)}


def bootstrap_tests(pnl: np.ndarray, *, reps: int, block_days: float, seed: int,
                    alpha: float = 0.05) -> BootstrapTests:
    """SPA (studentized) and StepM (studentized, FWER ``alpha``) on ``pnl`` (T x k).

    Columns of zero long-run variance (a candidate that never trades in the block) are left
    out (Hansen's assumption 1) and counted as untested. Both tests use the same ``reps``
    stationary-bootstrap resamples with mean block length ``block_days``, drawn from
    ``numpy.random.default_rng(seed)``."""
    x = np.asarray(pnl, dtype=np.float64)
    n, k = x.shape
    selected = np.zeros(k, dtype=bool)
    omega = long_run_std(x, block_days) if n else np.zeros(k)
    tested = np.flatnonzero(omega > 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0))))
    empty = BootstrapTests(k, 0, 0.0, None, float("nan"), float("nan"), float("nan"),
                           float("nan"), selected, float(block_days), int(reps))
    if n < 2 or tested.size == 0:
        return empty
    xt, om = x[:, tested], omega[tested]
    mean = xt.mean(axis=0)
    t_obs = math.sqrt(n) * mean / om
    best = int(np.argmax(t_obs))
    statistic = max(float(t_obs[best]), 0.0)

    rng = np.random.default_rng(seed)
    counts = resample_counts(stationary_bootstrap_indices(n, reps, block_days, rng), n)
    boot_mean = counts @ xt / n                          # reps x k_tested
    centred = (boot_mean - mean) * (math.sqrt(n) / om)   # sqrt(T) (mean* - mean) / omega

    pvals = {}
    for name, mu in _recentred(mean, om, n).items():
        z = centred + mu * (math.sqrt(n) / om)
        t_boot = np.maximum(z.max(axis=1), 0.0)
        pvals[name] = float(np.mean(t_boot >= statistic)) if statistic > 0 else 1.0

    # StepM: reject every column whose studentized mean exceeds the (1 - alpha) quantile of the
    # bootstrap max over the columns not yet rejected; repeat until nothing new is rejected
    rejected = np.zeros(tested.size, dtype=bool)
    while not rejected.all():
        crit = float(np.quantile(centred[:, ~rejected].max(axis=1), 1.0 - alpha))
        new = (~rejected) & (t_obs > crit)
        if not new.any():
            break
        rejected |= new
    selected[tested[rejected]] = True
    return BootstrapTests(k, int(tested.size), statistic, int(tested[best]), float(mean[best]),
                          pvals["lower"], pvals["consistent"], pvals["upper"], selected,
                          float(block_days), int(reps))


# --------------------------------------------------------------------------------------------
# PSR, DSR, MinTRL, the number of trials


def sharpe_moments(pnl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: (Sharpe ratio, skewness, non-excess kurtosis, n) of the daily series; the
    Sharpe ratio is mean / std (population moments, as the PSR's formula takes them); NaN
    where the standard deviation is 0."""
    x = np.asarray(pnl, dtype=np.float64)
    n = x.shape[0]
    mean = x.mean(axis=0)
    c = x - mean
    m2 = (c ** 2).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(m2)
        sr = np.where(sd > 0, mean / sd, np.nan)
        skew = np.where(sd > 0, (c ** 3).mean(axis=0) / sd ** 3, np.nan)
        kurt = np.where(sd > 0, (c ** 4).mean(axis=0) / m2 ** 2, np.nan)
    return sr, skew, kurt, np.full(x.shape[1], n)


def psr(sr, n, skew, kurt, sr_star=0.0):
    """Probabilistic Sharpe ratio: P(true SR > sr_star) given the observed ``sr`` over ``n``
    observations with skewness ``skew`` and non-excess kurtosis ``kurt`` (Bailey & Lopez de
    Prado 2012, eq. 11)."""
    sr, n, skew, kurt = (np.asarray(v, dtype=np.float64) for v in (sr, n, skew, kurt))
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr ** 2)
        z = (sr - sr_star) * np.sqrt(n - 1.0) / denom
    return sps.norm.cdf(z)


def expected_max_sharpe(n_trials: float, var_sr: float) -> float:
    """SR0: the expected maximum Sharpe ratio of ``n_trials`` independent trials of true
    Sharpe 0 whose estimates vary with variance ``var_sr`` (Bailey & Lopez de Prado 2014,
    the False Strategy theorem): sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))."""
    if not n_trials or n_trials <= 1 or not var_sr or var_sr <= 0:
        return 0.0
    z1 = sps.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = sps.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(var_sr) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def dsr(sr, n, skew, kurt, n_trials: float, var_sr: float):
    """Deflated Sharpe ratio: the PSR against SR0 = expected_max_sharpe(n_trials, var_sr)."""
    return psr(sr, n, skew, kurt, expected_max_sharpe(n_trials, var_sr))


def min_trl(sr, skew, kurt, sr_star=0.0, confidence=0.95):
    """Minimum track record length (observations) for ``sr`` to exceed ``sr_star`` at
    ``confidence`` (Bailey & Lopez de Prado 2012, eq. 13); NaN when sr <= sr_star."""
    sr, skew, kurt = (np.asarray(v, dtype=np.float64) for v in (sr, skew, kurt))
    z = sps.norm.ppf(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 + (1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr ** 2) * (z / (sr - sr_star)) ** 2
    return np.where(sr > sr_star, out, np.nan)


def effective_trials(pnl: np.ndarray) -> float:
    """The effective number of independent trials among the columns of ``pnl``: the
    participation ratio of their correlation matrix C, (sum of eigenvalues)^2 / sum of squared
    eigenvalues = k^2 / ||C||_F^2 -- k for uncorrelated columns, 1 for identical ones.

    A sample correlation of two independent series is not 0: its square averages 1 / (T - 1),
    which alone would cap the ratio near T. So the off-diagonal sum of squares is taken net of
    that noise: N = k^2 / (k + max(0, sum_{i != j} r_ij^2 - k (k - 1) / (T - 1))). Computed in
    the T x T space (the same non-zero eigenvalues), so k may be large."""
    x = np.asarray(pnl, dtype=np.float64)
    sd = x.std(axis=0)
    x = x[:, sd > 0]
    n, k = x.shape
    if k == 0:
        return 0.0
    if n < 3:
        return float(k)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    g = z @ z.T / n                          # T x T: ||g||_F = ||C||_F, tr = k
    off = float(np.sum(g * g)) - k           # sum over i != j of r_ij^2
    excess = max(0.0, off - k * (k - 1) / (n - 1.0))
    return float(k * k / (k + excess))


# --------------------------------------------------------------------------------------------
# PBO by CSCV


@dataclass(frozen=True)
class Pbo:
    pbo: float                    # P(logit <= 0): the in-sample best is below the median OOS
    prob_oos_loss: float          # P(the in-sample best has an OOS Sharpe < 0)
    slope: float                  # OOS Sharpe on IS Sharpe of the selected column (OLS)
    logits: np.ndarray            # one per split
    n_splits: int
    n_columns: int


def block_sums(pnl: np.ndarray, n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, sum, sum of squares) per contiguous block of rows: count has shape n_blocks (every
    column has the same days), sum and sum of squares n_blocks x k. Rows are split as evenly as
    np.array_split does."""
    x = np.asarray(pnl, dtype=np.float64)
    parts = np.array_split(np.arange(x.shape[0]), n_blocks)
    cnt = np.array([len(p) for p in parts], dtype=np.float64)
    s1 = np.array([x[p].sum(axis=0) for p in parts])
    s2 = np.array([(x[p] ** 2).sum(axis=0) for p in parts])
    return cnt, s1, s2


def _sharpe_from_sums(cnt, s1, s2):
    """Sharpe ratio mean / std (population) from count (a column vector: one per row), sum
    and sum of squares, as s1 / sqrt(n s2 - s1^2); 0 where the standard deviation is 0 (a rule
    that does not trade in that half earns nothing)."""
    den = cnt * s2
    den -= s1 * s1
    np.maximum(den, 0.0, out=den)
    np.sqrt(den, out=den)
    ok = den > 1e-12 * np.maximum(np.abs(s1), cnt)
    out = np.zeros_like(s1)
    np.divide(s1, den, out=out, where=ok)
    return out


def pbo_cscv(cnt: np.ndarray, s1: np.ndarray, s2: np.ndarray, *, batch: int = 512) -> Pbo:
    """PBO by CSCV from per-block sums (``block_sums``: S blocks x k columns). For each of the
    C(S, S/2) ways to pick S/2 blocks as in-sample (the rest out-of-sample): the column with
    the best in-sample Sharpe (ties: the lowest column), its out-of-sample relative rank
    w = r / (k + 1) with r = 1 + #(OOS Sharpe below it) + #(ties with it) / 2, and the logit
    ln(w / (1 - w)). PBO = share of splits with logit <= 0."""
    s, k = s1.shape
    if s % 2 or k < 2:
        raise ValueError("pbo_cscv needs an even number of blocks and at least 2 columns")
    cnt = np.asarray(cnt, dtype=np.float64)
    cnt = cnt if cnt.ndim == 1 else cnt[:, 0]          # the same days for every column
    combos = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.int64)
    tot = (cnt.sum(), s1.sum(axis=0), s2.sum(axis=0))
    logits, is_best, oos_best = [], [], []
    for lo in range(0, len(combos), batch):
        ind = np.zeros((min(batch, len(combos) - lo), s))
        rows = np.repeat(np.arange(ind.shape[0]), s // 2)
        ind[rows, combos[lo:lo + batch].ravel()] = 1.0
        n_in = (ind @ cnt)[:, None]
        s1_in, s2_in = ind @ s1, ind @ s2
        sr_in = _sharpe_from_sums(n_in, s1_in, s2_in)
        sr_out = _sharpe_from_sums(tot[0] - n_in, tot[1][None, :] - s1_in,
                                   tot[2][None, :] - s2_in)
        pick = np.argmax(sr_in, axis=1)              # first maximum: the lowest column
        r = np.arange(len(pick))
        chosen = sr_out[r, pick][:, None]
        below = (sr_out < chosen).sum(axis=1)
        ties = (sr_out == chosen).sum(axis=1) - 1
        w = (1.0 + below + ties / 2.0) / (k + 1.0)
        logits.append(np.log(w / (1.0 - w)))
        is_best.append(sr_in[r, pick])
        oos_best.append(sr_out[r, pick])
    lam = np.concatenate(logits)
    x, y = np.concatenate(is_best), np.concatenate(oos_best)
    slope = float(np.polyfit(x, y, 1)[0]) if np.ptp(x) > 0 else float("nan")
    return Pbo(float(np.mean(lam <= 0)), float(np.mean(y < 0)), slope, lam, len(lam), k)
