"""The planted effects, checked from the generated bars (not from the truth file alone): each
planted episode shows what the default detector rules need at its confirming bar, and the
planted drift is there (planted minus null) with the right sign, only after confirmation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifthouse.data import raw
from lifthouse.data.sample import GroundTruth, generate
from lifthouse.data.sample.episodes import drift_weights
from lifthouse.data.sample.verify import (bar_features, episode_report, load_symbol,
                                     reference_detections)

WINDOW = dict(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), start="2025-01-01", end="2025-01-31",
              lookback_days=7, seed=11)
COSTS_BPS = 12.0  # ~round-trip taker fees and slippage downstream


@pytest.fixture(scope="module")
def markets(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, null in (("planted", False), ("null", True)):
        d = tmp_path_factory.mktemp(name)
        generate(d, null=null, **WINDOW)
        out[name] = d
    return out


@pytest.fixture(scope="module")
def reports(markets) -> dict[str, pd.DataFrame]:
    return {k: episode_report(d) for k, d in markets.items()}


def test_episode_counts_and_state_spread(markets):
    truth = GroundTruth.read(markets["planted"])
    eps = pd.DataFrame(truth.episodes)
    days = (pd.Timestamp(WINDOW["end"]) - pd.Timestamp(WINDOW["start"])).days
    per = eps.groupby(["symbol", "event_type"]).size()
    assert len(per) == 6
    # roughly 40-70 per symbol and type in 60 days
    assert ((per >= 15 * days / 60) & (per <= 90 * days / 60)).all(), per
    casc = eps[eps.event_type == "LIQUIDATION_CASCADE"]
    vac = eps[eps.event_type == "liquidity_vacuum"]
    for sub in (casc, vac):
        assert 0.25 <= sub["in_effect_state"].mean() <= 0.75
        assert set(sub["direction"]) == {1, -1}
    assert (casc["carry_state"] == "carry_pos").eq(casc["in_effect_state"]).all()
    assert (vac["vol_regime"] == "vol_high").eq(vac["in_effect_state"]).all()
    assert casc["carry_state"].nunique() == 3


def test_funding_occupancy(markets):
    truth = GroundTruth.read(markets["planted"])
    for symbol in WINDOW["symbols"]:
        f = raw.read_dataset(markets["planted"], "um_funding_rate", symbol).to_pandas()
        fr = f.loc[f["funding_time"] >= pd.Timestamp(WINDOW["start"]), "funding_rate"]
        pos, neg = (fr >= 0.00005).mean(), (fr < 0).mean()
        assert 0.40 <= pos <= 0.60 and 0.10 <= neg <= 0.25 and 0.25 <= 1 - pos - neg <= 0.40
        assert fr.abs().max() <= 0.0075
        assert truth.funding_occupancy[symbol]["carry_pos"] == pytest.approx(pos, abs=1e-4)


def test_cascades_meet_the_detector_rule(reports):
    rep = reports["planted"]
    c = rep[rep.event_type == "LIQUIDATION_CASCADE"]
    assert len(c) > 0
    assert (c["zmove_5m"].abs() >= 4).all()
    assert (np.sign(c["zmove_5m"]) == c["direction"]).all()
    assert (c["oi_chg_15m"] < -0.005).all()          # OI evidence
    assert (c["liq_ratio"] >= 10).all()              # liquidation evidence


def test_cascade_liquidations_hit_the_liquidated_side(markets):
    truth = GroundTruth.read(markets["planted"])
    liq = raw.read_dataset(markets["planted"], "um_liquidations", "BTCUSDT").to_pandas()
    for e in truth.episodes:
        if e["symbol"] != "BTCUSDT" or e["event_type"] != "LIQUIDATION_CASCADE":
            continue
        t0, t1 = pd.Timestamp(e["start"]), pd.Timestamp(e["detected_at"]) + pd.Timedelta(minutes=1)
        w = liq[(liq.time >= t0) & (liq.time < t1)]
        by_side = w.groupby("side")["notional_usd"].sum()
        liquidated = "SELL" if e["direction"] < 0 else "BUY"  # down move liquidates longs
        assert by_side.get(liquidated, 0.0) > 5 * by_side.drop(liquidated, errors="ignore").sum()


def test_vacuums_meet_the_detector_rule(reports):
    rep = reports["planted"]
    v = rep[rep.event_type == "liquidity_vacuum"]
    assert len(v) > 0
    assert (v["shock_sd"].abs() >= 4).all()
    assert (np.sign(v["shock_sd"]) == v["direction"]).all()
    assert (v["min_range_rel"] > 1).all()            # range stays wide
    assert (v["max_vol_rel"] < 0.5).all()            # on low volume
    assert (v["min_illiq_pct"] >= 0.9).all()         # illiquidity in its trailing top decile
    assert (v["zmove_5m"].abs() < 4).all()           # not a cascade


def test_reference_detector_finds_every_planted_episode(markets):
    d = markets["planted"]
    truth = GroundTruth.read(d)
    f = bar_features(load_symbol(d, "ETHUSDT"))
    det = reference_detections(f[f.index >= pd.Timestamp(truth.start)])
    found = set(zip(det.detected_at, det.event_type, det.direction))
    for e in truth.episodes:
        if e["symbol"] == "ETHUSDT":
            assert (pd.Timestamp(e["detected_at"]), e["event_type"], e["direction"]) in found


def test_planted_drift_is_exactly_planted_minus_null(reports, markets):
    p, n = reports["planted"], reports["null"]
    truth = GroundTruth.read(markets["planted"])
    amp = np.array([e["planted_drift_bps"] for e in truth.episodes])
    key = ["symbol", "event_type", "detected_at"]
    m = p.merge(n, on=key, suffixes=("", "_null"))
    assert len(m) == len(p) == len(truth.episodes)
    m = m.sort_values(["detected_at", "symbol", "event_type"]).reset_index(drop=True)
    w = np.cumsum(drift_weights())
    for h in (15, 60, 240):
        diff = (m[f"ret_{h}"] - m[f"ret_{h}_null"]).to_numpy()
        # in the effect's trade direction the drift adds amp * (share of the drift by bar h);
        # the tolerance covers price ticks
        assert np.allclose(diff, amp * w[h - 1], atol=0.5), h


def test_effect_state_beats_the_rest_and_costs(reports):
    p, n = reports["planted"], reports["null"]
    for ev in ("LIQUIDATION_CASCADE", "liquidity_vacuum"):
        sp = p[p.event_type == ev]
        in_state = sp[sp.in_effect_state]["ret_60"].mean()
        other = sp[~sp.in_effect_state]["ret_60"].mean()
        assert in_state > COSTS_BPS and in_state - other > 15, (ev, in_state, other)
        sn = n[n.event_type == ev]  # the same episodes in the null market: no state edge
        lift_null = sn[sn.in_effect_state]["ret_60"].mean() - sn[~sn.in_effect_state]["ret_60"].mean()
        assert abs(lift_null) < in_state - other


def test_no_leak_before_confirmation(markets):
    """Bars up to the confirming bar are identical with and without the planted drift."""
    truth = GroundTruth.read(markets["planted"])
    kp = raw.read_dataset(markets["planted"], "um_klines_1m", "SOLUSDT").to_pandas().set_index("open_time")
    kn = raw.read_dataset(markets["null"], "um_klines_1m", "SOLUSDT").to_pandas().set_index("open_time")
    for e in truth.episodes:
        if e["symbol"] != "SOLUSDT" or e["planted_drift_bps"] < 1:
            continue
        t = pd.Timestamp(e["detected_at"])
        # relative to the bar's open, the confirming bar is the same; the next bar is not
        rel = lambda k, ts: (k.loc[ts, "close"] / k.loc[ts, "open"])
        assert rel(kp, t) == pytest.approx(rel(kn, t), abs=2e-5)
        later = t + pd.Timedelta(minutes=30)
        assert kp.loc[later, "close"] / kp.loc[t, "close"] != pytest.approx(
            kn.loc[later, "close"] / kn.loc[t, "close"], abs=1e-5)
