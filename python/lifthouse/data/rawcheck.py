"""The raw layout's own files, checked before a build reads them (``lifthouse preflight``, so
also the preflight stage of ``lifthouse run``): what dbt's sources read must be exactly the rows
the writer (:func:`lifthouse.data.raw.write_dataset`) wrote.

Checked, in order (:func:`check_files`):

1. **layout**: inside ``<data_dir>/<dataset>/`` only ``symbol=<SYM>/`` folders (``SYM`` as the
   writer normalizes it) holding ``<YYYY-MM>.parquet`` files. Anything else (a backup copy
   ``2025-06 (old copy).parquet``, ``BTCUSDT.parquet`` dropped in by hand, a sub-folder,
   ``symbol=btcusdt``) is listed and fails: the sources do not read it, so it is either a mistake
   or data the user thinks is used. Hidden names (a writer's ``.2025-06.parquet.*.tmp``,
   ``.DS_Store``) are read by nothing and only noted.
2. **footers**: every month file opens as Parquet (all symbols and months: dbt's sources glob
   every file).
3. **columns**: a month file holds only its dataset's columns (a ``symbol`` column inside a
   file would fight the ``symbol=`` folder).
4. **months**: every file's rows lie in its own month (the time column's row-group statistics).
   With one file per month this is what keeps a key out of two files: a month file copied under
   another month's name is a duplicate across files, named with both files and the keys they
   share.
5. **checksums** (the files of the run's symbols): each file is read whole and its rows are
   compared with the checksum the writer recorded (``lifthouse.rows_sha256``), and the time
   column's statistics with its values; files written before checksums were recorded are
   accepted and counted in a note (``lifthouse preflight --record-checksums`` records them).
6. **copies across symbols**: the same rows of a price dataset (klines, open interest) stored
   under two symbols (a month copied into the wrong ``symbol=`` folder). Not a duplicate key
   (the symbol differs), and hand-made test data may do it on purpose: a note naming both
   files.

Any problem of 1-5 raises one :class:`RawDataError` naming every file and its fix; nothing is
changed.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lifthouse.data.checksum import (CHECKSUM_KEY, damaged_file_error, recorded_checksum,
                                     rows_checksum)
from lifthouse.data.raw import MONTH_FILE_RE, list_files, normalize_symbol, partition_lock
from lifthouse.data.atomic import atomic_write_parquet
from lifthouse.data.schema import DATASETS, RawDataError

MOVE_OUT = ("move it out of the raw layer (keep it elsewhere if you need it); to add its rows, "
            "lifthouse import it")
# datasets whose rows cannot be the same for two symbols unless copied (prices, open interest)
PRICE_DATASETS = frozenset(n for n, s in DATASETS.items()
                           if "klines" in n or n == "um_open_interest_5m")


@dataclass
class FileCheck:
    """What :func:`check_files` looked at."""

    files: int = 0             # month files in the layout
    read: int = 0              # files read whole (the run's symbols)
    verified: int = 0          # of those, rows matching their recorded checksum
    unverified: list[Path] = field(default_factory=list)  # read, but no checksum recorded
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _month_bounds(path: Path) -> tuple[int, int]:
    """[first, next) microsecond of the month a file is named after (epoch, naive UTC)."""
    y, m = int(path.stem[:4]), int(path.stem[5:7])
    return _epoch_us(dt.datetime(y, m, 1)), _epoch_us(dt.datetime(y + m // 12, m % 12 + 1, 1))


def _epoch_us(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def _when(us: int) -> str:
    """A stamp in microseconds as text; a corrupted value may lie outside Python's years."""
    try:
        return str(dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us)))
    except OverflowError:
        return f"{us} us after 1970 (outside any calendar)"


# microseconds per unit of a timestamp column (nanoseconds divide)
_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}


def _to_us(value: int, unit: str) -> int:
    return int(value) // 1000 if unit == "ns" else int(value) * _PER_UNIT[unit]


def _min_max_us(col, unit: str) -> tuple[int, int] | None:
    """(min, max) of a timestamp column in microseconds, or None when it holds no value."""
    ints = col.cast(pa.int64())
    if len(ints) == ints.null_count:
        return None
    mm = pc.min_max(ints)
    return _to_us(mm["min"].as_py(), unit), _to_us(mm["max"].as_py(), unit)


