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
import errno
import fcntl
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lifthouse.data.atomic import atomic_write_parquet
from lifthouse.data.schema import DATASETS, DatasetSpec, RawDataError
from lifthouse.data.validate import conform, validate

DEFAULT_DATA_DIR = Path("data/raw")
ORIGIN_KEY = b"lifthouse.origin"
ORIGINS = ("import", "ingest", "sample")
GENERATED = "sample"
LOCK_TIMEOUT_ENV = "LIFTHOUSE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0


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

