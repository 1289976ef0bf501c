"""Plan, download, verify, parse and write archives into the raw layer; resumable.

State lives in ``<data_dir>/_ingest/``:

- ``done/<archive path>.json``: written (atomically) after an archive's rows are in the raw
  layer; holds its sha256, row count and the raw month files it feeds. An archive whose marker
  exists and whose month files all exist is skipped without any request.
- ``tmp/``: downloads in flight (removed on success and failure).

Downloads run in a small thread pool; writes happen one at a time in the calling thread through
:func:`lifthouse.data.raw.write_dataset` (validate, merge, atomic rename, identical rows = no write).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow as pa

from lifthouse.data.ingest.download import FetchError, NotFound, RetryPolicy, fetch, parse_checksum
from lifthouse.data.ingest.layout import (
    DEFAULT_BASE_URL,
    Archive,
    daily_archives,
    join_url,
    parse_datasets,
    parse_symbols,
    plan,
)
from lifthouse.data.ingest.parse import read_archive
from lifthouse.data.atomic import atomic_write_bytes
from lifthouse.data.raw import write_dataset
from lifthouse.data.schema import BAR_MINUTES, RawDataError, required_datasets

STATE_DIR = "_ingest"
# datasets a run cannot do without at some grain (um_klines_1m, um_klines_5m, um_funding_rate):
# asked for and empty for a symbol, they fail the ingest
REQUIRED = frozenset(d for m in BAR_MINUTES for d in required_datasets(m))


@dataclass
class ArchiveResult:
    archive: Archive
    # written | unchanged | done (skipped: marker) | missing (404) | failed
    status: str
    rows: int = 0
    bytes: int = 0
    error: str | None = None
    files_written: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    datasets: list[str]
    symbols: list[str]
    start: dt.date
    end: dt.date
    results: list[ArchiveResult] = field(default_factory=list)
    not_yet_published: tuple[dt.date, dt.date] | None = None
    seconds: float = 0.0

    def by_status(self, status: str) -> list[ArchiveResult]:
        return [r for r in self.results if r.status == status]

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.results)

    def empty_required(self) -> list[tuple[str, str]]:
        """(dataset, symbol) pairs of required datasets that got no archive at all."""
        out = []
        for ds in self.datasets:
            if ds not in REQUIRED:
                continue
            for sym in self.symbols:
                rs = [r for r in self.results if r.archive.dataset == ds and r.archive.symbol == sym]
                if not any(r.status in ("written", "unchanged", "done") for r in rs):
                    out.append((ds, sym))
        return out

    @property
    def exit_code(self) -> int:
        """0: every archive that exists is in the raw layer (404s are warnings);
        1: an archive failed, or a required dataset got nothing for a symbol."""
        return 1 if self.by_status("failed") or self.empty_required() else 0

    def render(self) -> str:
        n = len(self.results)
        counts = {s: len(self.by_status(s)) for s in ("written", "unchanged", "done", "missing",
                                                      "failed")}
        lines = [
            f"ingest {','.join(self.symbols)} {self.start}..{self.end} (end exclusive): {n} "
            f"archive(s): {counts['written']} written, {counts['unchanged']} unchanged, "
            f"{counts['done']} already done (no download), {counts['missing']} not in the "
            f"archive, {counts['failed']} failed; {_mb(self.bytes)} in {self.seconds:.1f} s"
        ]
        for (ds, sym), arcs in _group(self.by_status("missing")).items():
            lines.append(f"  warning: {ds} {sym}: not in the archive (404): "
                         f"{_periods(arcs)}")
        if self.not_yet_published:
            a, b = self.not_yet_published
            lines.append(f"  note: {a}..{b - dt.timedelta(days=1)} not requested: the archive "
                         "publishes a day after it ends (UTC)")
        for r in self.by_status("failed"):
            lines.append(f"  FAILED {r.archive.dataset} {r.archive.symbol} {r.archive.path}:\n"
                         f"    {_indent(r.error or '')}")
        for ds, sym in self.empty_required():
            lines.append(f"  ERROR: required dataset {ds} got no data for {sym}")
        lines.append("  exit status: " + ("0 (ok)" if self.exit_code == 0 else
                                          "1 (see FAILED / ERROR above; re-run to resume)"))
        return "\n".join(lines)


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _group(results: list[ArchiveResult]) -> dict[tuple[str, str], list[Archive]]:
    out: dict[tuple[str, str], list[Archive]] = {}
    for r in results:
        out.setdefault((r.archive.dataset, r.archive.symbol), []).append(r.archive)
    return out


def _periods(archives: list[Archive]) -> str:
    """Consecutive periods merged into ranges: '2025-05-01..2025-05-03 (3 days), 2025-06'."""
    items = sorted(archives, key=lambda a: a.start)
    ranges: list[list[Archive]] = []
    for a in items:
        if ranges and ranges[-1][-1].end == a.start and ranges[-1][-1].freq == a.freq:
            ranges[-1].append(a)
        else:
            ranges.append([a])
    parts = []
    for rg in ranges:
        unit = "day" if rg[0].freq == "daily" else "month"
        if len(rg) == 1:
            parts.append(rg[0].period)
        else:
            parts.append(f"{rg[0].period}..{rg[-1].period} ({len(rg)} {unit}s)")
    return ", ".join(parts)


class Progress:
    """One plain-text progress line on stderr: archives, bytes, rate and ETA."""

    def __init__(self, total: int, stream: TextIO | None, min_interval: float = 1.0):
        self.total = total
        self.stream = stream
        self.min_interval = min_interval
        self.done = 0
        self.bytes = 0
        self.t0 = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes += n

    def file_done(self, final: bool = False) -> None:
        self.done += 1
        self.show(final)

    def line(self) -> str:
        el = max(time.monotonic() - self.t0, 1e-9)
        rate = self.bytes / el
        left = self.total - self.done
        eta = (el / self.done * left) if self.done else float("nan")
        eta_s = "?" if eta != eta else str(dt.timedelta(seconds=round(eta)))
        return (f"ingest: {self.done}/{self.total} archives, {_mb(self.bytes)} downloaded, "
                f"{rate / 1e6:.1f} MB/s, ETA {eta_s}")

    def show(self, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if force or self.done == self.total or now - self._last >= self.min_interval:
            self._last = now
            print(self.line(), file=self.stream, flush=True)


def marker_path(data_dir: Path, archive: Archive) -> Path:
    return data_dir / STATE_DIR / "done" / (archive.path + ".json")


def is_done(data_dir: Path, archive: Archive) -> bool:
    """True when the archive's marker exists and every raw file it fed still exists."""
    p = marker_path(data_dir, archive)
    try:
        info = json.loads(p.read_text())
    except (OSError, ValueError):
        return False
    return all((data_dir / f).exists() for f in info.get("files", []))