def walk_layout(data_dir: Path) -> tuple[list[Path], list[tuple[Path, str]], list[Path]]:
    """(month files, strays with what they are, hidden entries) of every dataset folder."""
    months: list[Path] = []
    strays: list[tuple[Path, str]] = []
    hidden: list[Path] = []
    for ds in DATASETS:
        base = Path(data_dir) / ds
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.startswith("."):
                hidden.append(entry)
                continue
            if not entry.is_dir() or not entry.name.startswith("symbol="):
                strays.append((entry, "not a symbol=<SYMBOL> folder (month files live in "
                                      f"{ds}/symbol=<SYMBOL>/<YYYY-MM>.parquet)"))
                continue
            sym = entry.name.split("=", 1)[1]
            try:
                norm = normalize_symbol(sym) if sym else ""
            except RawDataError:
                norm = ""
            if norm != sym:
                strays.append((entry, "not a symbol folder lifthouse writes (symbols are stored "
                                      "normalized, like symbol=BTCUSDT"
                                      + (f"; this one would be symbol={norm}" if norm else "")
                                      + "): a run never reads it"))
                continue
            for f in sorted(entry.iterdir()):
                if f.name.startswith("."):
                    hidden.append(f)
                elif f.is_file() and MONTH_FILE_RE.match(f.name):
                    months.append(f)
                else:
                    strays.append((f, ("a folder" if f.is_dir() else "a file")
                                   + " lifthouse does not write (month files are named "
                                     "<YYYY-MM>.parquet): the build does not read it"))
    return months, strays, hidden


def _key_overlap(spec, a: Path, b: Path) -> tuple[int, object]:
    """Keys present in both files, and the first of them."""
    keys = list(spec.key_columns)
    try:
        ka = pq.read_table(a, columns=keys).to_pandas().set_index(keys).index
        kb = pq.read_table(b, columns=keys).to_pandas().set_index(keys).index
    except Exception:  # noqa: BLE001 - a damaged file is reported on its own
        return 0, None
    both = ka.intersection(kb).sort_values()
    return len(both), (both[0] if len(both) else None)


def _column_index(pf: pq.ParquetFile, column: str) -> int | None:
    md = pf.metadata
    return next((i for i in range(md.num_columns) if md.schema.column(i).path == column), None)


def _stats_us(pf: pq.ParquetFile, idx: int | None, rg: int, unit: str) -> tuple[int, int] | None:
    """A row group's (min, max) statistics of column ``idx`` in microseconds, if recorded."""
    if idx is None:
        return None
    st = pf.metadata.row_group(rg).column(idx).statistics
    if st is None or not st.has_min_max or st.physical_type != "INT64":
        return None
    return _to_us(st.min_raw, unit), _to_us(st.max_raw, unit)


def _time_range(pf: pq.ParquetFile, path: Path, column: str, unit: str
                ) -> tuple[tuple[int, int] | None, bool]:
    """((min, max) in microseconds or None, from statistics) of a file's time column."""
    idx = _column_index(pf, column)
    lo = hi = None
    for rg in range(pf.metadata.num_row_groups):
        st = _stats_us(pf, idx, rg, unit)
        if st is None:  # no statistics: the values
            return _min_max_us(_read_column(path, pf, column), unit), False
        lo = st[0] if lo is None else min(lo, st[0])
        hi = st[1] if hi is None else max(hi, st[1])
    return ((lo, hi) if lo is not None else None), True


def _stats_mismatch(pf: pq.ParquetFile, column: str, unit: str,
                    groups: list[pa.Table]) -> str | None:
    """The first row group whose time-column statistics disagree with its values."""
    idx = _column_index(pf, column)
    for rg, t in enumerate(groups):
        st = _stats_us(pf, idx, rg, unit)
        values = _min_max_us(t.column(column), unit)
        if st is None or values is None or st == values:
            continue
        return (f"the statistics of {column} in row group {rg} (min {_when(st[0])}, max "
                f"{_when(st[1])}) disagree with its values (min {_when(values[0])}, max "
                f"{_when(values[1])}): the footer is corrupted (DuckDB skips row groups by "
                "these statistics)")
    return None


