"""Stylized facts of the sample market against the real Binance 1m data (skips without it).

Targets are the real data cut into 2-week windows (3 windows x 3 symbols, 2025-05-05 ..
2025-06-16); the generator's 2 weeks (3 symbols) must fall inside the real range widened by the
tolerances below (also listed in docs/sample_data.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifthouse.data import raw
from lifthouse.data.sample import generate
from lifthouse.data.sample.stats import ACF_LAGS, post_shock_stats, profile_corr, stylized_facts

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
TWO_WEEKS = 14 * 1440
KURT_FACTOR = 2.0        # kurtosis within [real min / 2, real max * 2]
ACF_TOL = 0.05           # mean |r| autocorrelation per lag within real range +- 0.05
VOL_RANGE_TOL = 0.05     # volume-range correlation per symbol within real range +- 0.05
PROFILE_MIN_CORR = 0.75  # hourly profile (3-symbol mean) vs real profile
XCORR_TOL = 0.10         # mean pairwise 1m return correlation within real range +- 0.10
# after a 1m shock (|r| >= 4 trailing-24h sigma; stats.post_shock_stats): real data per symbol
# over 2025-05-05 .. 2025-06-23 vs the generator's 3 symbols, 2 weeks, seed 7 (natural shocks:
# bars of planted episodes excluded; ~400 shocks pooled)
THIN_TOL = 0.04          # P(3 thin bars after a shock), pooled, within real range +- 0.04 (~3 sd)
VOL_EXCESS_TOL = 0.30    # log volume above the range prediction 1 bar after, mean, real range +- 0.3
VOL_ACF_TOL = 0.10       # lag-1 autocorrelation of that volume residual per symbol, real range +- 0.1


@pytest.fixture(scope="module")
def real(real_data_dir):
    facts, closes, shocks = [], {}, []
    for s in SYMBOLS:
        k = pd.read_parquet(real_data_dir / "um_klines_1m" / f"{s}.parquet")
        k = k[k["open_time"] >= pd.Timestamp("2025-05-05").value // 10**6].reset_index(drop=True)
        assert (np.diff(k["open_time"].to_numpy()) == 60_000).all()  # a gapless minute grid
        shocks.append(post_shock_stats(k["open_time"].to_numpy() * 1000, k["high"].to_numpy(),
                                       k["low"].to_numpy(), k["close"].to_numpy(),
                                       k["volume"].to_numpy()))
        closes[s] = k["close"].to_numpy()[:3 * TWO_WEEKS]
        for w in range(3):
            p = k.iloc[w * TWO_WEEKS:(w + 1) * TWO_WEEKS]
            facts.append(stylized_facts(p["open_time"].to_numpy() * 1000, p["high"].to_numpy(),
                                        p["low"].to_numpy(), p["close"].to_numpy(),
                                        p["volume"].to_numpy()))
    return facts, closes, shocks


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("realism")
    truth = generate(d, symbols=SYMBOLS, start="2025-01-01", end="2025-01-15", lookback_days=7,
                     seed=7)
    facts, closes, shocks = [], {}, []
    for s in SYMBOLS:
        k = raw.read_dataset(d, "um_klines_1m", s).to_pandas()
        t = k["open_time"].to_numpy().astype("datetime64[us]").astype(np.int64)
        skip = t < np.datetime64("2025-01-01", "us").astype(np.int64)   # the lookback
        for e in truth.episodes:   # shocks of planted episodes are not natural
            if e["symbol"] == s:
                a, b = (np.datetime64(e[c], "us").astype(np.int64) for c in ("start", "detected_at"))
                skip |= (t >= a) & (t <= b)
        shocks.append(post_shock_stats(t, k["high"].to_numpy(), k["low"].to_numpy(),
                                       k["close"].to_numpy(), k["volume"].to_numpy(),
                                       exclude=skip))
        k = k[k["open_time"] >= pd.Timestamp("2025-01-01")]
        closes[s] = k["close"].to_numpy()
        facts.append(stylized_facts(k["open_time"].astype("int64").to_numpy() // 1000 * 1000
                                    if k["open_time"].dtype.kind == "M" else k["open_time"],
                                    k["high"].to_numpy(), k["low"].to_numpy(),
                                    k["close"].to_numpy(), k["volume"].to_numpy()))
    return facts, closes, shocks


def _range(values):
    return min(values), max(values)


def test_heavy_tails(real, synth):
    lo, hi = _range([f["kurtosis"] for f in real[0]])
    for f in synth[0]:
        assert lo / KURT_FACTOR <= f["kurtosis"] <= hi * KURT_FACTOR, (f["kurtosis"], lo, hi)
        assert f["kurtosis"] > 3  # clearly heavier than normal


def test_volatility_clustering(real, synth):
    real_acf = np.array([f["abs_acf"] for f in real[0]])
    gen_acf = np.mean([f["abs_acf"] for f in synth[0]], axis=0)
    for i, lag in enumerate(ACF_LAGS):
        lo, hi = real_acf[:, i].min(), real_acf[:, i].max()
        assert lo - ACF_TOL <= gen_acf[i] <= hi + ACF_TOL, (lag, gen_acf[i], lo, hi)
    assert gen_acf[0] > gen_acf[2] > gen_acf[3] > gen_acf[4]  # slow decay


def test_volume_rises_with_range(real, synth):
    lo, hi = _range([f["vol_range_corr"] for f in real[0]])
    for f in synth[0]:
        assert lo - VOL_RANGE_TOL <= f["vol_range_corr"] <= hi + VOL_RANGE_TOL


def test_intraday_profiles(real, synth):
    for key in ("range_profile", "vol_profile"):
        r = np.mean([f[key] for f in real[0]], axis=0)
        g = np.mean([f[key] for f in synth[0]], axis=0)
        assert profile_corr(r, g) >= PROFILE_MIN_CORR, key


def test_cross_asset_correlation(real, synth):
    def pair_corrs(closes):
        r = {s: np.diff(np.log(c)) for s, c in closes.items()}
        return [np.corrcoef(r[a], r[b])[0, 1] for i, a in enumerate(SYMBOLS) for b in SYMBOLS[i + 1:]]
    lo, hi = _range(pair_corrs(real[1]))
    g = np.mean(pair_corrs(synth[1]))
    assert lo - XCORR_TOL <= g <= hi + XCORR_TOL, (g, lo, hi)


def test_thin_bars_after_a_shock(real, synth):
    """The liquidity_vacuum detector's raw material: how often 3 thin bars (range above its
    trailing median, range / sqrt(volume) above its trailing 80th percentile) follow a natural
    4-sigma shock. Real volume jumps after a shock, so this is rare (0.06-0.10); a generator
    whose volume only follows the bar's range gets 0.24-0.27 and fires the detector ~3x too
    often."""
    lo, hi = _range([f["p_thin_after_shock"] for f in real[2]])
    n = np.array([f["n_shocks"] for f in synth[2]])
    p = np.array([f["p_thin_after_shock"] for f in synth[2]])
    pooled = float(np.dot(n, p) / n.sum())
    assert n.sum() >= 200, n  # enough natural shocks for the tolerance to mean something
    assert lo - THIN_TOL <= pooled <= hi + THIN_TOL, (pooled, lo, hi, n)


def test_volume_jumps_after_a_shock(real, synth):
    """After a shock real volume runs above what the bar's range predicts (volume excitation),
    and the rest of the volume noise is short-lived."""
    lo, hi = _range([f["vol_excess"][1] for f in real[2]])
    g = float(np.mean([f["vol_excess"][1] for f in synth[2]]))
    assert lo - VOL_EXCESS_TOL <= g <= hi + VOL_EXCESS_TOL, (g, lo, hi)
    lo, hi = _range([f["vol_resid_acf1"] for f in real[2]])
    for f in synth[2]:
        assert lo - VOL_ACF_TOL <= f["vol_resid_acf1"] <= hi + VOL_ACF_TOL, (f["vol_resid_acf1"], lo, hi)
