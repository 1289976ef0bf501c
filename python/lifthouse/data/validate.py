"""Checks of rows bound for the raw layer (SPEC 1): conform a table to its dataset's schema,
then validate it (required values, time order, duplicates, plausible years, grain and spacing,
OHLC consistency, funding bounds). Every failure is a :class:`RawDataError` naming the row."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.data.schema import DATASETS, DatasetSpec, RawDataError

# Plausible stamps (timestamps outside are a unit or parsing mistake): Binance opened in 2017;
# the upper bound is next year, so a file from the future is refused too.
FIRST_PLAUSIBLE_YEAR = 2010
# A stamp later than now by more than this is refused (market data is never from the future;
# the slack absorbs a clock a few minutes fast), waivable with --allow-any-year (issue 35, 8)
FUTURE_SLACK_SECONDS = 15 * 60
# checks a writer can waive (import flags --allow-any-year / --allow-any-spacing /
# --allow-off-grain / --allow-any-funding / --allow-outliers)
WAIVERS = ("any-year", "any-spacing", "off-grain", "any-funding", "outliers")
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
# Funding settles on the hour: every Binance schedule (8 h, 4 h, 1 h) settles at 00:00, 08:00
# and 16:00 UTC; exchange stamps run a few ms late. A stamp more than this off a whole hour is
# refused, and so is a file spanning a 00/08/16 settlement without one (a shifted clock).
FUNDING_GRID_TOLERANCE_SECONDS = 60
# A bar whose open or close is more than OUTLIER_FACTOR x (or under 1 / OUTLIER_FACTOR of) the
# median close of the OUTLIER_WINDOW bars around it is a mis-scaled bar (issue 35, item 8).
# Real klines in ../shared/data stay within 0.74-1.14 of that median (the 2025-10-10 crash
# included), a level shift never trips it (half the window moves with it), wicks (high, low)
# are not judged.
OUTLIER_FACTOR = 10.0
OUTLIER_WINDOW = 21
OUTLIER_MIN_BARS = 5
# the grain suffix of a dataset name (um_klines_1m, spot_klines_5m)
_GRAIN_SUFFIX = re.compile(r"_\d+m$")

def conform(dataset: str, table: pa.Table, *, source: str) -> pa.Table:
    """Cast a table to the dataset's schema: required columns must exist, optional ones are
    filled with NULL, unknown columns are an error (so nothing is silently dropped)."""
    spec = DATASETS[dataset]
    names = set(table.column_names)
    missing = [c for c in spec.required if c not in names]
    if missing:
        raise RawDataError(
            f"missing required column(s) {missing} for dataset {dataset}; "
            f"found {sorted(names)}",
            file=source,
            hint=f"rename the columns to Binance names ({', '.join(spec.required)})",
        )
    unknown = sorted(names - {c.name for c in spec.columns})
    if unknown:
        raise RawDataError(
            f"column(s) {unknown} have no place in dataset {dataset} "
            f"(known: {[c.name for c in spec.columns]})",
            file=source,
            hint="drop or rename them before writing",
        )
    arrays = []
    for col in spec.columns:
        if col.name in names:
            arr = table.column(col.name)
            try:
                arr = arr.cast(col.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise RawDataError(
                    f"column {col.name!r} cannot be read as {col.type}: {exc}", file=source
                ) from exc
        else:
            arr = pa.nulls(table.num_rows, type=col.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def validate(dataset: str, table: pa.Table, *, source: str, allow_unsorted: bool = False,
             waive: frozenset[str] | set[str] = frozenset()) -> pa.Table:
    """Check a conformed table; return it sorted by key. Raises RawDataError naming the first
    bad row (1-based, in the input's order). ``waive`` names checks of :data:`WAIVERS` the
    caller accepts (the import flags ``--allow-any-year`` etc.)."""
    spec = DATASETS[dataset]
    n = table.num_rows
    if n == 0:
        return table
    unknown = sorted(set(waive) - set(WAIVERS))
    if unknown:
        raise ValueError(f"unknown waiver(s) {unknown}; known: {WAIVERS}")
    for name in spec.required:
        col = table.column(name)
        if col.null_count:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0]) + 1
            raise RawDataError(f"required column {name!r} is empty (NULL)", file=source, row=row)
    waive = frozenset(waive)
    _check_values(spec, table, source=source)
    given = table  # in the input's row order (rows in messages are 1-based in it)
    tcol = table.column(spec.time_column)
    t = tcol.cast(pa.int64()).to_numpy()
    if len(spec.key_columns) == 1:
        diffs = np.diff(t)
        if (diffs < 0).any():
            if not allow_unsorted:
                i = int(np.flatnonzero(diffs < 0)[0]) + 1
                raise RawDataError(
                    f"rows are out of order: {spec.time_column} goes back in time "
                    f"({_fmt_us(t[i - 1])} then {_fmt_us(t[i])})",
                    file=source, row=i + 1,
                    hint="sort the file by time, or pass --sort to let the importer sort it",
                )
        order = np.argsort(t, kind="stable")
        ts = t[order]
        dup = np.flatnonzero(np.diff(ts) == 0)
        if dup.size:
            first = int(order[dup[0]]) + 1
            second = int(order[dup[0] + 1]) + 1
            raise RawDataError(
                f"duplicate {spec.time_column} {_fmt_us(ts[dup[0]])} at rows {first} and {second} "
                f"({dup.size} duplicated timestamp(s) in all)",
                file=source, row=second,
                hint="de-duplicate the file (keep one row per timestamp) and import again",
            )
        table = table.take(pa.array(order))
    else:
        _refuse_duplicate_keys(spec, table, source=source)
        order = None
        table = table.sort_by([(k, "ascending") for k in spec.key_columns])
    _check_times(spec, t, source=source, waive=frozenset(waive))
    if spec.ohlc:
        _check_ohlc(table, source)
        if "outliers" not in waive and order is not None:
            _check_outliers(table, order, source=source)
    if dataset == "um_funding_rate":
        _check_funding(given, t, source=source, waive=waive)
    if dataset == "um_liquidations":
        sides = set(pc.unique(table.column("side")).to_pylist())
        if not sides <= {"BUY", "SELL"}:
            raise RawDataError(f"side must be BUY or SELL, found {sorted(sides - {'BUY', 'SELL'})}",
                               file=source)
    return table


def plausible_years() -> tuple[int, int]:
    """The years a raw stamp may fall in: FIRST_PLAUSIBLE_YEAR .. next year (UTC)."""
    return FIRST_PLAUSIBLE_YEAR, dt.datetime.now(dt.timezone.utc).year + 1


def latest_plausible_us() -> int:
    """The latest stamp a raw row may carry (naive UTC microseconds): now plus
    :data:`FUTURE_SLACK_SECONDS`."""
    now = np.datetime64(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "us")
    return int(now.astype(np.int64)) + FUTURE_SLACK_SECONDS * 1_000_000


def _refuse_future(name: str, t_us: np.ndarray, *, source: str) -> None:
    """Stamps after now (+ slack) are a wrong unit, zone or clock: RawDataError naming the
    first such row (input order)."""
    limit = latest_plausible_us()
    bad = np.flatnonzero(t_us > limit)
    if bad.size:
        i = int(bad[0])
        now = _fmt_us(limit - FUTURE_SLACK_SECONDS * 1_000_000)[:16]
        raise RawDataError(
            f"{name} {_fmt_us(t_us[i])} is in the future (now is {now} UTC; {bad.size} such "
            "row(s)): market data is never from the future, so the time unit, the time zone or "
            "the clock is off", file=source, row=i + 1,
            hint="check --time-unit and --naive-tz (stamps are UTC); if these stamps are right "
                 "(synthetic data), re-run with --allow-any-year")


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


def _refuse_duplicate_keys(spec: DatasetSpec, table: pa.Table, *, source: str) -> None:
    """A multi-column key (liquidations: time, side, price, quantity) repeated within one
    file: the same order listed twice, which would be counted twice (issue 35, item 8)."""
    keys = list(spec.key_columns)
    df = table.select(keys).to_pandas()
    repeated = df.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    j = int(np.flatnonzero(repeated)[0])
    same = (df.iloc[:j] == df.iloc[j]).all(axis=1).to_numpy()
    i = int(np.flatnonzero(same)[0])
    row = ", ".join(f"{k} {df.iloc[j][k]}" for k in keys)
    raise RawDataError(
        f"rows {i + 1} and {j + 1} are the same {spec.name} row ({row}); "
        f"{int(repeated.sum())} repeated row(s) in all: the same order listed twice would be "
        "counted twice", file=source, row=j + 1,
        hint="de-duplicate the file (keep one row per order) and import again; nothing was "
             "written")


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


def _check_funding_grid(t_us: np.ndarray, *, source: str) -> None:
    """Funding stamps more than :data:`FUNDING_GRID_TOLERANCE_SECONDS` off a whole hour, or a
    file spanning a 00:00 / 08:00 / 16:00 UTC settlement without one (a shifted clock)."""
    hour = 3_600_000_000
    tol = FUNDING_GRID_TOLERANCE_SECONDS * 1_000_000
    fix = ("fix the stamps (UTC; for datetimes without a zone, --naive-tz ZONE); if these "
           "times are right, re-run with --allow-off-grain")
    r = t_us % hour
    dist = np.minimum(r, hour - r)
    bad = np.flatnonzero(dist > tol)
    if bad.size:
        i = int(bad[0])
        raise RawDataError(
            f"funding_time {_fmt_us(t_us[i])} is {_fmt_step(float(dist[i]))} off the whole hour "
            f"({bad.size} of {t_us.size} row(s) off it): funding settles on the hour (00:00, "
            "08:00, 16:00 UTC; every 4 h or 1 h for some symbols), so the clock, the time zone "
            "or the time unit is off", file=source, row=i + 1, hint=fix)
    eight = 8 * hour
    r8 = t_us % eight
    if (np.minimum(r8, eight - r8) <= tol).any():
        return
    lo, hi = int(t_us.min()) - tol, int(t_us.max()) + tol
    if -(-lo // eight) * eight > hi:  # the file spans no 00/08/16 settlement
        return
    hours = np.round(r8 / hour).astype(int) % 8
    shift = int(np.bincount(hours, minlength=8).argmax())
    shift = shift - 8 if shift > 4 else shift
    raise RawDataError(
        f"no funding_time falls on 00:00, 08:00 or 16:00 UTC, where every Binance funding "
        f"schedule (8 h, 4 h, 1 h) settles: the stamps look shifted by {shift:+d} h (a local "
        f"time zone?), e.g. {_fmt_us(t_us[0])}", file=source, row=1, hint=fix)


def _check_times(spec: DatasetSpec, t_us: np.ndarray, *, source: str,
                 waive: frozenset[str]) -> None:
    """Refuse stamps that betray a wrong unit or a shifted clock: years outside
    :func:`plausible_years`, bars spaced unlike the dataset's grain, klines off the minute.
    ``t_us`` is in the input's row order (rows are 1-based in messages)."""
    name = spec.time_column
    if "any-year" not in waive:
        lo, hi = plausible_years()
        lo_us = int((np.datetime64(f"{lo}-01-01", "us")).astype(np.int64))
        hi_us = int((np.datetime64(f"{hi + 1}-01-01", "us")).astype(np.int64))
        bad = np.flatnonzero((t_us < lo_us) | (t_us >= hi_us))
        if bad.size:
            i = int(bad[0])
            raise RawDataError(
                f"{name} {_fmt_us(t_us[i])} is outside the plausible years {lo}..{hi} "
                f"({bad.size} such row(s)): the time unit is probably wrong",
                file=source, row=i + 1,
                hint="check --time-unit (Binance files hold milliseconds: --time-unit ms); if "
                     "these dates are right, re-run with --allow-any-year")
        _refuse_future(name, t_us, source=source)
    if spec.grain_seconds is None or t_us.size < 2:
        return
    grain_us = spec.grain_seconds * 1_000_000
    if spec.on_grain and "off-grain" not in waive:
        off = np.flatnonzero(t_us % grain_us != 0)
        if off.size:
            _refuse_other_grain(spec, t_us, source=source,
                                flags="--allow-off-grain --allow-any-spacing")
            i = int(off[0])
            raise RawDataError(
                f"{name} {_fmt_us(t_us[i])} is not on the {spec.grain_seconds} s grain of "
                f"{spec.name} ({off.size} of {t_us.size} row(s) off it): bars open on the "
                "minute, so the clock or the time unit is off",
                file=source, row=i + 1,
                hint="fix the timestamps (or --time-unit); if these stamps are right, re-run "
                     "with --allow-off-grain")
    if "any-spacing" not in waive:
        steps = np.diff(np.sort(t_us))
        typical = float(np.median(steps))
        if not 0.5 * grain_us <= typical <= 1.5 * grain_us:
            _refuse_other_grain(spec, t_us, source=source, flags="--allow-any-spacing")
            raise RawDataError(
                f"{name}: rows are typically {_fmt_step(typical)} apart, but {spec.name} has a "
                f"{spec.grain_seconds} s grain: wrong dataset or wrong time unit",
                file=source, row=2,
                hint="check --dataset and --time-unit; if the spacing is right, re-run with "
                     "--allow-any-spacing")


def grain_siblings(spec: DatasetSpec) -> list[DatasetSpec]:
    """The datasets that differ from ``spec`` in their grain only: ``um_klines_1m`` ->
    [``um_klines_5m``], ``spot_klines_5m`` -> [``spot_klines_1m``]; none for the others."""
    stem = _GRAIN_SUFFIX.sub("", spec.name)
    if stem == spec.name:
        return []
    return [d for d in DATASETS.values() if d.name != spec.name and d.grain_seconds
            and _GRAIN_SUFFIX.sub("", d.name) == stem and d.columns == spec.columns]


def _fits_grain(spec: DatasetSpec, t_us: np.ndarray) -> bool:
    """True when the stamps sit on ``spec``'s grain (when it has one) and are typically spaced
    by it."""
    grain_us = spec.grain_seconds * 1_000_000
    if spec.on_grain and (t_us % grain_us != 0).any():
        return False
    typical = float(np.median(np.diff(np.sort(t_us))))
    return 0.5 * grain_us <= typical <= 1.5 * grain_us


def _refuse_other_grain(spec: DatasetSpec, t_us: np.ndarray, *, source: str, flags: str) -> None:
    """Bars of another grain than ``spec``'s that fit a sibling dataset (1m bars offered as
    ``um_klines_5m``, 5m bars as ``um_klines_1m``): RawDataError naming that dataset (and the
    ``flags`` that would accept them as ``spec`` anyway)."""
    for other in grain_siblings(spec):
        if _fits_grain(other, t_us):
            typical = float(np.median(np.diff(np.sort(t_us))))
            raise RawDataError(
                f"{spec.time_column}: rows are typically {_fmt_step(typical)} apart, but "
                f"{spec.name} has a {spec.grain_seconds} s grain: these are "
                f"{other.name} bars ({other.grain_seconds} s)",
                file=source, row=2,
                hint=f"import them with --dataset {other.name}; if they really are "
                     f"{spec.name} bars, re-run with {flags}")


def _fmt_step(us: float) -> str:
    for size, unit in ((86_400e6, "days"), (3600e6, "h"), (60e6, "min"), (1e6, "s"), (1e3, "ms")):
        if abs(us) >= size:
            return f"{us / size:g} {unit}"
    return f"{us:g} us"


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


def _fmt_us(us: int) -> str:
    return str(np.datetime64(int(us), "us")).replace("T", " ")

