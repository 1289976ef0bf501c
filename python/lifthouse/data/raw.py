"""The raw layer: one Parquet layout that every writer (import, ingest, sample) goes through.

Layout::

    <data_dir>/<dataset>/symbol=<SYMBOL>/<YYYY-MM>.parquet

Hive-partitioned by symbol, one file per calendar month (UTC) of the dataset's time column.
Timestamps are stored as naive ``timestamp[us]`` holding UTC. Files are never edited in place: a
write validates everything first, then, holding the partition's lock (``fcntl.flock`` on the
``symbol=`` folder), re-reads the stored month, merges in memory, writes a temp
file in the same folder and renames it over the old one. A second writer of the same partition
waits for the lock (at most ``$LIFTHOUSE_LOCK_TIMEOUT`` seconds, default 600) and then merges
into what the first one wrote, so concurrent writers never lose rows. Re-writing identical rows
is a no-op (the file is not touched). Rows that conflict with rows already stored raise
:class:`RawDataError` and nothing is written, unless ``replace=True``.

Every month file records where its rows came from in its Parquet key-value metadata
(``lifthouse.origin``: ``import``, ``ingest`` or ``sample``; comma-separated when several).
Generated (``sample``) rows are never merged into a file holding real rows or the reverse, so
the sample command can tell its own files from real ones (:func:`file_origins`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DEFAULT_DATA_DIR = Path("data/raw")
TS = pa.timestamp("us")
ORIGIN_KEY = b"lifthouse.origin"
ORIGINS = ("import", "ingest", "sample")
GENERATED = "sample"
LOCK_TIMEOUT_ENV = "LIFTHOUSE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0
# Plausible stamps (timestamps outside are a unit or parsing mistake): Binance opened in 2017;
# the upper bound is next year, so a file from the future is refused too.
FIRST_PLAUSIBLE_YEAR = 2010
# checks a writer can waive (import flags --allow-any-year / --allow-any-spacing / --allow-off-grain)
WAIVERS = ("any-year", "any-spacing", "off-grain")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    """Schema of one raw dataset (Binance column names)."""

    name: str
    time_column: str
    columns: tuple[Column, ...]
    description: str
    # key columns besides the symbol partition (unique per symbol)
    key: tuple[str, ...] = field(default=())
    ohlc: bool = False
    # bar spacing in seconds for gridded datasets (klines, open interest); None = event data
    grain_seconds: int | None = None
    # stamps must sit exactly on the grain (klines open on the minute; Binance's open-interest
    # stamps arrive up to a few seconds late, so they are not held to it)
    on_grain: bool = False

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns])

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.key or (self.time_column,)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def optional(self) -> list[str]:
        return [c.name for c in self.columns if not c.required]


def _kline_columns(extra: bool = True) -> tuple[Column, ...]:
    base = (
        Column("open_time", TS),
        Column("open", pa.float64()),
        Column("high", pa.float64()),
        Column("low", pa.float64()),
        Column("close", pa.float64()),
    )
    if not extra:
        return base
    return base + (
        Column("volume", pa.float64()),
        Column("quote_volume", pa.float64(), required=False),
        Column("count", pa.int64(), required=False),
        Column("taker_buy_volume", pa.float64(), required=False),
        Column("taker_buy_quote_volume", pa.float64(), required=False),
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "um_klines_1m",
            "open_time",
            _kline_columns(),
            "USD-M perpetual 1m klines (required)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "spot_klines_1m",
            "open_time",
            _kline_columns(),
            "spot 1m klines (optional: basis)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "um_mark_klines_1m",
            "open_time",
            _kline_columns(extra=False),
            "USD-M mark-price 1m klines (optional)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "um_premium_index_klines_1m",
            "open_time",
            _kline_columns(extra=False),
            "USD-M premium-index 1m klines (optional)",
            grain_seconds=60,
            on_grain=True,
            ohlc=False,  # premium index can be negative
        ),
        DatasetSpec(
            "um_funding_rate",
            "funding_time",
            (
                Column("funding_time", TS),
                Column("funding_rate", pa.float64()),
                Column("mark_price", pa.float64(), required=False),
            ),
            "USD-M funding rate per settlement (required: carry_state)",
        ),
        DatasetSpec(
            "um_open_interest_5m",
            "timestamp",
            (
                Column("timestamp", TS),
                Column("sum_open_interest", pa.float64()),
                Column("sum_open_interest_value", pa.float64(), required=False),
            ),
            "USD-M open interest, 5m (optional: LIQUIDATION_CASCADE evidence)",
            grain_seconds=300,
        ),
        DatasetSpec(
            "um_liquidations",
            "time",
            (
                Column("time", TS),
                Column("side", pa.string()),
                Column("price", pa.float64()),
                Column("quantity", pa.float64()),
                Column("contract_usd", pa.float64(), required=False),
                Column("notional_usd", pa.float64()),
                Column("order_id", pa.string(), required=False),
            ),
            "forced orders (optional: LIQUIDATION_CASCADE evidence). SELL = a long was liquidated",
            key=("time", "side", "price", "quantity"),
        ),
    ]
}

REQUIRED_DATASETS = ("um_klines_1m", "um_funding_rate")


class RawDataError(Exception):
    """Bad input for the raw layer. The message names the file, the row or day and the fix."""

    def __init__(self, problem: str, *, file: str | os.PathLike | None = None,
                 row: int | None = None, hint: str | None = None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        self.hint = hint
        where = ""
        if self.file:
            where = f"{self.file}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        msg = where + problem
        if hint:
            msg += f"\n  fix: {hint}"
        super().__init__(msg)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The raw data directory: the argument, else $LIFTHOUSE_DATA_DIR, else ``data/raw``."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("LIFTHOUSE_DATA_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


SAMPLE_DIR = "_sample"  # <data_dir>/_sample/ground_truth.json: the folder holds a generated sample


def warn_if_sample_dir(data_dir: Path, stream=None) -> bool:
    """Warn (stderr) when real data is about to go into a folder that holds the generated
    sample: it belongs in its own --data-dir. Returns True when it warned."""
    if not (Path(data_dir) / SAMPLE_DIR).is_dir():
        return False
    print(f"lifthouse: warning: {data_dir} holds the generated sample market; keep real data in "
          "its own folder (e.g. --data-dir data/real) and run with that --data-dir",
          file=stream or sys.stderr)
    return True


def normalize_symbol(symbol: str) -> str:
    """``BTC`` -> ``BTCUSDT``; ``btc/usdt:usdt`` -> ``BTCUSDT``; ``BTCUSDT`` unchanged."""
    s = symbol.strip().upper()
    s = s.split(":")[0].replace("/", "").replace("_", "").replace("-", "")
    if not s.endswith("USDT") and s.isalnum() and len(s) <= 6:
        s += "USDT"
    if not s.isalnum():
        raise RawDataError(f"symbol {symbol!r} is not a Binance symbol like BTCUSDT")
    return s


def partition_dir(data_dir: Path, dataset: str, symbol: str) -> Path:
    return Path(data_dir) / dataset / f"symbol={symbol}"


def list_files(data_dir: Path, dataset: str, symbol: str | None = None) -> list[Path]:
    base = Path(data_dir) / dataset
    pattern = f"symbol={symbol}/*.parquet" if symbol else "symbol=*/*.parquet"
    return sorted(base.glob(pattern))


def list_symbols(data_dir: Path, dataset: str) -> list[str]:
    base = Path(data_dir) / dataset
    return sorted(p.name.split("=", 1)[1] for p in base.glob("symbol=*") if p.is_dir()
                  and any(p.glob("*.parquet")))


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
            raise RawDataError(
                f"{name}: rows are typically {_fmt_step(typical)} apart, but {spec.name} has a "
                f"{spec.grain_seconds} s grain: wrong dataset or wrong time unit",
                file=source, row=2,
                hint="check --dataset and --time-unit; if the spacing is right, re-run with "
                     "--allow-any-spacing")


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


@dataclass
class WriteReport:
    dataset: str
    symbol: str
    rows_in: int = 0
    rows_added: int = 0
    rows_replaced: int = 0
    files_written: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.dataset}/{self.symbol}: {self.rows_in} rows in, {self.rows_added} new, "
                f"{len(self.files_written)} file(s) written, {len(self.files_unchanged)} unchanged")


def _month_keys(table: pa.Table, time_column: str) -> np.ndarray:
    t = table.column(time_column).to_numpy(zero_copy_only=False).astype("datetime64[M]")
    return t


def write_dataset(
    data_dir: str | os.PathLike,
    dataset: str,
    symbol: str,
    table: pa.Table,
    *,
    source: str = "<memory>",
    origin: str = "import",
    replace: bool = False,
    allow_unsorted: bool = False,
    waive: frozenset[str] | set[str] = frozenset(),
) -> WriteReport:
    """Validate ``table`` and merge it into the raw layout, month file by month file: the one
    writer of the raw layer (import, ingest and sample all call it).

    The partition's lock is held from reading the stored months to renaming the merged ones, so
    a concurrent writer of the same dataset and symbol waits and then merges into this one's
    result. All months are prepared and checked before any file is renamed into place, so a
    conflict or bad row leaves the raw layer exactly as it was. ``origin`` (one of
    :data:`ORIGINS`) is recorded in each written file.
    """
    if dataset not in DATASETS:
        raise RawDataError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    spec = DATASETS[dataset]
    symbol = normalize_symbol(symbol)
    table = conform(dataset, table, source=source)
    table = validate(dataset, table, source=source, allow_unsorted=allow_unsorted, waive=waive)
    report = WriteReport(dataset, symbol, rows_in=table.num_rows)
    if table.num_rows == 0:
        return report
    folder = partition_dir(Path(data_dir), dataset, symbol)
    months = _month_keys(table, spec.time_column)
    with partition_lock(folder):
        pending: list[tuple[Path, pa.Table, str]] = []
        for month in np.unique(months):
            part = table.filter(pa.array(months == month))
            path = folder / f"{str(month)}.parquet"
            stored = file_origins(path) if path.exists() else set()
            try:
                merged, added, replaced = _merge(spec, path, part, source=source,
                                                 replace=replace)
            except RawDataError:  # conflicting rows: a mix of origins is the real problem
                _check_origin_mix(path, stored, origin, source)
                raise
            report.rows_added += added
            report.rows_replaced += replaced
            if merged is None:  # identical rows: nothing to write, whatever their origin
                report.files_unchanged.append(str(path))
            else:
                _check_origin_mix(path, stored, origin, source)
                pending.append((path, merged, ",".join(sorted(stored | {origin}))))
        for path, merged, origins in pending:
            atomic_write_parquet(merged, path, metadata={ORIGIN_KEY: origins.encode()})
            report.files_written.append(str(path))
    return report


def _check_origin_mix(path: Path, stored: set[str], origin: str, source: str) -> None:
    """Generated rows never go into a file of real rows, nor real rows into a generated file."""
    if not stored or (origin == GENERATED) == (stored == {GENERATED}):
        return
    if origin == GENERATED:
        raise RawDataError(
            f"{path} holds real data ({', '.join(sorted(stored))}); the sample generator never "
            "writes into it", file=source,
            hint="generate the sample into its own folder: lifthouse sample --data-dir "
                 "data/sample (real data is never deleted or overwritten by the sample)")
    raise RawDataError(
        f"{path} holds generated sample data; real rows are not mixed into it", file=source,
        hint="import real data into its own folder (e.g. --data-dir data/real) and run with "
             "that --data-dir; or delete the sample's folder "
             f"{path.parent} if you no longer need it")


def file_origins(path: Path) -> set[str]:
    """Where a month file's rows came from (``lifthouse.origin``); ``{"unknown"}`` for a file
    written before origins were recorded or by another tool."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise damaged_file_error(path, exc) from exc
    value = meta.get(ORIGIN_KEY)
    return set(value.decode().split(",")) if value else {"unknown"}