def check_files(data_dir: str | Path, symbols: list[str] | None = None) -> FileCheck:
    """Check the raw layout under ``data_dir`` (see the module docstring); the files of
    ``symbols`` (all when None) are read whole for their checksums. Raises RawDataError naming
    every problem and its fix; returns what was checked, with notes."""
    t0 = time.monotonic()
    data_dir = Path(data_dir)
    out = FileCheck()
    months, strays, hidden = walk_layout(data_dir)
    out.files = len(months)
    problems: list[tuple[Path, str, str]] = [(p, what, MOVE_OUT) for p, what in strays]
    wanted = None if symbols is None else {normalize_symbol(s) for s in symbols}
    # one file per task: reading and hashing release the GIL (about 2x on 2 cores)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(lambda path: _check_one(path, wanted), months))
    damaged = [(r.path, r.damaged) for r in results if r.damaged is not None]
    if damaged:
        path, exc = damaged[0]
        others = "".join(f"\n  also damaged: {p}" for p, _ in damaged[1:6])
        more = "".join(f"\n  also not the writer's: {p}: {what}" for p, what, _ in problems[:6])
        raise damaged_file_error(path, exc, f"; {len(damaged)} damaged file(s) under {data_dir}"
                                 + others + more)
    sums: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    for r in results:
        if r.problem is not None:
            problems.append(r.problem)
        out.read += r.read
        out.verified += r.verified
        if r.read and not r.verified and r.problem is None:
            out.unverified.append(r.path)
        if r.checksum is not None:
            sums.setdefault((r.path.parent.parent.name, r.path.stem), []).append(
                (r.checksum, r.path))
    for (ds, month), files in sorted(sums.items()):
        by_sum: dict[str, list[Path]] = {}
        for s, p in files:
            by_sum.setdefault(s, []).append(p)
        for same in by_sum.values():
            if len(same) > 1:
                syms = [p.parent.name.split("=", 1)[1] for p in same]
                out.notes.append(
                    f"{ds} {month} holds the same rows under {' and '.join(syms)} "
                    f"({', '.join(map(str, same))}): a month copied into the wrong symbol= "
                    "folder? If so, move the copy out and ingest or import that symbol's month")
    for p in hidden:
        kind = ("a writer's temp file (a lifthouse writer is running, or one was killed)"
                if p.name.endswith(".tmp") else "a hidden file")
        out.notes.append(f"{p}: {kind}; nothing reads it (delete it when no writer runs)")
    if out.unverified:
        out.notes.append(
            f"{len(out.unverified)} of {out.read} file(s) read record no checksum of their rows "
            f"(written before lifthouse recorded one, e.g. {out.unverified[0]}): accepted, but "
            "corruption inside them cannot be detected; record one with: lifthouse preflight "
            f"--record-checksums --data-dir {data_dir}")
    out.seconds = time.monotonic() - t0
    if problems:
        raise files_error(data_dir, problems)
    return out


@dataclass
class _One:
    """What :func:`_check_one` found in one month file."""

    path: Path
    damaged: BaseException | None = None
    problem: tuple[Path, str, str] | None = None
    read: int = 0
    verified: int = 0
    checksum: str | None = None  # of a price dataset's rows (copies across symbols)


REFETCH = "move it out of the raw layer, then import or ingest that month again"


