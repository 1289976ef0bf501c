"""The sample market's per-symbol state and the tables one symbol-month writes: perp klines,
liquidations, open interest and spot klines, built from the simulated path (docs/sample_data.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lifthouse.data.sample import episodes as ep
from lifthouse.data.sample import market as mk
from lifthouse.data.sample.params import MINUTES_PER_DAY, SymbolParams

LIQ_RATE = 1.0                  # base forced orders per minute (before the |move| boost)
OI_MINUTES_OF_VOLUME = 1200.0   # open interest ~ this many minutes of average volume
OI_JITTER_SHARE = 0.08          # share of OI stamps that arrive 1 s late (Binance quirk)
SPOT_VOLUME_SHARE = 0.1
TRADE_COUNT_MEAN = 2500.0
LIQ_SHARE = 0.002               # base liquidation notional / volume


@dataclass
class SymbolState:
    sp: SymbolParams
    key: int
    idio: np.ndarray
    vol_noise: np.ndarray       # log-volume noise components
    vol_exc: np.ndarray         # post-shock excitation kernels: volatility ...
    volume_exc: np.ndarray      # ... and volume
    logc: float
    spot_logc: float
    basis_slow: float
    oi_x: float
    oi_ema: float
    hist_r: np.ndarray
    hist_range: np.ndarray
    hist_vol: np.ndarray
    pending: np.ndarray
    blocked_until: int
    f_times: np.ndarray
    f_rates: np.ndarray


def kline_table(t_us, o, h, l, c, vol_usd, r, sig, taker_noise, count_noise, sp) -> pa.Table:
    vwap = (o + h + l + c) / 4.0
    volume = np.maximum(np.round(vol_usd / vwap, 3), 0.001)
    share = mk.taker_buy_share(r, sig, taker_noise)
    tbv = np.minimum(np.round(volume * share, 3), volume)
    count = np.maximum(1, np.round(TRADE_COUNT_MEAN * vol_usd / sp.volume_usd
                                   * np.exp(0.2 * count_noise))).astype(np.int64)
    return pa.table({
        "open_time": pa.array(t_us), "open": o, "high": h, "low": l, "close": c,
        "volume": volume, "quote_volume": np.round(volume * vwap, 2), "count": count,
        "taker_buy_volume": tbv, "taker_buy_quote_volume": np.round(tbv * vwap, 2),
    })


def liquidations_table(rngs: list[np.random.Generator], t_us, r, sig, h, l, mod, planted: ep.Planted, liq_min_usd: float,
                  sp: SymbolParams) -> pa.Table:
    # one stream per kind of draw, each consumed in bar order: rows before the first planted
    # drift are then identical in the planted and the null market
    r_count, r_size, r_side, r_burst, r_ms, r_price = rngs
    n = r.size
    zabs = np.minimum(np.abs(r) / sig, 8.0)
    lam = LIQ_RATE * np.exp(0.4 * zabs) / 1.45
    k = r_count.poisson(lam)
    bar = np.repeat(np.arange(n), k)
    # mean notional per order so that the base flow is ~LIQ_SHARE of volume
    mean_usd = liq_min_usd / LIQ_RATE
    notional = mean_usd * r_size.lognormal(-0.5 * 0.7 ** 2, 0.7, bar.size)
    p_sell = 0.5 - 0.4 * np.tanh(r[bar] / sig[bar])
    side = np.where(r_side.random(bar.size) < p_sell, "SELL", "BUY")
    bb, bn, bs = [bar], [notional], [side]
    for i, usd, sd in planted.liq_bursts:
        m = int(r_burst.integers(5, 16))
        wts = r_burst.lognormal(0.0, 0.8, m)
        bb.append(np.full(m, i))
        bn.append(usd * wts / wts.sum())
        bs.append(np.full(m, sd))
    bar = np.concatenate(bb)
    notional = np.concatenate(bn)
    side = np.concatenate(bs)
    order = np.argsort(bar, kind="stable")
    bar, notional, side = bar[order], notional[order], side[order]
    per = np.bincount(bar, minlength=n)
    first = np.concatenate([[0], np.cumsum(per)[:-1]])
    rank = np.arange(bar.size) - first[bar]
    ms = np.floor((rank + r_ms.random(bar.size)) * 60_000.0 / per[bar]).astype(np.int64)
    time = t_us[bar] + ms.astype("timedelta64[ms]").astype("timedelta64[us]")
    price = mk.round_to(l[bar] + r_price.random(bar.size) * (h[bar] - l[bar]), sp.tick)
    qty = np.maximum(np.round(notional / price, 3), 0.001)
    return pa.table({
        "time": pa.array(time), "side": pa.array(side.astype(str)), "price": price,
        "quantity": qty, "notional_usd": np.round(price * qty, 4),
    })


def open_interest_table(rng, st: SymbolState, t_us, g0: int, r, sig, c, planted: ep.Planted,
                   sp: SymbolParams) -> pa.Table:
    n = r.size
    alpha = 1.0 / 60.0
    ema, _ = mk.ar1(alpha * r, 1.0 - alpha, st.oi_ema)
    ema_prev = np.concatenate([[st.oi_ema], ema[:-1]])
    st.oi_ema = float(ema[-1])
    u = 0.5 * np.sign(ema_prev) * r - 1.0 * np.maximum(np.abs(r) - 3.0 * sig, 0.0)
    u += 6e-4 * rng.standard_normal(n)
    for i, dlog in planted.oi_drops:
        u[i] += dlog
    x, x_last = mk.ar1(u, 1.0 - 1.0 / (3 * MINUTES_PER_DAY), st.oi_x)
    x_before = np.concatenate([[st.oi_x], x[:-1]])   # OI at the bar's open = after the bar before
    c_before = np.concatenate([[np.exp(st.logc - r.sum())], c[:-1]])
    st.oi_x = x_last
    j = np.flatnonzero((g0 + np.arange(n)) % 5 == 0)
    oi0 = OI_MINUTES_OF_VOLUME * sp.volume_usd / sp.price0
    coins = np.round(oi0 * np.exp(x_before[j]), 3)
    value = np.round(coins * c_before[j], 2)
    jitter = rng.random(j.size) < OI_JITTER_SHARE
    for a, b in planted.no_jitter:
        jitter &= ~((j >= a) & (j <= b))
    stamp = t_us[j] + np.where(jitter, 1, 0).astype("timedelta64[s]").astype("timedelta64[us]")
    return pa.table({"timestamp": pa.array(stamp), "sum_open_interest": coins,
                     "sum_open_interest_value": value})


def spot_table(rng, st: SymbolState, t_us, logc, up, down, vol_usd, r, sig, carry, taker_noise,
          count_noise, sp: SymbolParams) -> pa.Table:
    n = r.size
    phi = mk.phi_of(360.0)
    slow, st.basis_slow = mk.ar1(0.8e-4 * np.sqrt(1 - phi * phi) * rng.standard_normal(n), phi,
                                 st.basis_slow)
    mean = np.choose(carry, [-2.0e-4, -3.0e-4, -4.5e-4])
    basis = mean + slow + 0.3e-4 * rng.standard_normal(n)   # log(perp / spot)
    s_logc = logc - basis
    s_r = np.diff(np.concatenate([[st.spot_logc], s_logc]))
    scale = rng.uniform(0.8, 1.2, (2, n))
    o, h, l, c, _ = mk.build_ohlc(st.spot_logc, s_r, up * scale[0], down * scale[1], sp.tick)
    st.spot_logc = float(s_logc[-1])
    s_vol = SPOT_VOLUME_SHARE * vol_usd * rng.lognormal(-0.045, 0.3, n)
    return kline_table(t_us, o, h, l, c, s_vol, s_r, sig, -taker_noise, count_noise, sp)
