"""Value checks of rows bound for the raw layer: no NaN, infinite or impossible numbers
(:func:`_check_values`), consistent OHLC bars (:func:`_check_ohlc`), no mis-scaled bar among its
neighbours (:func:`_check_outliers`), funding in decimals and on the settlement hours
(:func:`_check_funding`). Every failure is a :class:`RawDataError` naming the row; used by
:func:`lifthouse.data.validate.validate`."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifthouse.data.schema import DatasetSpec, RawDataError
from lifthouse.data.validate_times import _check_funding_grid, _fmt_us

# Impossible values (issue 35, item 3; docs/failure_modes.md): no raw number is NaN or +-inf
# (an unknown optional value is NULL), none exceeds MAX_ABS_VALUE, and the USD traded in one
# bar (volume x close, quote volume) or one liquidation never exceeds MAX_USD_PER_ROW. The
# largest real bars in ../shared/data trade 4e9 USD (5m) and 8e8 USD (1m); meme coins' base
# volumes per bar stay below 1e13.
MAX_ABS_VALUE = 1e15
MAX_USD_PER_ROW = 1e12
# columns that are > 0 when present (prices; OHLC prices only where spec.ohlc) and >= 0
_POSITIVE = ("price", "quantity", "notional_usd", "contract_usd", "mark_price")
_NON_NEGATIVE = ("volume", "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume",
                 "sum_open_interest", "sum_open_interest_value")
# Funding in other units (issue 35, item 4): real funding's median |rate| is 1 bp or less
# (0.0001 over BTC and ETH 2020-2025; at most 0.0019 over any 9 settlements, ETH 2021), so a
# median |rate| at or above 0.0025 over 9 or more settlements is percent (x100: 0.0036-0.01
# for the same series) or bps (x10000). 1 bp = 0.0001.
FUNDING_UNIT_MEDIAN = 0.0025
FUNDING_UNIT_MIN_ROWS = 9
FUNDING_MAX_ABS = 0.05
# A bar whose open or close is more than OUTLIER_FACTOR x (or under 1 / OUTLIER_FACTOR of) the
# median close of the OUTLIER_WINDOW bars around it is a mis-scaled bar (issue 35, item 8).
# Real klines in ../shared/data stay within 0.74-1.14 of that median (the 2025-10-10 crash
# included), a level shift never trips it (half the window moves with it), wicks (high, low)
# are not judged.
OUTLIER_FACTOR = 10.0
OUTLIER_WINDOW = 21
OUTLIER_MIN_BARS = 5


def _check_values(spec: DatasetSpec, table: pa.Table, *, source: str) -> None:
    """Refuse non-finite and impossible numbers (issue 35, item 3), naming the first bad row
    (1-based, input order) and the count: NaN or +-inf anywhere (an unknown optional value is
    NULL), magnitudes above :data:`MAX_ABS_VALUE`, more than :data:`MAX_USD_PER_ROW` USD in one
    row, prices / quantities that are not positive, volumes and open interest below zero.
    (Zero or negative OHLC prices and negative kline volume: :func:`_check_ohlc`.)"""
    fix = "fix or drop those rows in the source file; nothing was written"
    close = None
    if "close" in table.column_names and spec.ohlc:
        close = table.column("close").to_numpy(zero_copy_only=False).astype("float64")
    for col in spec.columns:
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            continue
        arr = table.column(col.name)
        if arr.null_count == arr.length():
            continue
        v = arr.to_numpy(zero_copy_only=False).astype("float64")  # NULL -> NaN here
        present = ~arr.is_null().to_numpy(zero_copy_only=False)
        name = col.name

        def refuse(mask: np.ndarray, what: str, hint: str = fix) -> None:
            bad = np.flatnonzero(mask)
            if bad.size:
                i = int(bad[0])
                raise RawDataError(
                    f"{name} {_fmt_value(v[i])} {what} ({bad.size} such row(s) in the file)",
                    file=source, row=i + 1, hint=hint)

        refuse(present & np.isnan(v), "is not a number (IEEE NaN)",
               "an unknown value is an empty cell (NULL), never NaN; NULL is accepted in "
               "optional columns only: " + fix)
        refuse(present & np.isinf(v), "is infinite", fix)
        refuse(present & (np.abs(v) > MAX_ABS_VALUE),
               f"is not a plausible value (above {MAX_ABS_VALUE:g})", fix)
        if name in _POSITIVE:
            refuse(present & (v <= 0), f"is not positive: a {spec.name} {name} is > 0", fix)
        if name in _NON_NEGATIVE and name != "volume":
            refuse(present & (v < 0), f"is negative: a {spec.name} {name} is >= 0", fix)
        usd = None
        if name in ("quote_volume", "taker_buy_quote_volume", "notional_usd",
                    "sum_open_interest_value"):
            usd = v
        elif name in ("volume", "taker_buy_volume") and close is not None:
            usd = v * close
        if usd is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                refuse(present & (np.abs(usd) > MAX_USD_PER_ROW),
                       f"is not a plausible amount: above {MAX_USD_PER_ROW:g} USD in one row "
                       "(the largest real 1m and 5m bars trade about 1e9 USD)", fix)


def _fmt_value(x: float) -> str:
    return repr(float(x)) if np.isfinite(x) and abs(x) < 1e6 else f"{x:g}"


def _check_outliers(table: pa.Table, order: np.ndarray, *, source: str) -> None:
    """A bar whose open or close is more than :data:`OUTLIER_FACTOR` x (or under 1 /
    OUTLIER_FACTOR of) the median close of the :data:`OUTLIER_WINDOW` bars around it: a
    mis-scaled bar that every OHLC check passes (issue 35, item 8). ``table`` is sorted by
    time; ``order[i]`` is the input row of its row ``i``."""
    if table.num_rows < OUTLIER_MIN_BARS:
        return
    import pandas as pd

    close = table.column("close").to_numpy(zero_copy_only=False).astype("float64")
    med = pd.Series(close).rolling(OUTLIER_WINDOW, center=True,
                                   min_periods=OUTLIER_MIN_BARS).median().to_numpy()
    t = table.column("open_time").cast(pa.int64()).to_numpy()
    for name in ("close", "open"):
        v = close if name == "close" else \
            table.column(name).to_numpy(zero_copy_only=False).astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = v / med
        bad = np.flatnonzero((ratio > OUTLIER_FACTOR) | (ratio < 1.0 / OUTLIER_FACTOR))
        if bad.size:
            i = int(bad[0])
            times = (f"{ratio[i]:.4g}x" if ratio[i] > 1 else f"1/{1.0 / ratio[i]:.4g} of")
            raise RawDataError(
                f"{name} {v[i]:g} of the bar at {_fmt_us(t[i])} is {times} the median close "
                f"({med[i]:g}) of the {OUTLIER_WINDOW} bars around it ({bad.size} such bar(s)): "
                "a mis-scaled bar (a 1000-prefixed contract, cents, a shifted decimal)? Real "
                "bars stay within 0.7-1.2x of it", file=source, row=int(order[i]) + 1,
                hint="fix or drop the bar in the source file; if the price really moved that "
                     "much, re-run with --allow-outliers")


def _check_funding(given: pa.Table, t_us: np.ndarray, *, source: str,
                   waive: frozenset[str]) -> None:
    """Funding in another unit than a decimal (percent, bps) and stamps off the settlement
    hours (issue 35, item 4). ``given`` and ``t_us`` are in the input's row order."""
    fr = given.column("funding_rate").to_numpy(zero_copy_only=False).astype("float64")
    a = np.abs(fr)
    if "any-funding" not in waive:
        if fr.size >= FUNDING_UNIT_MIN_ROWS:
            med = float(np.median(a))
            if med >= FUNDING_UNIT_MEDIAN:
                unit, factor = ("bps", 10_000) if med >= 0.1 else ("percent", 100)
                i = int(np.flatnonzero(a >= FUNDING_UNIT_MEDIAN)[0])
                raise RawDataError(
                    f"funding_rate looks like {unit}, not a decimal: its median |rate| is "
                    f"{med:g} per settlement (e.g. {fr[i]:g}), while real funding's is 0.0001 "
                    "(1 bp) and at most 0.0019 over any 9 settlements (BTC and ETH, 2020-2025)",
                    file=source, row=i + 1,
                    hint=f"if the file is in {unit}, re-run with --funding-unit {unit} (divides "
                         f"by {factor}); if these decimals are right, re-run with "
                         "--allow-any-funding")
        bad = np.flatnonzero(a > FUNDING_MAX_ABS)
        if bad.size:
            raise RawDataError(
                f"funding_rate {fr[bad[0]]} is outside +-5% per settlement: is it in percent "
                "or bps rather than a decimal (0.0001 = 1 bp)?",
                file=source, row=int(bad[0]) + 1,
                hint="in percent: re-run with --funding-unit percent (bps: --funding-unit bps); "
                     "if these decimals are right, re-run with --allow-any-funding")
    if "off-grain" not in waive:
        _check_funding_grid(t_us, source=source)


def _check_ohlc(table: pa.Table, source: str) -> None:
    o, h, l, c = (table.column(k).to_numpy(zero_copy_only=False) for k in ("open", "high", "low", "close"))
    t = table.column("open_time").cast(pa.int64()).to_numpy()
    checks = [
        ((o <= 0) | (h <= 0) | (l <= 0) | (c <= 0), "a price is zero or negative"),
        (h < l, "high < low"),
        ((o > h) | (o < l), "open outside [low, high]"),
        ((c > h) | (c < l), "close outside [low, high]"),
    ]
    if "volume" in table.column_names:
        v = table.column("volume").to_numpy(zero_copy_only=False)
        checks.append((v < 0, "negative volume"))
    for mask, what in checks:
        bad = np.flatnonzero(mask)
        if bad.size:
            i = int(bad[0])
            raise RawDataError(
                f"{what} in the bar at {_fmt_us(t[i])} (open={o[i]}, high={h[i]}, low={l[i]}, "
                f"close={c[i]}); {bad.size} bad bar(s) in all",
                file=source, row=i + 1,
                hint="fix or drop the bad bars in the source file; nothing was written",
            )
