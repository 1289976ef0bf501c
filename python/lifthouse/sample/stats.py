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
