"""Stylized facts of 1m bars: the yardsticks used to calibrate the sample market against real data.

Pure numpy; every function takes plain arrays so tests and the calibration report share them.
"""

from __future__ import annotations

import numpy as np

ACF_LAGS = (1, 5, 30, 120, 600)


def log_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close log returns (length n - 1)."""
    c = np.asarray(close, dtype=float)
    return np.diff(np.log(c))


def excess_kurtosis(x: np.ndarray) -> float:
    """Sample excess kurtosis (Fisher, biased estimator: 0 for a normal)."""
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    m2 = np.mean(d * d)
    return float(np.mean(d ** 4) / (m2 * m2) - 3.0)


def abs_acf(x: np.ndarray, lags: tuple[int, ...] = ACF_LAGS) -> np.ndarray:
    """Autocorrelation of |x - mean| at the given lags (volatility clustering)."""
    a = np.abs(np.asarray(x, dtype=float) - np.mean(x))
    a = a - a.mean()
    var = np.dot(a, a) / a.size
    return np.array([np.dot(a[:-lag], a[lag:]) / a.size / var for lag in lags])


def hourly_profile(values: np.ndarray, minute_of_day: np.ndarray) -> np.ndarray:
    """Mean of ``values`` per UTC hour, divided by the overall mean (24 numbers around 1)."""
    hour = (np.asarray(minute_of_day) // 60).astype(int)
    sums = np.bincount(hour, weights=values, minlength=24)
    counts = np.bincount(hour, minlength=24)
    prof = sums / np.maximum(counts, 1)
    return prof / prof.mean()


def bar_range(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Bar range relative to price: log(high / low)."""
    return np.log(np.asarray(high, dtype=float) / np.asarray(low, dtype=float))


