"""Data-snooping statistics (lifthouse.research.snooping): published numbers, constructed PBO
cases, and the vectorised SPA / StepM against a direct, loop-by-loop computation of Hansen's
studentized test (a test-only oracle)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lifthouse.research import snooping as sn


# --------------------------------------------------------------------------------------------
# published numbers


def test_deflated_sharpe_paper_example():
    """Bailey & Lopez de Prado (2014): N = 100 trials, V[SR] = 0.5 / 250, SR = 2.5 / sqrt(250)
    daily, T = 1250, skewness -3, kurtosis 10 -> SR0 = 0.1132, DSR = 0.9004."""
    sr0 = sn.expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert float(sn.dsr(2.5 / math.sqrt(250), 1250, -3, 10, 100, 0.5 / 250)) == \
        pytest.approx(0.9004, abs=5e-5)


def test_probabilistic_sharpe_paper_example():
    """Bailey & Lopez de Prado (2012): SR = 1.585 / sqrt(12) monthly, T = 24, skewness -2.448,
    kurtosis 10.164 (non-excess) -> PSR(0) = 0.9132."""
    assert float(sn.psr(1.585 / math.sqrt(12), 24, -2.448, 10.164)) == pytest.approx(0.9132,
                                                                                     abs=5e-5)


def test_psr_needs_non_excess_kurtosis():
    """The same series given its excess kurtosis (7.164) gives another number (0.9198)."""
    wrong = float(sn.psr(1.585 / math.sqrt(12), 24, -2.448, 10.164 - 3))
    assert wrong == pytest.approx(0.9198, abs=5e-5)
    assert abs(wrong - float(sn.psr(1.585 / math.sqrt(12), 24, -2.448, 10.164))) > 0.005


def test_expected_maximum_of_100_standard_normals():
    assert sn.expected_max_sharpe(100, 1.0) == pytest.approx(2.5306, abs=5e-5)


def test_min_trl_example():
    """Daily SR 2 against 1 (annualised, / sqrt(250)), normal returns, 95%: 2.73 years."""
    days = float(sn.min_trl(2 / math.sqrt(250), 0.0, 3.0, 1 / math.sqrt(250), 0.95))
    assert days / 250 == pytest.approx(2.73, abs=0.005)


def test_sharpe_moments_of_a_normal_sample():
    x = np.random.default_rng(0).normal(0.1, 1.0, size=(200_000, 1))
    sr, skew, kurt, n = sn.sharpe_moments(x)
    assert sr[0] == pytest.approx(0.1, abs=0.01)
    assert skew[0] == pytest.approx(0.0, abs=0.03)
    assert kurt[0] == pytest.approx(3.0, abs=0.05)   # non-excess
    assert n[0] == 200_000


# --------------------------------------------------------------------------------------------
# the effective number of trials


def test_effective_trials_counts_independent_and_duplicated_columns():
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, size=(250, 400))
    assert sn.effective_trials(x) == pytest.approx(400, rel=0.05)
    dup = np.repeat(x[:, :4], 25, axis=1)             # 100 columns, 4 distinct
    assert sn.effective_trials(dup) == pytest.approx(4, rel=0.05)
    assert sn.effective_trials(np.zeros((250, 5))) == 0.0   # nothing varies: no trial


# --------------------------------------------------------------------------------------------
# PBO


def _pbo(x: np.ndarray, blocks: int = 16):
    return sn.pbo_cscv(*sn.block_sums(x, blocks))


def test_pbo_is_zero_when_one_column_wins_every_block():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, size=(320, 20))
    x[:, 7] = rng.normal(0, 1, size=320) * 0.1 + 5.0   # best in every block, in and out
    res = _pbo(x)
    assert res.n_splits == 12_870
    assert res.pbo == 0.0 and res.prob_oos_loss == 0.0


def test_pbo_is_one_when_the_in_sample_winner_always_loses_out_of_sample():
    """Two columns that take turns by block (integer values, so equal sets of days give
    exactly equal sums): whichever wins the in-sample half has more of its good blocks there,
    so fewer out of sample, where the other column wins. An even split is a tie in both halves
    (the lowest column is picked, its OOS rank is the middle: logit 0, counted as overfit)."""
    blocks = 16
    good, bad = [2.0, 3.0], [1.0, 2.0]
    a = np.array([good if b % 2 == 0 else bad for b in range(blocks)]).ravel()
    b = np.array([bad if b % 2 == 0 else good for b in range(blocks)]).ravel()
    res = _pbo(np.column_stack([a, b]), blocks)
    assert res.pbo == 1.0
    assert (res.logits < 0).mean() > 0.5            # most splits: strictly the loser


def test_pbo_of_iid_noise_is_about_one_half():
    """One noise grid's PBO varies widely (its 12,870 splits share the same days: 0.31-0.91
    over these seeds); over 16 grids it averages about one half."""
    values = [_pbo(np.random.default_rng(seed).normal(0, 1, size=(400, 60))).pbo
              for seed in range(16)]
    assert 0.4 <= float(np.mean(values)) <= 0.6, values


# --------------------------------------------------------------------------------------------
# SPA and StepM against a direct computation


def oracle(pnl: np.ndarray, reps: int, block_days: float, seed: int, alpha: float):
    """Hansen's studentized SPA and Romano-Wolf's StepM written out: one resample at a time,
    the statistic max_k sqrt(T) (mean*_k - mean_k + mu_k) / omega_k with omega_k the long-run
    std with Hansen's kernel (autocovariances by a direct double loop)."""
    n, k = pnl.shape
    q = 1.0 / block_days
    omega = np.empty(k)
    for j in range(k):
        c = pnl[:, j] - pnl[:, j].mean()
        var = c @ c / n
        for i in range(1, n):
            kappa = (n - i) / n * (1 - q) ** i + i / n * (1 - q) ** (n - i)
            var += 2 * kappa * (c[:-i] @ c[i:]) / n
        omega[j] = math.sqrt(var)
    mean = pnl.mean(axis=0)
    t_obs = math.sqrt(n) * mean / omega
    stat = max(t_obs.max(), 0.0)
    idx = sn.stationary_bootstrap_indices(n, reps, block_days, np.random.default_rng(seed))
    thr = -math.sqrt(2 * math.log(math.log(n)))
    mus = {"lower": np.minimum(mean, 0), "upper": np.zeros(k),
           "consistent": np.where(t_obs <= thr, mean, 0.0)}
    exceed = {m: 0 for m in mus}
    centred = np.empty((reps, k))
    for b in range(reps):
        boot = pnl[idx[b]].mean(axis=0)
        centred[b] = math.sqrt(n) * (boot - mean) / omega
        for name, mu in mus.items():
            tb = max((math.sqrt(n) * (boot - mean + mu) / omega).max(), 0.0)
            exceed[name] += tb >= stat
    rejected = np.zeros(k, dtype=bool)
    while True:
        crit = np.quantile(centred[:, ~rejected].max(axis=1), 1 - alpha)
        new = ~rejected & (t_obs > crit)
        if not new.any() or rejected.all():
            break
        rejected |= new
        if rejected.all():
            break
    return stat, {m: exceed[m] / reps for m in mus}, rejected


