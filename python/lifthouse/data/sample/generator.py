"""The sample market generator: streams month by month, symbol by symbol, into the raw layer.

``generate(data_dir, seed=7, null=False, symbols=..., start=..., end=..., lookback_days=7)``
writes um_klines_1m, spot_klines_1m, um_funding_rate, um_open_interest_5m and um_liquidations
through :func:`lifthouse.data.raw.write_dataset`, plus ``<data_dir>/_sample/ground_truth.json`` (the
planted episodes and hypotheses). With ``bar_minutes=5`` it also writes um_klines_5m and
spot_klines_5m, its 1m klines aggregated (:func:`lifthouse.data.bars.aggregate_klines`). Memory
is bounded by one month of one symbol plus a 7-day history buffer per symbol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from lifthouse import defaults
from lifthouse.data import raw
from lifthouse.data.bars import aggregate_klines
from lifthouse.data.schema import (RawDataError, check_bar_minutes, perp_klines_dataset,
                                   spot_klines_dataset)
from lifthouse.data.sample import episodes as ep
from lifthouse.data.sample import market as mk
from lifthouse.data.sample.params import MINUTES_PER_DAY, MODEL, symbol_key, symbol_params
from lifthouse.data.sample.tables import (SymbolState, kline_table, liquidations_table,
                                         open_interest_table, spot_table)
from lifthouse.data.sample.target import (ALL_SAMPLE_DATASETS, SAMPLE_DATASETS,  # noqa: F401
                                         TRUTH_DIR, TRUTH_FILE, check_target, check_window,
                                         existing_sample_files, sample_datasets)

GENERATOR_VERSION = "3"  # 3: files record their origin (raw.ORIGIN_KEY)
FUNDING_LEAD_DAYS = 3           # funding starts this many days before the first bar
HIST = 7 * MINUTES_PER_DAY + 120  # trailing history kept per symbol (vol tertiles need 7 days)
TAIL_FREE_MIN = 6 * 60          # no episode in the last 6 hours of the window
LIQ_SHARE = 0.002               # base liquidation notional / volume
OCCUPANCY_BOX = {0: (0.40, 0.60), 1: (0.25, 0.40), 2: (0.10, 0.25)}

# streams of the per-(symbol, month) generators
S_VOL, S_RET, S_BAR, S_PLANT, S_LIQ, S_OI, S_SPOT = range(7)


@dataclass
class GroundTruth:
    seed: int
    null: bool
    symbols: list[str]
    start: str
    end: str
    lookback_days: int
    bars_start: str
    funding_start: str
    episodes: list[dict]
    hypotheses: list[dict]
    funding_occupancy: dict[str, dict[str, float]]
    rows_written: dict[str, int] = field(default_factory=dict)
    generator_version: str = GENERATOR_VERSION
    bar_minutes: int = 1

    def params(self) -> dict:
        """The generation's parameters (``bar_minutes`` only when not 1: a 1m generation's
        ground truth is the same as before 5m bars existed)."""
        out = {"seed": self.seed, "null": self.null, "symbols": self.symbols, "start": self.start,
               "end": self.end, "lookback_days": self.lookback_days,
               "generator_version": self.generator_version}
        if self.bar_minutes != 1:
            out["bar_minutes"] = self.bar_minutes
        return out

    def to_dict(self) -> dict:
        return {
            "generator": "lifthouse.data.sample", "generator_version": self.generator_version,
            "params": self.params(), "seed": self.seed, "null": self.null,
            "symbols": self.symbols, "window": {"start": self.start, "end": self.end,
                                                 "lookback_days": self.lookback_days,
                                                 "bars_start": self.bars_start,
                                                 "funding_start": self.funding_start},
            "hypotheses": self.hypotheses, "funding_occupancy": self.funding_occupancy,
            "rows_written": self.rows_written, "n_episodes": len(self.episodes),
            "episodes": self.episodes,
        }

    def write(self, data_dir: Path) -> Path:
        path = Path(data_dir) / TRUTH_DIR / TRUTH_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, data_dir: str | Path) -> "GroundTruth":
        d = json.loads((Path(data_dir) / TRUTH_DIR / TRUTH_FILE).read_text())
        w = d["window"]
        return cls(d["seed"], d["null"], d["symbols"], w["start"], w["end"], w["lookback_days"],
                   w["bars_start"], w["funding_start"], d["episodes"], d["hypotheses"],
                   d["funding_occupancy"], d.get("rows_written", {}), d["generator_version"],
                   int((d.get("params") or {}).get("bar_minutes", 1)))


def hypotheses(null: bool) -> list[dict]:
    lo, hi = ep.EFFECT_BPS
    olo, ohi = ep.OFF_EFFECT_BPS
    z = 0.0 if null else None
    def planted(event_type: str, condition: str, rule: str, improves: str, state_rule: str):
        return {"event_type": event_type, "condition": condition, "direction_rule": rule,
                "horizons_min": [15, 60, 240],
                "drift_bps_in_state": [z, z] if null else [lo, hi],
                "drift_bps_otherwise": [z, z] if null else [olo, ohi],
                "expected": "no edge (null market)" if null else improves,
                "state_rule": state_rule}

    return [
        planted("LIQUIDATION_CASCADE", "carry_pos", "fade", "carry_pos improves the fade",
                "last settled funding_rate >= 0.00005 (0.5 bp)"),
        planted("liquidity_vacuum", "vol_high", "follow", "vol_high improves the follow",
                "rv_60m >= 2/3 quantile of its trailing 7-day 5-minute samples"),
    ]


def _minute(ts: str) -> np.datetime64:
    return np.datetime64(ts, "m")


def _month_chunks(first: np.datetime64, end: np.datetime64) -> list[tuple[np.datetime64, np.datetime64]]:
    chunks = []
    a = first
    while a < end:
        b = min((a.astype("datetime64[M]") + 1).astype("datetime64[m]"), end)
        chunks.append((a, b))
        a = b
    return chunks


def _funding(seed: int, key: int, f_start: np.datetime64, end: np.datetime64, start: np.datetime64
             ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    times = np.arange(f_start, end, np.timedelta64(8 * 60, "m"))
    in_win = times >= start
    for attempt in range(200):
        states, rates = mk.funding_path(mk.rng_for(seed, key, 0, 100 + attempt), times.size)
        occ = {s: float(np.mean(states[in_win] == s)) if in_win.any() else 0.0 for s in range(3)}
        if all(lo <= occ[s] <= hi for s, (lo, hi) in OCCUPANCY_BOX.items()):
            break
    occ_named = {mk.CARRY_NAMES[s]: round(v, 4) for s, v in occ.items()}
    return times, rates, occ_named


def _init_state(seed: int, symbol: str, f_start, end, start) -> tuple[SymbolState, dict]:
    sp = symbol_params(symbol, seed)
    key = symbol_key(symbol)
    f_times, f_rates, occ = _funding(seed, key, f_start, end, start)
    logc = float(np.log(sp.price0))
    st = SymbolState(sp, key, np.zeros(len(MODEL.idio_vol_components)),
                      np.zeros(len(MODEL.volume_noise_components)),
                      np.zeros(len(MODEL.vol_excite)), np.zeros(len(MODEL.volume_excite)), logc,
                      logc + 3e-4, 0.0, 0.0, 0.0, np.empty(0), np.empty(0), np.empty(0),
                      np.empty(0), 0, f_times, f_rates)
    return st, occ


def generate(data_dir: str | Path | None = None, *, seed: int = defaults.SAMPLE_SEED,
             null: bool = False, symbols: tuple[str, ...] | list[str] = defaults.SYMBOLS,
             start: str = defaults.START_DATE, end: str = defaults.END_DATE,
             lookback_days: int = defaults.LOOKBACK_DAYS, force: bool = False,
             progress=None, bar_minutes: int = 1) -> GroundTruth:
    """Generate the sample market into ``data_dir`` (default: the raw data dir) and return the
    ground truth (also written to ``<data_dir>/_sample/ground_truth.json``). ``bar_minutes``
    5 also writes um_klines_5m and spot_klines_5m: the 1m klines aggregated, month by month
    (every 5-minute slot of the 1m bars; the planted episodes stay in 1m times)."""
    bar_minutes = check_bar_minutes(bar_minutes)
    data_dir = raw.resolve_data_dir(data_dir)
    symbols = [raw.normalize_symbol(s) for s in symbols]
    if len(set(symbols)) != len(symbols) or not symbols:
        raise RawDataError(f"symbols must be distinct and non-empty, got {symbols}")
    t_start, t_end = _minute(start), _minute(end)
    if t_end <= t_start:
        raise RawDataError(f"end {end} must be after start {start}")
    check_window(t_end, lookback_days)
    bars_start = t_start - np.timedelta64(lookback_days * MINUTES_PER_DAY, "m")
    f_start = (bars_start - np.timedelta64(FUNDING_LEAD_DAYS * MINUTES_PER_DAY, "m"))
    f_start = f_start.astype("datetime64[D]").astype("datetime64[m]")
    truth = GroundTruth(seed, null, symbols, str(t_start), str(t_end), lookback_days,
                        str(bars_start), str(f_start), [], hypotheses(null), {},
                        bar_minutes=bar_minutes)
    check_target(data_dir, symbols, truth.params(), force)

    rows = dict.fromkeys(sample_datasets(bar_minutes), 0)
    states: dict[str, SymbolState] = {}
    for s in symbols:
        st, occ = _init_state(seed, s, f_start, t_end, t_start)
        states[s] = st
        truth.funding_occupancy[s] = occ
        table = pa.table({"funding_time": pa.array(st.f_times.astype("datetime64[us]")),
                          "funding_rate": pa.array(st.f_rates)})
        raw.write_dataset(data_dir, "um_funding_rate", s, table, source="lifthouse sample",
                          origin=raw.GENERATED)
        rows["um_funding_rate"] += table.num_rows
    market_vol = np.zeros(len(MODEL.market_vol_components))
    g_start = int((t_start - bars_start) // np.timedelta64(1, "m"))
    g_last_ok = int((t_end - bars_start) // np.timedelta64(1, "m")) - TAIL_FREE_MIN
    for c0, c1 in _month_chunks(bars_start, t_end):
        n = int((c1 - c0) // np.timedelta64(1, "m"))
        g0 = int((c0 - bars_start) // np.timedelta64(1, "m"))
        mkey = int(c0.astype("datetime64[M]").astype(np.int64))
        times = c0 + np.arange(n).astype("timedelta64[m]")
        mod = (times.astype(np.int64) % MINUTES_PER_DAY)
        rm_vol = mk.rng_for(seed, 0, mkey, S_VOL)
        h_m, market_vol = mk.log_vol(rm_vol, n, MODEL.market_vol_components, market_vol)
        z_m = mk.t_innovations(mk.rng_for(seed, 0, mkey, S_RET), n, MODEL.t_df)
        g = g0 + np.arange(n)
        eligible = (g >= g_start) & (g < g_last_ok)
        for s in symbols:
            counts = _symbol_month(data_dir, states[s], seed, null, mkey, times, mod, g0,
                                   h_m, z_m, eligible, truth, bar_minutes)
            for k, v in counts.items():
                rows[k] += v
        if progress is not None:
            progress(str(c0.astype("datetime64[M]")), sum(rows.values()))
    truth.rows_written = rows
    truth.episodes.sort(key=lambda e: (e["detected_at"], e["symbol"], e["event_type"]))
    truth.write(data_dir)
    return truth


def _symbol_month(data_dir: Path, st: SymbolState, seed: int, null: bool, mkey: int,
                  times: np.ndarray, mod: np.ndarray, g0: int, h_m: np.ndarray, z_m: np.ndarray,
                  eligible: np.ndarray, truth: GroundTruth, bar_minutes: int = 1
                  ) -> dict[str, int]:
    sp, n = st.sp, times.size
    rng = {k: mk.rng_for(seed, st.key, mkey, k) for k in (S_VOL, S_RET, S_BAR, S_PLANT, S_LIQ,
                                                            S_OI, S_SPOT)}
    h_s, st.idio = mk.log_vol(rng[S_VOL], n, MODEL.idio_vol_components, st.idio)
    b = MODEL.beta
    z = b * z_m + np.sqrt(1 - b * b) * mk.t_innovations(rng[S_RET], n, MODEL.t_df)
    # post-shock excitation: a large |z| widens the following bars (volatility) and raises the
    # volume of its own and the following bars; driven by the innovations, never by later bars
    h_x, st.vol_exc = mk.excitation(mk.shock_mark(z, MODEL.shock_z0), MODEL.vol_excite,
                                    st.vol_exc, lagged=True, cap=MODEL.vol_excite_cap)
    sig = mk.bar_sigma(sp.sigma, h_m + h_s + h_x, mod)
    r0 = sig * z
    # ... the volume by the natural move against the std of the 24h before it (the planted
    # shapes of earlier months included, this month's not yet planted)
    sd_before = mk.rolling_std(np.concatenate([st.hist_r, r0]), MINUTES_PER_DAY)
    sd_before = np.concatenate([[np.nan], sd_before[:-1]])[st.hist_r.size:]
    with np.errstate(invalid="ignore", divide="ignore"):
        move = np.abs(r0) / sd_before
    v_x, st.volume_exc = mk.excitation(mk.shock_mark(move, MODEL.volume_shock_z0),
                                       MODEL.volume_excite, st.volume_exc, lagged=False,
                                       cap=MODEL.volume_excite_cap)
    rb = rng[S_BAR]
    wick_u = rb.standard_exponential((2, n))
    eta, st.vol_noise = mk.volume_noise(rb, n, MODEL.volume_noise_components, st.vol_noise)
    eta = eta + v_x
    taker_noise = rb.standard_normal(n)
    count_noise = rb.standard_normal(n)
    up, down = mk.log_ranges(r0, sig, wick_u)

    # carry state per bar: the last settled funding rate (settlement at or before the bar)
    fi = np.searchsorted(st.f_times, times, side="right") - 1
    f_rate = np.where(fi >= 0, st.f_rates[np.maximum(fi, 0)], 0.0)
    carry = mk.carry_state_of(f_rate)
    near = np.zeros(n, dtype=bool)
    sett = (st.f_times - times[0]).astype(np.int64)
    for k in sett[(sett > -60) & (sett < n + 60)]:
        near[max(0, k - ep.SETTLEMENT_GUARD_MIN - 10):max(0, k + ep.SETTLEMENT_GUARD_MIN + 1)] = True

    # planting on the drift-free path, with the trailing history in front
    nominal_range = np.abs(r0) + up + down
    nominal_vol = mk.nominal_volume_usd(nominal_range, sp.sigma, mod, eta, sp.volume_usd)
    R = np.concatenate([st.hist_r, r0])
    RNGL = np.concatenate([st.hist_range, nominal_range])
    VOL = np.concatenate([st.hist_vol, nominal_vol])
    off = st.hist_r.size
    liq_min_usd = LIQ_SHARE * sp.volume_usd
    planted = ep.plant_chunk(R, RNGL, VOL, off, g0, times, eligible & ~near, carry, f_rate,
                             rng[S_PLANT], 5 * liq_min_usd, st.blocked_until, sp.symbol)
    r_nd = R[off:]
    if null:
        for e in planted.episodes:
            e["planted_drift_bps"] = 0.0
    truth.episodes.extend(planted.episodes)
    if planted.episodes:
        last = max(int((np.datetime64(e["detected_at"]) - times[0]) // np.timedelta64(1, "m"))
                   for e in planted.episodes)
        st.blocked_until = g0 + last + ep.SPACING_MIN

    # drift (zero in the null market), carried across month ends
    drift = np.zeros(n + ep.DRIFT_LEN_MIN + 1)
    drift[:st.pending.size] += st.pending
    w = ep.drift_weights()
    if not null:
        for conf, amount in planted.drifts:
            drift[conf + 1:conf + 1 + w.size] += amount * w
    st.pending = drift[n:].copy() if drift[n:].any() else np.empty(0)
    r = r_nd + drift[:n]

    # vacuum bars: wide range, thin volume
    for i, target in planted.range_override.items():
        extra = max(target - abs(r[i]), 0.0) / 2.0
        up[i] = down[i] = extra
    o, h, l, c, logc = mk.build_ohlc(st.logc, r, up, down, sp.tick)
    st.logc = float(logc[-1])
    log_range = np.abs(r) + up + down
    vol_usd = mk.nominal_volume_usd(log_range, sp.sigma, mod, eta, sp.volume_usd)
    for i, v in planted.volume_override.items():
        vol_usd[i] = v

    # history (drift-free) for the next month's planting
    nd_range = np.abs(r_nd) + up + down
    nd_vol = mk.nominal_volume_usd(nd_range, sp.sigma, mod, eta, sp.volume_usd)
    for i, v in planted.volume_override.items():
        nd_vol[i] = v
    st.hist_r = R[-HIST:].copy()
    st.hist_range = np.concatenate([st.hist_range, nd_range])[-HIST:]
    st.hist_vol = np.concatenate([st.hist_vol, nd_vol])[-HIST:]

    t_us = times.astype("datetime64[us]")
    counts = {}
    klines = kline_table(t_us, o, h, l, c, vol_usd, r, sig, taker_noise, count_noise, sp)
    counts["um_klines_1m"] = _write(data_dir, "um_klines_1m", sp.symbol, klines)
    liq_rngs = [mk.rng_for(seed, st.key, mkey, S_LIQ, i) for i in range(6)]
    liq = liquidations_table(liq_rngs, t_us, r, sig, h, l, mod, planted, liq_min_usd, sp)
    counts["um_liquidations"] = _write(data_dir, "um_liquidations", sp.symbol, liq)
    oi = open_interest_table(rng[S_OI], st, t_us, g0, r, sig, c, planted, sp)
    counts["um_open_interest_5m"] = _write(data_dir, "um_open_interest_5m", sp.symbol, oi)
    spot = spot_table(rng[S_SPOT], st, t_us, logc, up, down, vol_usd, r, sig, carry, taker_noise,
                 count_noise, sp)
    counts["spot_klines_1m"] = _write(data_dir, "spot_klines_1m", sp.symbol, spot)
    if bar_minutes != 1:
        counts.update(_aggregates(data_dir, sp.symbol, klines, spot, bar_minutes))
    return counts


def _aggregates(data_dir: Path, symbol: str, perp: pa.Table, spot: pa.Table,
                bar_minutes: int) -> dict[str, int]:
    """Write one symbol-month's perp and spot klines aggregated to ``bar_minutes``."""
    return {
        perp_klines_dataset(bar_minutes): _write(data_dir, perp_klines_dataset(bar_minutes),
                                                 symbol, aggregate_klines(perp, bar_minutes)),
        spot_klines_dataset(bar_minutes): _write(data_dir, spot_klines_dataset(bar_minutes),
                                                 symbol, aggregate_klines(spot, bar_minutes)),
    }


def _write(data_dir: Path, dataset: str, symbol: str, table: pa.Table) -> int:
    raw.write_dataset(data_dir, dataset, symbol, table, source="lifthouse sample",
                          origin=raw.GENERATED)
    return table.num_rows