def _check_one(path: Path, wanted: set[str] | None) -> _One:
    """Footer, columns, month range, and (a symbol in ``wanted``) checksum and statistics."""
    one = _One(path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        one.damaged = exc
        return one
    ds = path.parent.parent.name
    spec = DATASETS[ds]
    names = pf.schema_arrow.names
    extra = sorted(set(names) - {c.name for c in spec.columns})
    ttype = pf.schema_arrow.field(spec.time_column).type if spec.time_column in names else None
    if extra or ttype is None or not pa.types.is_timestamp(ttype):
        what = (f"column(s) {extra} are not columns of {ds}" if extra else
                f"it has no {spec.time_column} column" if ttype is None else
                f"its {spec.time_column} column is {ttype}, not a timestamp")
        one.problem = (path, what + " (the writer never writes such a file)", MOVE_OUT)
        return one
    unit = ttype.unit
    lo, hi = _month_bounds(path)
    try:
        span, from_stats = _time_range(pf, path, spec.time_column, unit)
        if span is not None and (span[0] < lo or span[1] >= hi) and from_stats:
            # confirm from the values: corrupted statistics are a problem of their own
            values = _min_max_us(_read_column(path, pf, spec.time_column), unit)
            if values != span:
                one.problem = (path, f"the statistics of {spec.time_column} (min "
                                     f"{_when(span[0])}, max {_when(span[1])}) disagree with its "
                                     "values (min " + (f"{_when(values[0])}, max "
                                                       f"{_when(values[1])}" if values else
                                                       "-, max -")
                               + "): the footer is corrupted", REFETCH)
                return one
        if span is not None and (span[0] < lo or span[1] >= hi):
            one.problem = _outside_month(spec, path, span, lo)
            return one
        sym = path.parent.name.split("=", 1)[1]
        if wanted is not None and sym not in wanted:
            return one
        one.read = 1
        groups = [pf.read_row_group(i) for i in range(pf.metadata.num_row_groups)]
        table = pa.concat_tables(groups) if groups else pf.schema_arrow.empty_table()
    except RawDataError as exc:  # _read_column: pages that do not decode
        one.damaged = exc.__cause__ or exc
        return one
    except Exception as exc:  # noqa: BLE001 - pages that do not decode
        one.damaged = exc
        return one
    actual = rows_checksum(table)
    recorded = recorded_checksum(pf.metadata.metadata)
    if recorded is not None and recorded != actual:
        one.problem = (path, f"its rows do not match the checksum recorded in it "
                             f"(lifthouse.rows_sha256 {recorded[:16]}..., the rows give "
                             f"{actual[:16]}...): the content is corrupted",
                       REFETCH + " (or restore a backup copy that preflight verifies)")
        return one
    one.verified = int(recorded is not None)
    stats = _stats_mismatch(pf, spec.time_column, unit, groups)
    if stats:
        one.problem = (path, stats, REFETCH)
        return one
    if ds in PRICE_DATASETS and table.num_rows:
        one.checksum = actual
    return one


def _read_column(path: Path, pf: pq.ParquetFile, column: str) -> pa.ChunkedArray:
    try:
        return pf.read(columns=[column]).column(0)
    except Exception as exc:  # noqa: BLE001 - pages that do not decode
        raise damaged_file_error(path, exc) from exc


def _outside_month(spec, path: Path, span: tuple[int, int], lo: int) -> tuple[Path, str, str]:
    """A file holding rows outside its month: the months' files it overlaps, and the keys."""
    others = []
    epoch = dt.datetime(1970, 1, 1)
    try:
        first = epoch + dt.timedelta(microseconds=span[0])
        last = epoch + dt.timedelta(microseconds=span[1])
        m = dt.datetime(first.year, first.month, 1)
    except OverflowError:  # stamps outside any calendar: no month file can share them
        m, last = dt.datetime(9999, 12, 1), dt.datetime(1, 1, 1)
    while m <= last:
        other = path.with_name(f"{m:%Y-%m}.parquet")
        if other != path and other.exists():
            n, key = _key_overlap(spec, path, other)
            others.append(f"{other} ({n} key(s) in both files" + (f", first {key}" if n else "")
                          + ")")
        m = dt.datetime(m.year + m.month // 12, m.month % 12 + 1, 1)
    what = (f"holds rows from {_when(span[0])} to {_when(span[1])}, outside its month "
            f"{path.stem}")
    if others:
        what += ("; the build reads those rows twice, from this file and from "
                 + "; ".join(others) + " (duplicates across files)")
    return (path, what, "the writer never puts a row outside its month's file, so this file was "
            "copied or renamed by hand: move it out of the raw layer; if its rows are needed, "
            "lifthouse import it (each row goes to its month's file)")


def files_error(data_dir: Path, problems: list[tuple[Path, str, str]]) -> RawDataError:
    lines = []
    for p, what, fix in problems[:20]:
        lines.append(f"\n  {p}: {what}\n    fix: {fix}")
    if len(problems) > 20:
        lines.append(f"\n  ... and {len(problems) - 20} more")
    return RawDataError(
        f"{len(problems)} file(s) under {data_dir} are not the writer's month files as it wrote "
        "them:" + "".join(lines),
        hint="move each named file out of the raw layer as its fix says, then re-run "
             "(preflight changed nothing)")


def record_checksums(data_dir: str | Path, log=print) -> list[Path]:
    """Record the rows checksum in every month file that has none (files written before
    lifthouse recorded checksums): each is rewritten with the same rows and metadata plus the
    checksum, under its partition's lock, via a temp file and a rename. The checksum is of the
    rows as they are now: it cannot tell whether they were corrupted before. Returns the files
    rewritten."""
    data_dir = Path(data_dir)
    done = []
    for ds in DATASETS:
        for path in list_files(data_dir, ds):
            with partition_lock(path.parent):
                try:
                    table = pq.read_table(path)
                except Exception as exc:  # noqa: BLE001
                    raise damaged_file_error(path, exc) from exc
                if recorded_checksum(table.schema.metadata) is not None:
                    continue
                # the checksum must describe the rows as written: timestamps as the writer
                # stores them (microseconds)
                table = table.cast(pa.schema([
                    f.with_type(pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type)
                    else f for f in table.schema], metadata=table.schema.metadata))
                atomic_write_parquet(table, path, metadata={
                    CHECKSUM_KEY: rows_checksum(table).encode()})
            done.append(path)
            log(f"{path}: checksum recorded ({table.num_rows} rows)")
    return done