def test_spa_and_stepm_match_the_direct_computation():
    rng = np.random.default_rng(11)
    x = rng.standard_t(4, size=(60, 6)) * np.array([1, 2, 3, 1, 5, 1.5])
    x[:, 2] += 2.0
    x[:, 5] += 0.9
    res = sn.bootstrap_tests(x, reps=300, block_days=4, seed=9, alpha=0.1)
    stat, p, rejected = oracle(x, 300, 4, 9, 0.1)
    assert res.statistic == pytest.approx(stat, rel=1e-12)
    assert res.spa_p_lower == p["lower"]
    assert res.spa_p_consistent == p["consistent"]
    assert res.spa_p_upper == p["upper"]
    assert res.stepm_selected.tolist() == rejected.tolist()
    assert res.spa_p_lower <= res.spa_p_consistent <= res.spa_p_upper


def test_studentizing_lets_a_low_variance_winner_through():
    """A plain max of means is dominated by high-variance columns; the studentized test is
    not: a small steady edge among loud noise is found."""
    rng = np.random.default_rng(2)
    x = rng.standard_t(3, size=(250, 300)) * 20.0        # loud, mean 0
    x[:, 0] = rng.normal(0.4, 1.0, size=250)             # quiet, mean 0.4 (t about 6)
    res = sn.bootstrap_tests(x, reps=500, block_days=5, seed=1)
    assert res.best_column == 0
    assert res.spa_p_consistent < 0.01 and res.stepm_selected[0]


def test_a_null_grid_is_rarely_significant_and_stepm_selects_nothing():
    rng = np.random.default_rng(4)
    ps, selected = [], 0
    for seed in range(20):
        x = rng.standard_t(3, size=(200, 150))
        res = sn.bootstrap_tests(x, reps=300, block_days=5, seed=seed)
        ps.append(res.spa_p_consistent)
        selected += int(res.stepm_selected.any())
    assert sum(p < 0.05 for p in ps) <= 3
    assert selected <= 3


def test_columns_that_never_trade_are_untested_and_every_column_may_be_selected():
    rng = np.random.default_rng(6)
    x = rng.normal(3.0, 1.0, size=(100, 5))              # every column clearly positive
    x = np.hstack([x, np.zeros((100, 2))])               # two candidates that never trade
    res = sn.bootstrap_tests(x, reps=200, block_days=3, seed=1)
    assert res.k == 7 and res.k_tested == 5
    # StepM ends when every tested column is selected (arch 8.0.0 raised ValueError here)
    assert res.stepm_selected.tolist() == [True] * 5 + [False] * 2


def test_bootstrap_tests_are_deterministic_for_a_seed():
    x = np.random.default_rng(8).normal(0, 1, size=(80, 40))
    a = sn.bootstrap_tests(x, reps=200, block_days=5, seed=123)
    b = sn.bootstrap_tests(x, reps=200, block_days=5, seed=123)
    c = sn.bootstrap_tests(x, reps=200, block_days=5, seed=124)
    assert (a.spa_p_lower, a.spa_p_consistent, a.spa_p_upper) == \
        (b.spa_p_lower, b.spa_p_consistent, b.spa_p_upper)
    assert a.spa_p_consistent != c.spa_p_consistent or a.spa_p_upper != c.spa_p_upper
