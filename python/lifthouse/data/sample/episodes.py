"""Planting of the known effects: liquidation cascades and liquidity vacuums.

Planting works on the drift-free return path ("base + shapes"): an episode overrides the returns
of a few bars (the cascade or the shock and its thin bars) and registers a post-event drift that
starts at the bar after the confirming bar. Times, shapes and states never depend on the drift,
so ``--null`` (no drift) gives exactly the same episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lifthouse.data.sample.market import CARRY_NAMES, CARRY_POS, rolling_rms, rolling_std

DAY = 1440
SPACING_MIN = 300            # minutes between two episodes of one symbol (> longest horizon)
SETTLEMENT_GUARD_MIN = 15    # no episode within this many minutes of a funding settlement
DRIFT_LEN_MIN = 300          # planted drift is spread over this many bars after confirmation
DRIFT_TAU_MIN = 45.0         # ... front-loaded with this time constant
STEP_MIN = 840               # an episode's type waits this long after it ...
GAP_MEAN_MIN = 300.0         # ... plus an exponential gap with this mean
CASCADE_WEIGHTS = (1.0, 1.5, 2.0)   # early cascade bars, in trailing 24h sigmas (then the flush)
CASCADE_OI_SPLIT = np.array([0.15, 0.20, 0.25, 0.40])
CASCADE_LIQ_SPLIT = np.array([0.10, 0.15, 0.25, 0.50])
EFFECT_BPS = (70.0, 95.0)    # planted cascade drift in the effect's state (uniform range, bps)
# Planted vacuum drift in vol_high. Larger than the cascades': natural vacuums (a shock lifts the
# 60-minute vol, so nearly all of them are vol_high at detection) share the vol_high cell and
# carry a negative after-cost mean, and 45-65 bp was not detectable over them in 60 days.
VACUUM_EFFECT_BPS = (150.0, 190.0)
VACUUM_HIGH_SHARE = 0.75     # share of planted vacuums aimed at vol_high (the rest: the contrast)
OFF_EFFECT_BPS = (0.0, 10.0)  # ... and outside it
CALM_MIN = 90                # bars before an episode without shocks
VOL_WINDOW_5M = 7 * DAY // 5  # trailing 7 days of 5-minute samples for the vol tertiles


@dataclass
class Planted:
    """What planting one chunk produced (indices are chunk-relative)."""

    episodes: list[dict] = field(default_factory=list)
    range_override: dict[int, float] = field(default_factory=dict)    # log range
    volume_override: dict[int, float] = field(default_factory=dict)   # USD volume
    liq_bursts: list[tuple[int, float, str]] = field(default_factory=list)  # (bar, usd, side)
    oi_drops: list[tuple[int, float]] = field(default_factory=list)   # (bar, dlog OI)
    drifts: list[tuple[int, float]] = field(default_factory=list)     # (confirm bar, signed log)
    no_jitter: list[tuple[int, int]] = field(default_factory=list)    # bar ranges


def drift_weights(length: int = DRIFT_LEN_MIN, tau: float = DRIFT_TAU_MIN) -> np.ndarray:
    k = np.arange(1, length + 1, dtype=float)
    w = np.exp(-(k - 1) / tau) - np.exp(-k / tau)
    return w / w.sum()


def vol_tertiles(R: np.ndarray, g_first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rv_60m (rms of 1m log returns over 60 bars) and, point in time, the 1/3 and 2/3 quantiles
    of its 5-minute samples over the trailing 7 days (as-of: the last sample at or before the
    bar). ``g_first`` is the global minute index of R[0] (samples on global multiples of 5)."""
    rv = rolling_rms(R, 60)
    idx = np.flatnonzero((g_first + np.arange(R.size)) % 5 == 0)
    s = pd.Series(rv[idx])
    roll = s.rolling(VOL_WINDOW_5M, min_periods=288)
    q33 = roll.quantile(1 / 3).to_numpy()
    q67 = roll.quantile(2 / 3).to_numpy()
    pos = np.searchsorted(idx, np.arange(R.size), side="right") - 1
    ok = pos >= 0
    out33 = np.full(R.size, np.nan)
    out67 = np.full(R.size, np.nan)
    out33[ok] = q33[pos[ok]]
    out67[ok] = q67[pos[ok]]
    return rv, out33, out67


def _zmax(R: np.ndarray, J: int, k_from: int, k_to: int) -> float:
    """Largest |5-minute z-move| at bars J+k_from .. J+k_to (std over the trailing 1440 bars)."""
    out = 0.0
    for k in range(k_from, k_to + 1):
        t = J + k
        sd = R[t - DAY + 1:t + 1].std()
        out = max(out, abs(R[t - 4:t + 1].sum()) / (sd * np.sqrt(5.0)))
    return out


def _regime(rv: float, q33: float, q67: float) -> str:
    if not np.isfinite(q67):
        return "warmup"
    return "vol_high" if rv >= q67 else ("vol_low" if rv < q33 else "vol_mid")


