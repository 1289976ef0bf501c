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
# checks a writer can waive (import flags --allow-any-year / --allow-any-spacing / --allow-off-grain)
WAIVERS = ("any-year", "any-spacing", "off-grain")
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
        table = table.sort_by([(k, "ascending") for k in spec.key_columns])
    _check_times(spec, t, source=source, waive=frozenset(waive))
    if spec.ohlc:
        _check_ohlc(table, source)
    if dataset == "um_funding_rate":
        fr = table.column("funding_rate").to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(np.abs(fr) > 0.05)
        if bad.size:
            raise RawDataError(
                f"funding_rate {fr[bad[0]]} is outside +-5% per settlement: is it in percent "
                "or bps rather than a decimal (0.0001 = 1 bp)?",
                file=source, row=int(bad[0]) + 1,
            )
    if dataset == "um_liquidations":
        sides = set(pc.unique(table.column("side")).to_pylist())
        if not sides <= {"BUY", "SELL"}:
            raise RawDataError(f"side must be BUY or SELL, found {sorted(sides - {'BUY', 'SELL'})}",
                               file=source)
    return table


def plausible_years() -> tuple[int, int]:
    """The years a raw stamp may fall in: FIRST_PLAUSIBLE_YEAR .. next year (UTC)."""
    return FIRST_PLAUSIBLE_YEAR, dt.datetime.now(dt.timezone.utc).year + 1


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

