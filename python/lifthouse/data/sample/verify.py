"""Checks of a generated market against its ground truth, computed from the written raw files
(not from the truth file): what a point-in-time detector sees at each planted confirming bar,
and the return a trade entered at the next bar's open would have made.

Used by the tests and by ``python -m lifthouse.data.sample.verify <data_dir>`` (a summary table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lifthouse.data import raw
from lifthouse.data.sample.generator import GroundTruth
from lifthouse.data.sample.stats import vacuum_flags

DAY = 1440


def load_symbol(data_dir: Path, symbol: str) -> dict[str, pd.DataFrame]:
    return {ds: raw.read_dataset(data_dir, ds, symbol).to_pandas()
            for ds in ("um_klines_1m", "um_open_interest_5m", "um_liquidations", "um_funding_rate")}


def bar_features(d: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Point-in-time features per 1m bar (indexed by open_time), the way the detectors see them:
    z-move over 5 minutes in trailing-24h std units, OI change over 15 minutes (a stamp is usable
    from the first bar whose close is at or after it), 5-minute liquidation notional and its
    trailing 24h median of 5-minute sums, range and volume against trailing 24h medians, and
    illiquidity (range per unit volume) as a trailing 24h percentile."""
    k = d["um_klines_1m"].set_index("open_time").sort_index()
    lr = np.log(k["close"]).diff()
    sd24 = lr.rolling(DAY).std()
    f = pd.DataFrame(index=k.index)
    f["log_ret"] = lr
    f["sd24"] = sd24
    f["zmove_5m"] = np.log(k["close"]).diff(5) / (sd24 * np.sqrt(5))
    f["shock_sd"] = lr / sd24
    rng = np.log(k["high"] / k["low"])
    f["range_rel"] = rng / rng.rolling(DAY).median()
    f["vol_rel"] = k["volume"] / k["volume"].rolling(DAY).median()
    illiq = rng / k["volume"]
    f["illiq_pct"] = illiq.rolling(DAY).rank(pct=True)
    oi = d["um_open_interest_5m"]
    if len(oi):
        close_time = k.index + pd.Timedelta(minutes=1)
        s = oi.sort_values("timestamp")
        pos = np.searchsorted(s["timestamp"].to_numpy(), close_time.to_numpy(), side="right") - 1
        val = np.where(pos >= 0, s["sum_open_interest"].to_numpy()[np.maximum(pos, 0)], np.nan)
        oi_now = pd.Series(val, index=k.index)
        f["oi_chg_15m"] = oi_now / oi_now.shift(15) - 1
    liq = d["um_liquidations"]
    per_min = liq.groupby(liq["time"].dt.floor("min"))["notional_usd"].sum()
    per_min = per_min.reindex(k.index, fill_value=0.0)
    liq5 = per_min.rolling(5).sum()
    f["liq_5m_usd"] = liq5
    f["liq_5m_med24"] = liq5.shift(5).rolling(DAY).median()
    for col in ("open", "high", "low", "close", "volume"):
        f[col] = k[col]
    return f


def forward_return_bps(f: pd.DataFrame, detected_at: pd.Timestamp, horizon: int) -> float:
    """Log return in bps from the open of the bar after ``detected_at`` to the close of the
    horizon's last bar."""
    i = f.index.get_loc(detected_at)
    if i + horizon >= len(f):
        return float("nan")
    return float(np.log(f["close"].iloc[i + horizon] / f["open"].iloc[i + 1]) * 1e4)


def episode_report(data_dir: Path, horizons=(15, 60, 240)) -> pd.DataFrame:
    """One row per planted episode: the detector's view at the confirming bar and the return of
    a trade in the planted effect's direction (fade cascades, follow vacuums) per horizon."""
    truth = GroundTruth.read(data_dir)
    rows = []
    for symbol in truth.symbols:
        f = bar_features(load_symbol(data_dir, symbol))
        for e in truth.episodes:
            if e["symbol"] != symbol:
                continue
            t = pd.Timestamp(e["detected_at"])
            x = f.loc[t]
            side = -e["direction"] if e["effect"] == "fade" else e["direction"]
            row = {**{k: e[k] for k in ("symbol", "event_type", "direction", "in_effect_state",
                                        "carry_state", "vol_regime", "planted_drift_bps")},
                   "detected_at": t, "zmove_5m": x["zmove_5m"],
                   "oi_chg_15m": x.get("oi_chg_15m", np.nan),
                   "liq_ratio": x["liq_5m_usd"] / max(x["liq_5m_med24"], 1e-9)}
            if e["event_type"] == "liquidity_vacuum":
                w = f.loc[t - pd.Timedelta(minutes=3):t]
                row.update(shock_sd=w["shock_sd"].iloc[0], min_range_rel=w["range_rel"].iloc[1:].min(),
                           max_vol_rel=w["vol_rel"].iloc[1:].max(),
                           min_illiq_pct=w["illiq_pct"].iloc[1:].min())
            for h in horizons:
                row[f"ret_{h}"] = side * forward_return_bps(f, t, h)
            rows.append(row)
    return pd.DataFrame(rows)


def summary(rep: pd.DataFrame, horizons=(15, 60, 240)) -> pd.DataFrame:
    cols = [f"ret_{h}" for h in horizons]
    g = rep.groupby(["event_type", "in_effect_state"])
    out = g[cols].mean().round(1)
    out.insert(0, "n", g.size())
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    data_dir = raw.resolve_data_dir(argv[0] if argv else None)
    rep = episode_report(Path(data_dir))
    pd.set_option("display.width", 160)
    print(summary(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def reference_detections(f: pd.DataFrame, *, z_min: float = 4.0, liq_mult: float = 10.0,
                         oi_drop: float = 0.005, k: int = 3, cooldown: int = 60) -> pd.DataFrame:
    """A plain re-implementation of the default detector rules (for tests and calibration only;
    the warehouse's detectors live in dbt): returns detected_at, event_type, direction. The
    vacuum's shock and thin bars are those of ``stats.vacuum_flags`` (the detector's rule)."""
    liq_ok = f["liq_5m_usd"] >= liq_mult * f["liq_5m_med24"].clip(lower=1e-9)
    oi_ok = f["oi_chg_15m"] < -oi_drop if "oi_chg_15m" in f else False
    casc = (f["zmove_5m"].abs() >= z_min) & (liq_ok | oi_ok)
    flags = vacuum_flags(f.index.as_unit("us").asi8, f["high"].to_numpy(), f["low"].to_numpy(),
                         f["close"].to_numpy(), f["volume"].to_numpy())
    thin = pd.Series(flags["thin"], index=f.index)
    shock = pd.Series(flags["shock"], index=f.index)
    vac = (thin.rolling(k).sum() == k) & shock.shift(k, fill_value=False)
    out = []
    for name, flag, sign in (("LIQUIDATION_CASCADE", casc, np.sign(f["zmove_5m"])),
                             ("liquidity_vacuum", vac, np.sign(f["log_ret"].shift(k)))):
        idx = np.flatnonzero(flag.fillna(False).to_numpy())
        last = -10**9
        for i in idx:
            if i - last > cooldown:
                out.append((f.index[i], name, int(sign.iloc[i])))
            last = i if i - last > cooldown else last
    return pd.DataFrame(out, columns=["detected_at", "event_type", "direction"])
