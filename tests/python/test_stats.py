"""lifthouse.research.stats against independent references (statsmodels) and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from lifthouse.research.multiple_testing import bh_qvalues, by_qvalues
from lifthouse.research.stats import (STAT_FIELDS, candidate_statistics, clustered_t, max_drawdown_bps, sharpe_annualised, summarize, summarize_groups, t_sf)


def _statsmodels_cluster(y, groups):
    res = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": groups},
                                              use_t=True)
    return float(res.tvalues[0]), float(res.pvalues[0]), float(res.bse[0]), res.df_resid_inference


@pytest.mark.parametrize("seed", range(6))
def test_clustered_t_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n_days = int(rng.integers(3, 40))
    n = int(rng.integers(n_days, 400))
    days = np.sort(rng.integers(0, n_days, n))
    day_shock = rng.normal(0, 5, n_days)[days]  # within-day correlation
    y = 1.5 + day_shock + rng.standard_t(4, n) * 10
    t, p, se, g = clustered_t(y, days)
    t_ref, p_ref, se_ref, df_ref = _statsmodels_cluster(y, days)
    assert g == len(np.unique(days))
    assert df_ref == g - 1  # statsmodels: t with G-1 dof when use_t=True
    assert se == pytest.approx(se_ref, rel=1e-10)
    assert t == pytest.approx(t_ref, rel=1e-10)
    assert p == pytest.approx(p_ref, rel=1e-8)
    # one-sided (H1: mean > 0), as used in the candidate tables
    _, p_gt, _, _ = clustered_t(y, days, alternative="greater")
    assert p_gt == pytest.approx(p_ref / 2 if t_ref > 0 else 1 - p_ref / 2, rel=1e-8)


def test_clustered_t_accepts_datetime_days_and_differs_from_iid():
    rng = np.random.default_rng(11)
    days = np.repeat(pd.date_range("2025-01-01", periods=10, freq="D").to_numpy(), 20)
    y = np.repeat(rng.normal(0, 10, 10), 20) + rng.normal(0, 1, 200) + 2
    t, p, se, g = clustered_t(y, days)
    t_ref, p_ref, se_ref, _ = _statsmodels_cluster(y, np.repeat(np.arange(10), 20))
    assert (t, p, se, g) == pytest.approx((t_ref, p_ref, se_ref, 10))
    iid_se = y.std(ddof=1) / math.sqrt(len(y))
    assert se > 2 * iid_se  # clustering matters when days share shocks


def test_clustered_t_fewer_than_two_clusters_is_nan():
    t, p, se, g = clustered_t(np.array([1.0, 2.0, 3.0]), np.array([5, 5, 5]))
    assert g == 1 and math.isnan(t) and math.isnan(p)
    t, p, se, g = clustered_t(np.array([]), np.array([]))
    assert g == 0 and math.isnan(p)
    t, p, se, g = clustered_t(np.array([2.0, 2.0, 2.0]), np.array([1, 2, 3]))  # zero SE
    assert math.isnan(t) and math.isnan(p)


@pytest.mark.parametrize("seed", range(5))
def test_bh_by_match_statsmodels(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 600))
    p = np.concatenate([rng.uniform(size=m), rng.beta(0.2, 5, size=m // 3)])
    p[rng.choice(len(p), min(5, len(p)), replace=False)] = rng.choice([0.0, 1.0])
    rng.shuffle(p)
    np.testing.assert_allclose(bh_qvalues(p), multipletests(p, method="fdr_bh")[1],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(by_qvalues(p), multipletests(p, method="fdr_by")[1],
                               rtol=1e-12, atol=0)


def test_qvalues_nan_excluded_and_kept():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=50)
    p_nan = p.copy()
    p_nan[[3, 17, 40]] = np.nan
    q = bh_qvalues(p_nan)
    assert np.isnan(q[[3, 17, 40]]).all()
    ok = ~np.isnan(p_nan)
    np.testing.assert_allclose(q[ok], multipletests(p_nan[ok], method="fdr_bh")[1])
    np.testing.assert_allclose(by_qvalues(p_nan)[ok], multipletests(p_nan[ok], method="fdr_by")[1])
    assert np.isnan(bh_qvalues(np.array([np.nan, np.nan]))).all()
    assert bh_qvalues(np.array([])).shape == (0,)


def test_bh_by_hand_case():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.06, 0.0533, 0.5 -> monotone 0.04, 0.0533, 0.0533
    np.testing.assert_allclose(bh_qvalues(p), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    c = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(by_qvalues(p), np.minimum([0.04 * c, 0.16 / 3 * c,
                                                          0.16 / 3 * c, 0.5 * c], 1))


def test_max_drawdown_hand_cases():
    assert max_drawdown_bps(np.array([10.0, -5.0, -7.0, 20.0, -3.0])) == pytest.approx(12.0)
    assert max_drawdown_bps(np.array([-4.0, -6.0, 30.0])) == pytest.approx(10.0)  # from 0
    assert max_drawdown_bps(np.array([1.0, 2.0, 3.0])) == 0.0
    assert math.isnan(max_drawdown_bps(np.array([])))


def test_sharpe_convention():
    y = np.array([10.0, -5.0, 20.0, 0.0, 5.0])
    # 5 trades in 73 days = 25 trades per year
    assert sharpe_annualised(y, 73.0) == pytest.approx(y.mean() / y.std(ddof=1) * 5.0)
    assert math.isnan(sharpe_annualised(np.array([3.0]), 10))
    assert math.isnan(sharpe_annualised(np.array([3.0, 3.0]), 10))


def test_summarize_fields():
    y = np.array([5.0, -1.0, 3.0, 7.0])
    d = np.array([1, 1, 2, 3])
    s = summarize(y, d, 10.0)
    assert list(s) == list(STAT_FIELDS)
    assert s["n"] == 4 and s["n_days"] == 3
    assert s["mean_bps"] == pytest.approx(3.5) and s["median_bps"] == pytest.approx(4.0)
    assert s["hit_rate"] == pytest.approx(0.75)
    assert s["max_dd_bps"] == pytest.approx(1.0)
    assert s["p_value"] == pytest.approx(clustered_t(y, d, alternative="greater")[1])
    assert s["p_value"] < 0.5  # positive mean -> one-sided p below one half


def test_one_sided_p_of_negative_mean_is_large():
    rng = np.random.default_rng(9)
    days = np.repeat(np.arange(20), 5)
    y = rng.normal(-12.0, 5.0, 100)  # costs dominate: significantly negative
    s = summarize(y, days, 30.0)
    assert s["t_stat"] < -5 and s["p_value"] > 0.999
    assert clustered_t(y, days)[1] < 1e-3  # two-sided would call it significant
    with pytest.raises(ValueError):
        clustered_t(y, days, alternative="less")


def test_summarize_groups_matches_scalar():
    rng = np.random.default_rng(5)
    keys = np.repeat(np.array(["a", "b", "c", "d"], dtype=object), [50, 1, 7, 30])
    y = rng.normal(1, 10, len(keys))
    days = np.concatenate([np.sort(rng.integers(0, 9, k)) for k in [50, 1, 7, 30]])
    days[51:58] = 4  # group c: a single day -> NaN t / p
    g = summarize_groups(keys, y, days, 20.0)
    for k in ["a", "b", "c", "d"]:
        m = keys == k
        ref = summarize(y[m], days[m], 20.0)
        for f in STAT_FIELDS:
            a, b = g.loc[k, f], ref[f]
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-10), (k, f)
    assert np.isnan(g.loc["c", "p_value"])


def test_candidate_statistics_counts_blocks_and_q():
    plan = pd.DataFrame({"candidate_id": ["c1", "c2", "c3"]})
    day = pd.Timestamp("2025-01-01")
    rows = []
    for i in range(40):
        rows.append(("c1", f"e{i}", "traded", "discovery", day + pd.Timedelta(hours=6 * i),
                     10.0 + (i % 5)))
    rows += [("c1", "x1", "skipped_overlap", "discovery", day, np.nan),
             ("c1", "x2", "dropped_gap", "holdout", day, np.nan),
             ("c1", "h1", "traded", "holdout", day + pd.Timedelta(days=30), -4.0),
             ("c1", "h2", "traded", "holdout", day + pd.Timedelta(days=31), 2.0),
             ("c1", "m1", "traded", "embargo", day + pd.Timedelta(days=20), 99.0),
             ("c2", "y1", "dropped_past_end", "holdout", day, np.nan)]
    tr = pd.DataFrame(rows, columns=["candidate_id", "event_id", "trade_status", "block",
                                     "entry_time", "net_bps"])
    tr["trade_day"] = tr["entry_time"].dt.floor("D")
    out = candidate_statistics(plan, tr, {"discovery": 20.0, "holdout": 8.0}).set_index(
        "candidate_id")
    c1 = out.loc["c1"]
    assert (c1.n_events, c1.n_trades, c1.n_skipped_overlap, c1.n_dropped_gap) == (45, 43, 1, 1)
    assert c1.disc_n == 40 and c1.disc_n_days == 10
    assert c1.disc_mean_bps == pytest.approx(12.0)  # embargo trade (99) excluded
    assert c1.hold_n == 2 and c1.hold_mean_bps == pytest.approx(-1.0)
    assert c1.hold_max_dd_bps == pytest.approx(4.0)
    assert out.loc["c2", "n_dropped_past_end"] == 1 and out.loc["c2", "disc_n"] == 0
    assert out.loc["c3", "n_events"] == 0 and np.isnan(out.loc["c3", "disc_mean_bps"])
    np.testing.assert_allclose(out.q_bh, bh_qvalues(out.disc_p_value.to_numpy()))
    assert np.isnan(out.loc["c2", "q_bh"]) and out.loc["c1", "q_bh"] < 1e-6


def test_q_values_never_round_below_p():
    # p * m / m is not always p in floating point; q >= p must hold exactly (a dbt test checks it)
    rng = np.random.default_rng(3)
    for m in (3, 7, 10, 49, 1024):
        p = rng.uniform(0, 1, m)
        assert (bh_qvalues(p) >= p).all()
        assert (by_qvalues(p) >= bh_qvalues(p)).all()


def test_t_sf_is_scipy_stats_bit_for_bit():
    """t_sf skips importing scipy.stats; it must give exactly scipy.stats.t.sf, including the
    NaN of an invalid dof and the limits at +-inf."""
    from scipy import stats

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 3, 2000), rng.standard_cauchy(500),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e-300]])
    dof = np.concatenate([rng.integers(1, 400, len(x) - 12).astype(float),
                          [0.0, -1.0, np.nan, np.inf, 0.5, 1e6, 1.0, 2.0, 3.0, 5.0, 7.0, 9.0]])
    assert np.array_equal(t_sf(x, dof), stats.t.sf(x, df=dof), equal_nan=True)
    for xi, di in [(2.5, 7), (-1.0, 1), (0.3, 0), (np.nan, 4)]:   # scalars stay scalars
        a, b = t_sf(xi, di), stats.t.sf(xi, df=di)
        assert np.shape(a) == np.shape(b) == () and (a == b or (np.isnan(a) and np.isnan(b)))