def stylized_facts(open_time_us: np.ndarray, high: np.ndarray, low: np.ndarray,
                   close: np.ndarray, volume: np.ndarray) -> dict[str, object]:
    """The calibration yardsticks of one symbol's 1m bars (a gapless minute grid)."""
    r = log_returns(close)
    rng = bar_range(high, low)
    minute = (np.asarray(open_time_us, dtype=np.int64) // 60_000_000) % 1440
    return {
        "n_bars": int(len(close)),
        "std_bps": float(r.std() * 1e4),
        "kurtosis": excess_kurtosis(r),
        "abs_acf": abs_acf(r),
        "vol_range_corr": float(np.corrcoef(volume, rng)[0, 1]),
        "range_over_std": float(rng.mean() / r.std()),
        "vol_profile": hourly_profile(np.asarray(volume, dtype=float), minute),
        "range_profile": hourly_profile(rng, minute),
    }


def profile_corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------- post-shock dynamics
# The liquidity_vacuum detector's default rule (dbt vars vacuum_*), re-implemented on plain
# arrays: a shock bar |r| >= 4 x trailing-24h std, then thin bars (range_rel above its trailing
# median and illiquidity = range_rel / sqrt(USD notional) above its trailing 80th percentile;
# both percentiles over the 24h before the bar, on a 5-minute sample, the bar itself excluded).

SHOCK_SIGMA = 4.0
THIN_MINUTES = 3
BASELINE_MIN = 1440
SAMPLE_MIN = 5
RANGE_Q = 0.5
ILLIQ_Q = 0.8
COOLDOWN_MIN = 30
POST_SHOCK_LAGS = (1, 3, 10)


def _trailing_sampled_quantile(x: np.ndarray, minute_index: np.ndarray, q: float) -> np.ndarray:
    """Per bar, the q-quantile of ``x`` over the trailing 24h of 5-minute samples, as of the
    last sample strictly before the bar (so a bar never enters its own threshold); NaN until 90%
    of the window's samples are there. ``minute_index``: minutes since epoch of each bar."""
    import pandas as pd

    idx = np.flatnonzero(minute_index % SAMPLE_MIN == 0)
    w = BASELINE_MIN // SAMPLE_MIN
    thr = pd.Series(x[idx]).rolling(w, min_periods=int(np.ceil(0.9 * w))).quantile(q).to_numpy()
    pos = np.searchsorted(idx, np.arange(x.size), side="left") - 1   # last sample < bar
    out = np.full(x.size, np.nan)
    ok = pos >= 0
    out[ok] = thr[pos[ok]]
    return out


def vacuum_flags(open_time_us: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                 volume: np.ndarray) -> dict[str, np.ndarray]:
    """Shock and thin flags per bar (gapless 1m grid; ``volume`` in coins, notional = volume x
    close), with the detector's default thresholds. Returns arrays of the bars' length:
    ``r`` (log return, NaN first), ``sd24`` (trailing 24h std incl. the bar), ``shock``,
    ``thin``, ``range_rel``, ``notional``."""
    import pandas as pd

    c = np.asarray(close, dtype=float)
    h = np.asarray(high, dtype=float)
    lo = np.asarray(low, dtype=float)
    r = np.concatenate([[np.nan], np.diff(np.log(c))])
    sd24 = pd.Series(r).rolling(BASELINE_MIN, min_periods=int(0.9 * BASELINE_MIN)).std().to_numpy()
    range_rel = (h - lo) / c
    notional = np.asarray(volume, dtype=float) * c
    with np.errstate(divide="ignore", invalid="ignore"):
        illiq = range_rel * 1e4 / np.sqrt(notional / 1e6)
    minute = np.asarray(open_time_us, dtype=np.int64) // 60_000_000
    range_thr = _trailing_sampled_quantile(range_rel, minute, RANGE_Q)
    illiq_thr = _trailing_sampled_quantile(illiq, minute, ILLIQ_Q)
    with np.errstate(invalid="ignore"):
        shock = np.abs(r) >= SHOCK_SIGMA * sd24
        thin = (range_rel > range_thr) & (illiq > illiq_thr)
    return {"r": r, "sd24": sd24, "shock": shock, "thin": thin, "range_rel": range_rel,
            "notional": notional}


def _acf1(x: np.ndarray) -> float:
    x = x[np.isfinite(x)] if x.ndim == 1 else x
    d = x - x.mean()
    return float(np.dot(d[:-1], d[1:]) / np.dot(d, d))


def post_shock_stats(open_time_us: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, *, exclude: np.ndarray | None = None,
                     lags: tuple[int, ...] = POST_SHOCK_LAGS) -> dict[str, object]:
    """What happens after a 1m shock (|r| >= 4 trailing-24h sigma), on one symbol's gapless 1m
    bars: the yardsticks of the liquidity_vacuum calibration.

    - ``p_thin_after_shock``: share of shocks followed by 3 thin bars (the detector's rule);
    - ``vacuums_per_day``: shock + 3 thin bars, with the 30-minute cooldown, per day;
    - ``vol_excess``: mean residual of log notional on log range (one OLS over all bars) at
      ``lags`` bars after the shock: volume above what the bar's range predicts;
    - ``range_excess``: mean log(range / trailing-24h median range) at the same lags;
    - ``vol_resid_acf1`` / ``log_vol_acf1``: lag-1 autocorrelation of that residual / of log
      notional (persistence of volume).

    ``exclude``: optional boolean mask of bars whose shocks are ignored (e.g. planted episodes).
    Shocks without a full trailing 24h or too close to the end are skipped.
    """
    import pandas as pd

    f = vacuum_flags(open_time_us, high, low, close, volume)
    n = f["r"].size
    rr, nv = f["range_rel"], f["notional"]
    ok = (rr > 0) & (nv > 0)
    lx = np.where(ok, np.log(np.where(ok, rr, 1.0)), np.nan)
    ly = np.where(ok, np.log(np.where(ok, nv, 1.0)), np.nan)
    b, a = np.polyfit(lx[ok], ly[ok], 1)
    resid = ly - (a + b * lx)
    med_range = pd.Series(rr).rolling(BASELINE_MIN, min_periods=int(0.9 * BASELINE_MIN)).median()
    med_range = np.concatenate([[np.nan], med_range.to_numpy()[:-1]])   # the 24h before the bar
    with np.errstate(divide="ignore", invalid="ignore"):
        lrange = np.log(rr / med_range)
    tmax = max(max(lags), THIN_MINUTES)
    shock = f["shock"].copy()
    shock[n - tmax:] = False
    shock &= np.isfinite(f["sd24"])
    if exclude is not None:
        shock &= ~np.asarray(exclude, dtype=bool)
    s = np.flatnonzero(shock)
    thin = f["thin"]
    run = np.ones(s.size, dtype=bool)
    for k in range(1, THIN_MINUTES + 1):
        run &= thin[s + k]
    # detector episodes: confirmations (shock + THIN_MINUTES) with a cooldown between them
    conf = s[run] + THIN_MINUTES
    n_vac, last = 0, -10 ** 9
    for t in conf:
        if t - last > COOLDOWN_MIN:
            n_vac += 1
        last = t
    days = n / 1440.0
    return {
        "n_bars": int(n),
        "n_shocks": int(s.size),
        "shocks_per_day": float(s.size / days),
        "p_thin_after_shock": float(run.mean()) if s.size else float("nan"),
        "vacuums_per_day": float(n_vac / days),
        "vol_excess": {k: float(np.nanmean(resid[s + k])) for k in (0, *lags)},
        "range_excess": {k: float(np.nanmean(lrange[s + k])) for k in (0, *lags)},
        "vol_resid_acf1": _acf1(resid[np.isfinite(resid)]),
        "log_vol_acf1": _acf1(ly[np.isfinite(ly)]),
        "vol_range_slope": float(b),
    }
