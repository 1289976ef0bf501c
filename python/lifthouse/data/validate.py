"""Checks of rows bound for the raw layer (SPEC 1): conform a table to its dataset's schema,
then validate it (required values, time order, duplicates, plausible years, grain and spacing,
OHLC consistency, funding bounds). Every failure is a :class:`RawDataError` naming the row.

The entry points live here (:func:`conform`, :func:`validate`, :data:`WAIVERS`); the time
checks in :mod:`lifthouse.data.validate_times`, the value, unit and outlier checks in
:mod:`lifthouse.data.validate_values` (their names are re-exported here)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.data.schema import DATASETS, DatasetSpec, RawDataError
from lifthouse.data.validate_times import (FIRST_PLAUSIBLE_YEAR, FUNDING_GRID_TOLERANCE_SECONDS,
                                           FUTURE_SLACK_SECONDS, _check_times, _fmt_us,
                                           grain_siblings, latest_plausible_us, plausible_years)
from lifthouse.data.validate_values import (FUNDING_MAX_ABS, FUNDING_UNIT_MEDIAN,
                                            FUNDING_UNIT_MIN_ROWS, MAX_ABS_VALUE,
                                            MAX_USD_PER_ROW, OUTLIER_FACTOR, OUTLIER_MIN_BARS,
                                            OUTLIER_WINDOW, _check_funding, _check_ohlc,
                                            _check_outliers, _check_values)

__all__ = [  # the entry points, and names other modules import from here
    "FIRST_PLAUSIBLE_YEAR", "FUNDING_GRID_TOLERANCE_SECONDS", "FUNDING_MAX_ABS",
    "FUNDING_UNIT_MEDIAN", "FUNDING_UNIT_MIN_ROWS", "FUTURE_SLACK_SECONDS", "MAX_ABS_VALUE",
    "MAX_USD_PER_ROW", "OUTLIER_FACTOR", "OUTLIER_MIN_BARS", "OUTLIER_WINDOW", "WAIVERS",
    "conform", "grain_siblings", "latest_plausible_us", "plausible_years", "validate"]

# checks a writer can waive (import flags --allow-any-year / --allow-any-spacing /
# --allow-off-grain / --allow-any-funding / --allow-outliers)
WAIVERS = ("any-year", "any-spacing", "off-grain", "any-funding", "outliers")


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
