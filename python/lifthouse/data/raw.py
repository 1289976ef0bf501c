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
the sample command can tell its own files from real ones (:func:`file_origins`). Beside it, each
file records a checksum of its rows (``lifthouse.rows_sha256``, :func:`rows_checksum`), written in
the same file and so renamed into place with the rows: ``lifthouse preflight`` and every later
merge into the month verify it, so content corrupted inside a still-valid Parquet file is named
instead of read (:mod:`lifthouse.data.rawcheck`).

Modules of the layer: :mod:`lifthouse.data.lock` (partition lock), :mod:`lifthouse.data.origins`,
:mod:`lifthouse.data.checksum` (row checksum, damaged files), :mod:`lifthouse.data.symbols`
(symbol names); this module keeps the writer, the reader, listing and paths and re-exports
their names.

Only the writer's own file names are part of the layout: ``<YYYY-MM>.parquet``
(:data:`MONTH_FILE_GLOB`, the glob dbt's sources read); any other file is listed by preflight.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lifthouse.data.atomic import atomic_write_parquet
from lifthouse.data.checksum import (CHECKSUM_KEY, checksum_error, damaged_file_error,
                                     recorded_checksum, rows_checksum, verify_checksum)
from lifthouse.data.lock import (DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV, lock_timeout,
                                 partition_lock)
from lifthouse.data.origins import GENERATED, ORIGIN_KEY, ORIGINS, file_origins
from lifthouse.data.schema import DATASETS, DatasetSpec, RawDataError
from lifthouse.data.symbols import OTHER_QUOTES, QUOTE_LIKE_ASSETS, normalize_symbol
from lifthouse.data.validate import conform, validate

__all__ = [  # names other modules import from here (some live in the modules above)
    "CHECKSUM_KEY", "DEFAULT_DATA_DIR", "DEFAULT_LOCK_TIMEOUT", "GENERATED",
    "LIQUIDATION_TWIN_TOLERANCE", "LOCK_TIMEOUT_ENV", "MONTH_FILE_GLOB", "MONTH_FILE_RE",
    "ORIGINS", "ORIGIN_KEY", "OTHER_QUOTES", "QUOTE_LIKE_ASSETS", "SAMPLE_DIR", "WriteReport",
    "atomic_write_parquet", "checksum_error", "damaged_file_error", "file_origins",
    "glob_escape", "list_files", "list_symbols", "lock_timeout", "normalize_symbol",
    "partition_dir", "partition_lock", "read_dataset", "read_raw_file", "recorded_checksum",
    "resolve_data_dir", "rows_checksum", "sql_string", "verify_checksum", "warn_if_sample_dir",
    "write_dataset"]

DEFAULT_DATA_DIR = Path("data/raw")
# the writer's month file names: the glob dbt's sources read (macros/raw_source.sql, the sources
# yml) and the exact rule preflight holds every file of the layout to
MONTH_FILE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9].parquet"
MONTH_FILE_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])\.parquet$")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The raw data directory: the argument, else $LIFTHOUSE_DATA_DIR, else ``data/raw``. A path
    that names a file (not a folder) is a RawDataError."""
    if data_dir is not None:
        path = Path(data_dir)
    else:
        env = os.environ.get("LIFTHOUSE_DATA_DIR")
        path = Path(env) if env else DEFAULT_DATA_DIR
    if path.exists() and not path.is_dir():
        raise RawDataError(
            "the data directory is a file, not a folder", file=path,
            hint="--data-dir (or $LIFTHOUSE_DATA_DIR) names the folder of the raw layout "
                 "(<dir>/<dataset>/symbol=<SYM>/<YYYY-MM>.parquet), e.g. --data-dir data/real; "
                 "to load a file, use lifthouse import --data-dir <folder> <file>")
    return path


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


def partition_dir(data_dir: Path, dataset: str, symbol: str) -> Path:
    return Path(data_dir) / dataset / f"symbol={symbol}"


def sql_string(text: str | os.PathLike) -> str:
    """A SQL string literal (single quotes doubled): every path that reaches SQL goes through it
    (the macro of the same name does it in dbt)."""
    return "'" + str(text).replace("'", "''") + "'"


def glob_escape(path: str | os.PathLike) -> str:
    """A path that a DuckDB glob matches literally: ``[``, ``*``, ``?`` put inside brackets."""
    return str(path).replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


def list_files(data_dir: Path, dataset: str, symbol: str | None = None) -> list[Path]:
    """The month files of a dataset (one symbol or all): the files dbt's sources read
    (:data:`MONTH_FILE_GLOB`); any other file in a partition is not part of the layout."""
    base = Path(data_dir) / dataset
    pattern = f"symbol={symbol or '*'}/{MONTH_FILE_GLOB}"
    return sorted(base.glob(pattern))


def list_symbols(data_dir: Path, dataset: str) -> list[str]:
    base = Path(data_dir) / dataset
    return sorted(p.name.split("=", 1)[1] for p in base.glob("symbol=*") if p.is_dir()
                  and any(p.glob(MONTH_FILE_GLOB)))


@dataclass
class WriteReport:
    dataset: str
    symbol: str
    rows_in: int = 0
    rows_added: int = 0
    rows_replaced: int = 0
    rows_filled: int = 0  # stored rows whose NULL optional columns the new rows filled
    files_written: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        filled = (f", {self.rows_filled} stored row(s) completed (NULL optional columns filled)"
                  if self.rows_filled else "")
        return (f"{self.dataset}/{self.symbol}: {self.rows_in} rows in, {self.rows_added} new"
                f"{filled}, {len(self.files_written)} file(s) written, "
                f"{len(self.files_unchanged)} unchanged")


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
    dry_run: bool = False,
    on_write=None,
    prevalidated: bool = False,
) -> WriteReport:
    """Validate ``table`` and merge it into the raw layout, month file by month file: the one
    writer of the raw layer (import, ingest and sample all call it).

    The partition's lock is held from reading the stored months to renaming the merged ones, so
    a concurrent writer of the same dataset and symbol waits and then merges into this one's
    result. All months are prepared and checked before any file is renamed into place, so a
    conflict or bad row leaves the raw layer exactly as it was. ``origin`` (one of
    :data:`ORIGINS`) and the rows' checksum (:func:`rows_checksum`) are recorded in each
    written file. ``dry_run``: every check (rows, conflicts with the stored months, origins),
    nothing written (``files_written`` lists what would be). ``on_write(path)`` is called after
    each month file is renamed into place (a caller that is stopped midway knows what was
    written). ``prevalidated``: the caller validated these rows with the same flags (the
    import batch's dry run): only conformed here.
    """
    if dataset not in DATASETS:
        raise RawDataError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    spec = DATASETS[dataset]
    symbol = normalize_symbol(symbol)
    table = conform(dataset, table, source=source)
    if not prevalidated:
        table = validate(dataset, table, source=source, allow_unsorted=allow_unsorted,
                         waive=waive)
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
            if dataset == "um_liquidations" and path.exists():
                _refuse_liquidation_twins(path, part, source=source)
            try:
                merged, added, replaced, filled = _merge(spec, path, part, source=source,
                                                         replace=replace)
            except RawDataError:  # conflicting rows: a mix of origins is the real problem
                _check_origin_mix(path, stored, origin, source)
                raise
            report.rows_added += added
            report.rows_replaced += replaced
            report.rows_filled += filled
            if merged is None:  # identical rows: nothing to write, whatever their origin
                report.files_unchanged.append(str(path))
            else:
                _check_origin_mix(path, stored, origin, source)
                pending.append((path, merged, ",".join(sorted(stored | {origin}))))
        for path, merged, origins in pending:
            if not dry_run:
                atomic_write_parquet(merged, path, metadata={
                    ORIGIN_KEY: origins.encode(), CHECKSUM_KEY: rows_checksum(merged).encode()})
                if on_write is not None:
                    on_write(path)
            report.files_written.append(str(path))
    return report


# A new liquidation whose time and side equal a stored one's, whose USD notional is within
# this share of it, but whose price or quantity differ, is the same order in another unit or
# precision (quantity in contracts vs coins, rounded prices): stored beside it, it would be
# counted twice (issue 35, item 8). Binance's snapshot holds at most one per symbol and second.
LIQUIDATION_TWIN_TOLERANCE = 0.005


def _refuse_liquidation_twins(path: Path, new: pa.Table, *, source: str) -> None:
    """RawDataError when rows of ``new`` are stored in ``path`` already under another key (see
    :data:`LIQUIDATION_TWIN_TOLERANCE`); rows stored with the same key are the same rows."""
    keys = ["time", "side", "price", "quantity"]
    old = read_raw_file(path, DATASETS["um_liquidations"]).select(keys + ["notional_usd"])
    n = new.select(keys + ["notional_usd"]).to_pandas().reset_index(names="row")
    m = n.merge(old.to_pandas(), on=["time", "side"], suffixes=("", "_stored"))
    if m.empty:
        return
    same = (m["price"] == m["price_stored"]) & (m["quantity"] == m["quantity_stored"])
    m = m[~m["row"].isin(m.loc[same, "row"])]
    size = np.maximum(m["notional_usd"].abs(), m["notional_usd_stored"].abs())
    twins = m[(m["notional_usd"] - m["notional_usd_stored"]).abs()
              <= LIQUIDATION_TWIN_TOLERANCE * size]
    if twins.empty:
        return
    t = twins.iloc[0]
    raise RawDataError(
        f"{twins['row'].nunique()} liquidation(s) are stored in {path} already, with another "
        f"price or quantity: the {t['side']} at {t['time']} (price {t['price']:g}, quantity "
        f"{t['quantity']:g}, {t['notional_usd']:,.0f} USD) is stored as price "
        f"{t['price_stored']:g}, quantity {t['quantity_stored']:g} "
        f"({t['notional_usd_stored']:,.0f} USD): the same order in another unit or precision, "
        "which would be counted twice", file=source,
        hint="import the file in the units and precision of the stored rows (e.g. the same "
             "--contract-usd), or drop these rows from it; nothing was written")


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
    generated = [f for f in list_files(path.parent.parent.parent, path.parent.parent.name,
                                       path.parent.name.split("=", 1)[1])
                 if file_origins(f) == {GENERATED}]
    names = ", ".join(f.name for f in generated[:12]) + (", ..." if len(generated) > 12 else "")
    raise RawDataError(
        f"{path} holds generated sample data; real rows are not mixed into it", file=source,
        hint="import real data into its own folder (e.g. --data-dir data/real) and run with "
             "that --data-dir; or, if you no longer need the generated months, delete only "
             f"these {len(generated)} generated file(s) in {path.parent}: {names} (origin "
             "sample; any other month in that folder is real data: keep it)")


def _merge(spec: DatasetSpec, path: Path, new: pa.Table, *, source: str,
           replace: bool) -> tuple[pa.Table | None, int, int, int]:
    """Merge ``new`` into the month file at ``path``. Returns (table to write or None when the
    file would not change, rows added, rows replaced, rows filled).

    A stored row and a new row of the same key conflict only when a column holds a value in
    both and the values differ. A NULL on either side is not a conflict: a stored NULL
    (an optional column the earlier source lacked, e.g. OHLCV-only bars) is filled from the new
    row ("filled"); a new NULL keeps the stored value."""
    if not path.exists():
        return new, new.num_rows, 0, 0
    old = read_raw_file(path, spec)
    keys = list(spec.key_columns)
    old_df = old.to_pandas().set_index(keys)
    new_df = new.to_pandas().set_index(keys)
    common = old_df.index.intersection(new_df.index)
    replaced = filled = 0
    if len(common):
        a = old_df.loc[common]
        b = new_df.loc[common]
        differ = (a.notna() & b.notna() & ~a.eq(b)).any(axis=1).to_numpy()
        if differ.any():
            first = common[differ][0]
            n_conf = int(differ.sum())
            if not replace:
                raise RawDataError(
                    f"{n_conf} row(s) conflict with rows already stored in {path} "
                    f"(first at {first}); nothing was written",
                    file=source,
                    hint="if the new file is the correct one, re-run with --replace",
                )
            replaced = n_conf
        fill = (a.isna() & b.notna()).any(axis=1).to_numpy() & ~differ
        filled = int(fill.sum())
        # agreeing rows: the new values, a NULL in them filled from the stored row (replaced
        # rows are the new rows as they are)
        keep = (b.isna() & a.notna()).any(axis=1).to_numpy() & ~differ
        if keep.any():
            rows = common[keep]
            kept = b.loc[rows].where(b.loc[rows].notna(), a.loc[rows])
            new_df = pd.concat([new_df.drop(index=rows), kept])
    added = int(len(new_df.index.difference(old_df.index)))
    if added == 0 and replaced == 0 and filled == 0:
        return None, 0, 0, 0
    # identical or replaced keys come from the new rows, all other stored rows are kept
    keep_old = old_df.loc[old_df.index.difference(new_df.index)]
    merged_df = pd.concat([keep_old, new_df]).sort_index()
    merged = pa.Table.from_pandas(merged_df.reset_index(), schema=spec.schema, preserve_index=False)
    return merged, added, replaced, filled


def read_raw_file(path: Path, spec: DatasetSpec | None = None) -> pa.Table:
    """A month file's rows; a file that does not open, or whose rows do not match its recorded
    checksum, is a RawDataError naming it (so a corrupted month is never merged into a new
    file with a fresh checksum)."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise damaged_file_error(path, exc) from exc
    verify_checksum(path, table)
    if spec is not None:
        table = conform(spec.name, table, source=str(path))
    return table


def read_dataset(data_dir: str | os.PathLike, dataset: str, symbol: str) -> pa.Table:
    spec = DATASETS[dataset]
    files = list_files(Path(data_dir), dataset, normalize_symbol(symbol))
    if not files:
        return spec.schema.empty_table()
    return pa.concat_tables([read_raw_file(f, spec) for f in files])

