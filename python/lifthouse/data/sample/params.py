"""Parameters of the sample market: per-symbol levels and the shared model constants.

Every constant here was chosen by calibrating against the real Binance 1m data (see
docs/sample_data.md for targets and achieved values).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

MINUTES_PER_DAY = 1440

# Hourly (UTC) multipliers, mean 1, measured on real 1m bars (average of BTC, ETH, SOL,
# 2025-05-05 .. 2025-06-23, rounded): volatility (bar range) and volume.
VOL_PROFILE = np.array([
    1.25, 1.14, 0.99, 0.83, 0.74, 0.70, 0.74, 0.86, 0.88, 0.83, 0.80, 0.80,
    0.93, 1.27, 1.40, 1.24, 1.18, 1.16, 1.13, 1.07, 1.04, 0.98, 1.06, 0.98,
])
VOLUME_PROFILE = np.array([
    1.24, 1.00, 0.89, 0.72, 0.65, 0.60, 0.69, 0.93, 0.91, 0.83, 0.76, 0.87,
    1.01, 1.51, 1.74, 1.39, 1.27, 1.33, 1.07, 0.99, 0.99, 0.75, 0.96, 0.89,
])


@dataclass(frozen=True)
class ModelParams:
    """Constants of the return / volume model (shared by all symbols)."""

    # log-volatility: AR(1) components (half-life in minutes, stationary sd); the market part is
    # shared by every symbol, the idiosyncratic part is per symbol
    market_vol_components: tuple[tuple[float, float], ...] = (
        (10.0, 0.20), (120.0, 0.35), (720.0, 0.30), (4320.0, 0.25))
    idio_vol_components: tuple[tuple[float, float], ...] = (
        (3.0, 0.20), (60.0, 0.15), (1440.0, 0.10))
    t_df: float = 5.0                 # Student-t innovations (heavy tails)
    beta: float = 0.93                # loading on the common return factor
    # bar range: extra excursion beyond open/close, in units of the bar's sigma
    wick_scale: float = 0.30
    # volume: (range / expected range) ** gamma * hourly extra * lognormal noise; the noise is a
    # sum of AR(1) components (half-life in minutes, sd; half-life 0 = independent per bar):
    # mostly bar-to-bar noise plus a slower level, so its lag-1 autocorrelation is near the real
    # 0.43-0.53 (a single 3-minute AR(1) gave 0.80)
    volume_gamma: float = 0.95
    volume_noise_components: tuple[tuple[float, float], ...] = ((0.0, 0.30), (60.0, 0.22))
    # post-shock excitation (Hawkes / EGARCH-like): a large move adds a mark
    # log(|move| / threshold) (0 below the threshold) to exponentially decaying kernels
    # (half-life in minutes, weight per unit mark). No recursion and no look-ahead:
    # ... the log volatility of the FOLLOWING bars, driven by the bar's standardised innovation
    # z (|z| > shock_z0): ranges stay wide after a shock
    shock_z0: float = 2.0
    vol_excite_cap: float = 1.0       # the summed excitation saturates (cap * tanh(x / cap))
    vol_excite: tuple[tuple[float, float], ...] = ((2.0, 0.45), (30.0, 0.12))
    # ... the log volume of the shock bar itself and the following bars, driven by the drift-free
    # move against the std of the 24h before it (|r| / sd24 > volume_shock_z0): real volume after
    # a 4-sigma shock runs 0.4-1.2 (log) above what the bar's range predicts
    volume_shock_z0: float = 2.5
    volume_excite_cap: float = 1.5
    volume_excite: tuple[tuple[float, float], ...] = ((1.5, 0.70), (15.0, 0.22))

    @property
    def volume_noise_var(self) -> float:
        return float(sum(sd * sd for _, sd in self.volume_noise_components))


MODEL = ModelParams()


@dataclass(frozen=True)
class SymbolParams:
    symbol: str
    price0: float          # first open at the start of the lookback
    sigma_bps: float       # average 1m return std, bps
    volume_usd: float      # average 1m volume in USD
    tick: float            # price tick

    @property
    def sigma(self) -> float:
        return self.sigma_bps * 1e-4


KNOWN_SYMBOLS: dict[str, SymbolParams] = {
    "BTCUSDT": SymbolParams("BTCUSDT", 95_000.0, 6.0, 6.0e6, 0.1),
    "ETHUSDT": SymbolParams("ETHUSDT", 3_350.0, 10.0, 5.0e6, 0.01),
    "SOLUSDT": SymbolParams("SOLUSDT", 195.0, 11.0, 1.6e6, 0.001),
}


def symbol_key(symbol: str) -> int:
    """A stable integer for a symbol (seed derivation; Python's hash() is salted)."""
    return zlib.crc32(symbol.encode("ascii"))


def tick_for(price: float) -> float:
    """About five significant digits of price precision (BTC 0.1, ETH 0.01, SOL 0.001)."""
    return float(10.0 ** (np.floor(np.log10(price)) - 5))


def synthetic_symbols(n: int) -> tuple[str, ...]:
    return tuple(f"S{i:03d}USDT" for i in range(1, n + 1))


def symbol_params(symbol: str, seed: int) -> SymbolParams:
    """Known majors use fixed levels; synthetic names draw theirs from (seed, symbol)."""
    if symbol in KNOWN_SYMBOLS:
        return KNOWN_SYMBOLS[symbol]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, symbol_key(symbol), 99])))
    price = float(np.exp(rng.uniform(np.log(0.05), np.log(500.0))))
    price = round(price, 6 - int(np.floor(np.log10(price))))
    return SymbolParams(symbol, price, float(rng.uniform(8.0, 16.0)),
                        float(np.exp(rng.uniform(np.log(2e5), np.log(3e6)))), tick_for(price))
