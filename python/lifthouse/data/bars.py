"""Kline bars of a coarser grain from 1m bars: :func:`aggregate_klines`.

The one aggregation of the project: ``lifthouse sample --bar-minutes 5`` uses it for its
generated market, and a user turns real 1m klines into 5m ones with it (docs/ingest.md,
"5m klines from 1m klines"). Pure: a table in, a table out, nothing read or written.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifthouse.data.schema import RawDataError, check_bar_minutes

# how each kline column is aggregated over the 1m bars of one coarser bar
FIRST, MAX, MIN, LAST, SUM = "first", "max", "min", "last", "sum"
RULES: dict[str, str] = {
    "open": FIRST, "high": MAX, "low": MIN, "close": LAST,
    "volume": SUM, "quote_volume": SUM, "count": SUM,
    "taker_buy_volume": SUM, "taker_buy_quote_volume": SUM,
}
TIME_COLUMN = "open_time"
# sums are rounded back to the decimals their inputs are written with (see _decimal_sum) only
# while value * 10**decimals stays far inside float64's exact integers
_EXACT_LIMIT = 2.0 ** 48
_MAX_DECIMALS = 12


def aggregate_klines(table: pa.Table, bar_minutes: int) -> pa.Table:
    """Klines of ``bar_minutes`` (1 or 5) from 1m klines of one symbol.

    A bar opens at ``open_time`` floored to ``bar_minutes`` and is made of every input bar whose
    ``open_time`` floors to it: first ``open``, max ``high``, min ``low``, last ``close``, and
    the sums of ``volume``, ``quote_volume``, ``count``, ``taker_buy_volume`` and
    ``taker_buy_quote_volume``. A slot with missing 1m bars is aggregated from the bars that are
    there (as Binance builds its own 5m bar from the trades that happened); a slot with none
    has no bar. A sum is NULL when a bar of its slot has NULL there (an unknown optional column
    stays unknown). Sums are rounded to the most decimals an input value of that column has
    (when that is exact), so summed exchange volumes equal the exchange's own 5m volumes
    instead of differing in the last bit.

    The input may be in any order; the output is sorted by ``open_time`` and has the input's
    columns (``open_time`` as ``timestamp[us]``) and no schema metadata. ``bar_minutes`` 1
    returns 1m bars (open on the minute) sorted, otherwise unchanged. Raises :class:`RawDataError` for columns it cannot
    aggregate (e.g. ``symbol``: aggregate one symbol at a time), a missing OHLC column, NULL
    OHLC values or duplicate ``open_time``.
    """
    bar_minutes = check_bar_minutes(bar_minutes)
    _check_columns(table)
    t = _times_us(table)
    order = np.argsort(t, kind="stable")
    t = t[order]
    if t.size and (np.diff(t) == 0).any():
        first = int(t[np.flatnonzero(np.diff(t) == 0)[0]])
        raise RawDataError(f"duplicate open_time {np.datetime64(first, 'us')} in the 1m bars",
                           hint="de-duplicate the bars (one per open_time) before aggregating")
    step = bar_minutes * 60_000_000
    slot = t // step * step
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if t.size else np.empty(0, int)
    ends = np.r_[starts[1:], t.size].astype(np.int64) if t.size else starts
    out: dict[str, pa.Array] = {}
    for name in table.column_names:
        if name == TIME_COLUMN:
            out[name] = pa.array(slot[starts], pa.int64()).cast(pa.timestamp("us"))
            continue
        col = table.column(name).combine_chunks().take(pa.array(order))
        out[name] = _aggregate(col, RULES[name], starts, ends)
    return pa.table(out)


def _check_columns(table: pa.Table) -> None:
    names = table.column_names
    unknown = [n for n in names if n != TIME_COLUMN and n not in RULES]
    if unknown:
        raise RawDataError(
            f"cannot aggregate column(s) {unknown}: only kline columns ({TIME_COLUMN}, "
            f"{', '.join(RULES)}) are aggregated",
            hint="aggregate one symbol's klines at a time and drop the other columns first")
    missing = [n for n in (TIME_COLUMN, "open", "high", "low", "close") if n not in names]
    if missing:
        raise RawDataError(f"the bars lack column(s) {missing}",
                           hint="pass klines with open_time, open, high, low and close")
    for name in ("open", "high", "low", "close", TIME_COLUMN):
        if table.column(name).null_count:
            raise RawDataError(f"column {name!r} has NULL values",
                               hint="drop the incomplete bars before aggregating")


def _times_us(table: pa.Table) -> np.ndarray:
    col = table.column(TIME_COLUMN)
    if not pa.types.is_timestamp(col.type):
        raise RawDataError(f"open_time is {col.type}, not a timestamp",
                           hint="read the bars from the raw layer (lifthouse.data.raw."
                                "read_dataset), whose open_time is timestamp[us]")
    if col.type.tz is not None:
        col = col.cast(pa.timestamp(col.type.unit))
    return col.cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)


def _aggregate(col: pa.Array, rule: str, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """One column over the slots [starts[i], ends[i]) of the time-sorted bars."""
    if not starts.size:
        return pa.array([], col.type)
    if rule == FIRST:
        return col.take(pa.array(starts))
    if rule == LAST:
        return col.take(pa.array(ends - 1))
    is_int = pa.types.is_integer(col.type)
    values = col.fill_null(0).to_numpy(zero_copy_only=False)
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    if rule == MAX:
        agg = np.maximum.reduceat(values, starts)
    elif rule == MIN:
        agg = np.minimum.reduceat(values, starts)
    else:
        agg = np.add.reduceat(values, starts) if is_int else _decimal_sum(values, nulls, starts)
    mask = np.logical_or.reduceat(nulls, starts) if nulls.any() else None
    return pa.array(agg, type=col.type, mask=mask)


def _decimal_sum(values: np.ndarray, nulls: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-slot sums of float values, rounded to the inputs' decimals when that is exact: 1m
    volumes written with 3 decimals sum to the 5m volume written with 3 decimals, bit for bit."""
    sums = np.add.reduceat(values, starts)
    decimals = _decimals(values[~nulls])
    if decimals is not None and np.abs(sums).max() * 10.0 ** decimals < _EXACT_LIMIT:
        sums = np.round(sums, decimals)
    return sums


def _decimals(values: np.ndarray) -> int | None:
    """The fewest decimals (at most _MAX_DECIMALS) every value is written with, or None."""
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    largest = float(np.abs(values).max())
    for d in range(_MAX_DECIMALS + 1):
        if largest * 10.0 ** d >= _EXACT_LIMIT:
            return None
        if np.array_equal(np.round(values, d), values):
            return d
    return None