def plant_chunk(R: np.ndarray, RNGL: np.ndarray, VOL: np.ndarray, offset: int, g0: int,
                times: np.ndarray, eligible: np.ndarray, carry: np.ndarray, funding: np.ndarray,
                rng: np.random.Generator, liq_5m_usd: float, blocked_until: int,
                symbol: str) -> Planted:
    """Plant episodes into the chunk R[offset:] (modified in place).

    R, RNGL, VOL: drift-free log returns, log ranges and USD volumes of the trailing history
    followed by the chunk; ``eligible``: chunk bars where an episode may start (inside the
    analysis window, away from its end); ``carry``/``funding``: carry state and last settled rate
    per chunk bar; ``liq_5m_usd``: the expected 5-minute liquidation notional (burst scale);
    ``blocked_until``: first global minute free after the previous chunk's last episode.
    """
    n = R.size - offset
    out = Planted()
    if n <= 0 or not eligible.any():
        return out
    sd24 = rolling_std(R, DAY)
    rv, q33, q67 = vol_tertiles(R, g0 - offset)
    j = np.arange(n)
    J = offset + j
    # a quiet approach: the 4 bars before the episode move less than 1 sigma in all
    pre = np.zeros(n)
    for k in range(1, 5):
        pre += R[np.maximum(J - k, 0)]
    base_ok = eligible & (J >= DAY + 5) & np.isfinite(sd24[np.maximum(J - 1, 0)])
    base_ok &= np.abs(pre) < sd24[np.maximum(J - 1, 0)]
    base_ok &= np.abs(R[np.maximum(J - 1, 0)]) < 1.5 * sd24[np.maximum(J - 1, 0)]
    base_ok &= (g0 + j) >= blocked_until
    # ... and a calm hour and a half before it (no 1m shock, no 5-minute move of 3.5 sigma), so
    # that no natural event's cooldown swallows the planted one
    sd_prev = np.concatenate([[np.nan], sd24[:-1]])
    shock = np.abs(R) / sd_prev
    move5 = np.abs(pd.Series(R).rolling(5).sum().to_numpy()) / (sd_prev * np.sqrt(5.0))
    calm = pd.Series(np.fmax(shock, move5)).rolling(CALM_MIN).max().to_numpy()
    base_ok &= calm[np.maximum(J - 1, 0)] < 3.5
    # Each type walks forward in time on its own cursor (the type furthest behind goes next);
    # a shared mask keeps every two episodes SPACING_MIN apart.
    free = np.ones(n, dtype=bool)
    cascade_slot = (g0 + j) % 5 == 1   # the flush bar closes on a 5-minute OI stamp
    cursor = {"C": 0, "V": 0}
    while min(cursor.values()) < n:
        kind = min(cursor, key=lambda k: (cursor[k], k))
        want_high = bool(rng.random() < (VACUUM_HIGH_SHARE if kind == "V" else 0.5))
        d = 1.0 if rng.random() < 0.5 else -1.0
        shock = rng.uniform(5.0, 6.0)
        z_target = rng.uniform(6.0, 9.0)
        noise = rng.standard_normal(3)
        u = rng.random(8)
        search = int(rng.integers(30, 240))
        cands = np.empty(0, dtype=np.int64)
        for wish in ((want_high, not want_high) if kind == "V" else (want_high,)):
            ok = base_ok & free
            ok[:cursor[kind]] = False
            ok[n - 8:] = False
            if kind == "C":
                ok &= cascade_slot
            else:
                conf = np.minimum(j + 3, n - 1)
                est = np.sqrt((rv[offset + conf] ** 2 * 60 + (shock * sd24[J - 1]) ** 2) / 60)
                thr = q67[offset + conf]
                ok &= np.isfinite(thr)
                ok &= (est >= 1.1 * thr) if wish else (est <= 0.9 * thr)
            cands = np.flatnonzero(ok)
            if cands.size and cands[0] < cursor[kind] + 360:
                want_high = wish
                break
        if cands.size == 0:
            cursor[kind] = n
            continue
        near = cands[cands < cands[0] + search]
        placed = None
        for pick in rng.permutation(near)[:20]:
            pick = int(pick)
            placed = (_place_cascade if kind == "C" else _place_vacuum)(
                R, RNGL, VOL, offset, pick, d, shock, z_target, noise, u, want_high,
                rv, q33, q67, carry, funding, liq_5m_usd, out)
            if placed is not None:
                conf_j = placed.pop("_conf")
                placed.update(symbol=symbol, start=str(times[pick].astype("datetime64[s]")),
                              detected_at=str(times[conf_j].astype("datetime64[s]")))
                out.episodes.append(placed)
                free[max(0, pick - SPACING_MIN):conf_j + SPACING_MIN] = False
                cursor[kind] = conf_j + STEP_MIN + int(rng.exponential(GAP_MEAN_MIN))
                break
        if placed is None:
            cursor[kind] = int(near[-1]) + 1
    out.episodes.sort(key=lambda e: e["detected_at"])
    return out