def _write_marker(data_dir: Path, archive: Archive, sha: str, rows: int, files: list[str]) -> None:
    body = json.dumps({"archive": archive.path, "sha256": sha, "rows": rows, "files": files,
                       "dataset": archive.dataset, "symbol": archive.symbol}, indent=1)
    atomic_write_bytes(body.encode("utf-8"), marker_path(data_dir, archive))


def _month_files(archive: Archive, table: pa.Table) -> list[str]:
    if table.num_rows == 0:
        return []
    import numpy as np

    months = np.unique(table.column(0).to_numpy(zero_copy_only=False).astype("datetime64[M]"))
    return [f"{archive.dataset}/symbol={archive.symbol}/{m}.parquet" for m in months]


def check_writable(data_dir: Path) -> Path:
    """Create ``<data_dir>/_ingest/tmp`` and prove a file can be written there."""
    tmp_dir = data_dir / STATE_DIR / "tmp"
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=tmp_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RawDataError(
            f"the data directory is not writable: {exc.strerror or exc}",
            file=data_dir,
            hint="choose a writable --data-dir or fix the folder's permissions; nothing was "
                 "downloaded or written",
        ) from exc
    return tmp_dir


@dataclass
class _Downloaded:
    archive: Archive
    table: pa.Table
    sha: str
    size: int


def _download(archive: Archive, base_url: str, tmp_dir: Path, policy: RetryPolicy,
              progress: Progress, log: TextIO | None) -> _Downloaded:
    """Fetch the CHECKSUM, then the zip into a temp file; verify; parse. The temp file is
    always removed. A checksum mismatch is retried once (a corrupted transfer)."""
    url = join_url(base_url, archive.path)

    def on_retry(u: str, attempt: int, exc: FetchError) -> None:
        if log is not None:
            print(f"ingest: retry {attempt}/{policy.attempts - 1} {u}: {exc.reason}", file=log,
                  flush=True)

    try:
        body, _, _ = fetch(url + ".CHECKSUM", policy=policy, on_retry=on_retry)
        expected = parse_checksum((body or b"").decode("utf-8", errors="replace"),
                                  archive.name, url + ".CHECKSUM")
    except NotFound:
        expected = None  # the zip may be absent too (not in the archive) or present alone
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".part", dir=tmp_dir)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if expected is None:
            # NotFound when the zip is absent as well: the period is not in the archive
            _, sha, size = fetch(url, tmp_path, policy=policy, on_bytes=progress.add_bytes,
                                 on_retry=on_retry)
            raise RawDataError(
                f"{archive.name}.CHECKSUM is missing from the archive, but {archive.name} is "
                f"there ({size} bytes): it cannot be verified, so it is not used",
                file=url + ".CHECKSUM",
                hint="re-run later (the archive publishes the checksum beside the zip), or "
                     "check --base-url / --mirror (a mirror must hold the .CHECKSUM files too); "
                     "nothing from this archive was written")
        for attempt in range(2):
            _, sha, size = fetch(url, tmp_path, policy=policy, on_bytes=progress.add_bytes,
                                 on_retry=on_retry)
            if sha == expected:
                break
            if attempt == 0 and log is not None:
                print(f"ingest: checksum mismatch for {archive.name}, downloading again",
                      file=log, flush=True)
        else:
            raise RawDataError(
                f"checksum mismatch for {archive.name}: sha256 {sha} but {archive.name}.CHECKSUM "
                f"says {expected} (downloaded twice, {size} bytes)",
                file=url,
                hint="the download is corrupt or the mirror is stale; re-run later or check "
                     "--base-url; nothing from this archive was written",
            )
        table = read_archive(tmp_path, archive)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return _Downloaded(archive, table, sha, size)