def lock_timeout() -> float:
    """Seconds a writer waits for a partition lock ($LIFTHOUSE_LOCK_TIMEOUT, default 600)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    try:
        return float(text) if text else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise RawDataError(f"${LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds") from None


@contextlib.contextmanager
def partition_lock(folder: Path, timeout: float | None = None):
    """Hold the exclusive lock of one ``symbol=`` folder (``flock`` on the folder itself, so
    the raw layer holds no lock files).

    Waits up to ``timeout`` seconds (default :func:`lock_timeout`) while another writer holds
    it, telling the user once; then raises RawDataError. The kernel releases the lock when its
    holder exits, even after a crash. A folder this call created and no write filled is removed
    again."""
    timeout = lock_timeout() if timeout is None else timeout
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise RawDataError(f"cannot write to {folder}: {exc.strerror}", file=folder,
                           hint="choose a writable --data-dir or fix its permissions") from exc
    try:
        t0 = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            waited = time.monotonic() - t0
            if waited >= timeout:
                raise RawDataError(
                    f"another lifthouse writer still holds the lock of {folder} after "
                    f"{waited:.0f} s; nothing was written", file=folder,
                    hint=f"wait for it to finish and re-run (or raise ${LOCK_TIMEOUT_ENV})")
            if not told:
                print(f"lifthouse: waiting for another writer of {folder} ...",
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(0.05)
        try:
            yield
        finally:
            if created and not any(folder.iterdir()):
                folder.rmdir()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _merge(spec: DatasetSpec, path: Path, new: pa.Table, *, source: str,
           replace: bool) -> tuple[pa.Table | None, int, int]:
    """Merge ``new`` into the month file at ``path``. Returns (table to write or None when the
    file would not change, rows added, rows replaced)."""
    if not path.exists():
        return new, new.num_rows, 0
    old = read_raw_file(path, spec)
    keys = list(spec.key_columns)
    old_df = old.to_pandas().set_index(keys)
    new_df = new.to_pandas().set_index(keys)
    common = old_df.index.intersection(new_df.index)
    replaced = 0
    if len(common):
        a = old_df.loc[common]
        b = new_df.loc[common]
        same = (a.eq(b) | (a.isna() & b.isna())).all(axis=1)
        if not same.all():
            first = same.index[~same.to_numpy()][0]
            n_conf = int((~same).sum())
            if not replace:
                raise RawDataError(
                    f"{n_conf} row(s) conflict with rows already stored in {path} "
                    f"(first at {first}); nothing was written",
                    file=source,
                    hint="if the new file is the correct one, re-run with --replace",
                )
            replaced = n_conf
    added = int(len(new_df.index.difference(old_df.index)))
    if added == 0 and replaced == 0:
        return None, 0, 0
    # identical or replaced keys come from the new rows, all other stored rows are kept
    keep_old = old_df.loc[old_df.index.difference(new_df.index)]
    merged_df = pd.concat([keep_old, new_df]).sort_index()
    merged = pa.Table.from_pandas(merged_df.reset_index(), schema=spec.schema, preserve_index=False)
    return merged, added, replaced


def damaged_file_error(path: Path, exc: BaseException, also: str = "") -> RawDataError:
    """The error for a raw file that does not open as Parquet (``also``: more of them)."""
    return RawDataError(
        f"cannot read Parquet file ({type(exc).__name__}: {exc}){also}", file=path,
        hint="the file is damaged: move it out of the raw layer, then import or ingest that "
             "month again (the build reads every file under the raw layer, whatever the window)")


def read_raw_file(path: Path, spec: DatasetSpec | None = None) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise damaged_file_error(path, exc) from exc
    if spec is not None:
        table = conform(spec.name, table, source=str(path))
    return table


def read_dataset(data_dir: str | os.PathLike, dataset: str, symbol: str) -> pa.Table:
    spec = DATASETS[dataset]
    files = list_files(Path(data_dir), dataset, normalize_symbol(symbol))
    if not files:
        return spec.schema.empty_table()
    return pa.concat_tables([read_raw_file(f, spec) for f in files])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temp file in ``path``'s folder, with the mode a plain ``open`` would give (0666 less the
    umask; mkstemp alone makes it 0600)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as exc:
        raise RawDataError(f"cannot write to {path.parent}: {exc.strerror}", file=path,
                           hint="choose a writable folder (--data-dir, --out-dir) or fix its "
                                "permissions") from exc
    return fd, tmp


def atomic_write_parquet(table: pa.Table, path: Path,
                         metadata: dict[bytes, bytes] | None = None) -> None:
    """Write ``table`` to ``path`` via a temp file in the same folder and an atomic rename;
    ``metadata`` is added to the file's key-value metadata."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    os.close(fd)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    try:
        pq.write_table(table, tmp, compression="zstd", coerce_timestamps="us",
                       allow_truncated_timestamps=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