def _place_cascade(R, RNGL, VOL, offset, j, d, shock, z_target, noise, u, want_high,
                   rv, q33, q67, carry, funding, liq_5m_usd, out: Planted) -> dict | None:
    J = offset + j
    sd = R[J - DAY:J].std()
    saved = R[J:J + 4].copy()
    early = d * np.asarray(CASCADE_WEIGHTS) * sd + 0.25 * sd * noise
    R[J:J + 3] = early
    R[J + 3] = d * z_target * np.sqrt(5.0) * sd - (R[J - 1] + early.sum())
    if _zmax(R, J, 0, 2) >= 3.8 or d * R[J + 3] < 4 * sd:
        R[J:J + 4] = saved
        return None
    conf = j + 3
    sd_conf = R[J + 3 - DAY + 1:J + 4].std()
    z_conf = R[J - 1:J + 4].sum() / (sd_conf * np.sqrt(5.0))
    state = int(carry[conf])
    in_state = state == CARRY_POS
    lo, hi = EFFECT_BPS if in_state else OFF_EFFECT_BPS
    amp = lo + (hi - lo) * u[0]
    oi_drop = 0.012 + 0.018 * u[1]
    burst = liq_5m_usd * (40.0 + 60.0 * u[2])
    side = "SELL" if d < 0 else "BUY"
    for k in range(4):
        out.oi_drops.append((j + k, -oi_drop * CASCADE_OI_SPLIT[k]))
        out.liq_bursts.append((j + k, burst * CASCADE_LIQ_SPLIT[k], side))
    out.no_jitter.append((j - 30, j + 34))
    out.drifts.append((conf, -d * amp * 1e-4))
    rv_c = float(np.sqrt(np.mean(R[J + 3 - 59:J + 4] ** 2)))
    return {
        "_conf": conf,
        "event_type": "LIQUIDATION_CASCADE",
        "direction": int(d),
        "effect": "fade",
        "condition": "carry_pos",
        "in_effect_state": bool(in_state),
        "carry_state": CARRY_NAMES[state],
        "funding_rate": float(funding[conf]),
        "vol_regime": _regime(rv_c, q33[J + 3], q67[J + 3]),
        "z_move_5m": round(float(z_conf), 3),
        "oi_drop_pct": round(100 * (1 - np.exp(-oi_drop)), 3),
        "liq_burst_usd": round(float(burst), 2),
        "planted_drift_bps": round(float(amp), 3),
    }


def _place_vacuum(R, RNGL, VOL, offset, j, d, shock, z_target, noise, u, want_high,
                  rv, q33, q67, carry, funding, liq_5m_usd, out: Planted) -> dict | None:
    J = offset + j
    sd = R[J - DAY:J].std()
    saved = R[J:J + 4].copy()
    R[J] = d * shock * sd
    signs = np.array([1.0, -1.0, 1.0 if u[3] < 0.5 else -1.0]) * (1.0 if u[4] < 0.5 else -1.0)
    R[J + 1:J + 4] = signs * (0.5 + 0.5 * u[5:8]) * sd
    conf = j + 3
    rv_c = float(np.sqrt(np.mean(R[J + 3 - 59:J + 4] ** 2)))
    thr = q67[J + 3]
    state_ok = (rv_c >= 1.05 * thr) if want_high else (rv_c <= 0.95 * thr)
    if not state_ok or _zmax(R, J, 0, 3) >= 3.6:
        R[J:J + 4] = saved
        return None
    med_range = float(np.median(RNGL[J - DAY:J]))
    med_vol = float(np.median(VOL[J - DAY:J]))
    for k in range(1, 4):
        target = max(med_range * (1.8 + 1.0 * u[k]), 1.2 * abs(R[J + k]))
        out.range_override[j + k] = target
        out.volume_override[j + k] = med_vol * (0.12 + 0.13 * u[(k + 4) % 8])
    lo, hi = VACUUM_EFFECT_BPS if want_high else OFF_EFFECT_BPS
    amp = lo + (hi - lo) * u[0]
    out.drifts.append((conf, d * amp * 1e-4))
    return {
        "_conf": conf,
        "event_type": "liquidity_vacuum",
        "direction": int(d),
        "effect": "follow",
        "condition": "vol_high",
        "in_effect_state": bool(want_high),
        "carry_state": CARRY_NAMES[int(carry[conf])],
        "funding_rate": float(funding[conf]),
        "vol_regime": _regime(rv_c, q33[J + 3], q67[J + 3]),
        "rv_60m": float(rv_c),
        "vol_q67": float(thr),
        "shock_sigma": round(float(shock), 3),
        "planted_drift_bps": round(float(amp), 3),
    }