def ingest(
    symbols: list[str],
    datasets: list[str],
    start: dt.date,
    end: dt.date,
    *,
    data_dir: str | os.PathLike,
    base_url: str = DEFAULT_BASE_URL,
    policy: RetryPolicy = RetryPolicy(),
    jobs: int = 4,
    force: bool = False,
    replace: bool = False,
    today: dt.date | None = None,
    progress_stream: TextIO | None = sys.stderr,
    bar_minutes: int = 1,
) -> IngestReport:
    """Fill the raw layer for ``symbols`` x ``datasets`` over [start, end) from the archive.

    ``datasets`` are raw dataset names or short names (:func:`layout.aliases`); ``bar_minutes``
    (1 or 5) is the grain the short names ``klines``, ``perp`` and ``spot`` mean.

    Raises :class:`RawDataError` only for problems that stop everything (bad arguments, data
    dir not writable); per-archive problems are collected in the report.
    """
    t0 = time.monotonic()
    data_dir = Path(data_dir)
    symbols = parse_symbols(symbols)
    datasets = parse_datasets(",".join(datasets), bar_minutes)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    the_plan = plan(datasets, symbols, start, end, today)
    report = IngestReport(datasets, symbols, start, end,
                          not_yet_published=the_plan.not_yet_published)
    tmp_dir = check_writable(data_dir)
    stop = min(end, today)
    progress = Progress(len(the_plan.archives), progress_stream)

    def skip(a: Archive) -> bool:
        if not force and is_done(data_dir, a):
            report.results.append(ArchiveResult(a, "done"))
            progress.file_done()
            return True
        return False

    todo = [a for a in the_plan.archives if not skip(a)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running: dict[Future, Archive] = {}

        def submit(a: Archive) -> None:
            running[pool.submit(_download, a, base_url, tmp_dir, policy, progress,
                                progress_stream)] = a

        for a in todo:
            submit(a)
        while running:
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                a = running.pop(fut)
                result = _finish(fut, a, data_dir, replace)
                if result.status == "missing" and a.freq == "monthly" and a.source.daily:
                    # monthly file not published (yet): fall back to the month's daily files
                    days = daily_archives(a.dataset, a.symbol, max(a.start, start),
                                          min(a.end, stop))
                    progress.total += len(days) - 1
                    for d in days:
                        if not skip(d):
                            submit(d)
                    continue
                report.results.append(result)
                progress.file_done()
    order = {d: i for i, d in enumerate(datasets)}
    report.results.sort(key=lambda r: (order[r.archive.dataset], symbols.index(r.archive.symbol),
                                       r.archive.start, r.archive.freq))
    report.seconds = time.monotonic() - t0
    return report


def _finish(fut: Future, a: Archive, data_dir: Path, replace: bool) -> ArchiveResult:
    try:
        got: _Downloaded = fut.result()
    except NotFound:
        return ArchiveResult(a, "missing")
    except (FetchError, RawDataError) as exc:
        return ArchiveResult(a, "failed", error=str(exc))
    try:
        w = write_dataset(data_dir, a.dataset, a.symbol, got.table, source=a.path,
                          origin="ingest", replace=replace)
        files = _month_files(a, got.table)
        _write_marker(data_dir, a, got.sha, got.table.num_rows, files)
    except RawDataError as exc:
        return ArchiveResult(a, "failed", bytes=got.size, error=str(exc))
    except OSError as exc:
        return ArchiveResult(a, "failed", bytes=got.size,
                             error=f"cannot write the raw layer under {data_dir}: {exc}")
    status = "written" if w.files_written else "unchanged"
    return ArchiveResult(a, status, rows=got.table.num_rows, bytes=got.size,
                         files_written=w.files_written)
