"""One ``lifthouse import`` written as one batch (:func:`write_batch`).

Before anything is written the batch is checked against itself (two files of the batch that
hold the same key of one symbol with different values are refused, naming both files) and
against the stored months (a dry run of every write: conflicts, origins). Only then are the
month files written, each through the raw writer (temp file, rename). A batch stopped midway
anyway (disk full, Ctrl-C, another writer that got in between) says exactly which month files
were written (each complete) and which were not, and that a rerun of the same command completes
it (rows already stored are a no-op).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd

from lifthouse.data.raw import WriteReport, write_dataset
from lifthouse.data.schema import DATASETS, RawDataError
from lifthouse.data.validate import conform


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C while a batch was written; the message says what was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _conflicts_within(dataset: str, items: list) -> None:
    """Two items of one symbol that hold the same key with different (non-NULL) values."""
    spec = DATASETS[dataset]
    keys = list(spec.key_columns)
    by_symbol: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_symbol.setdefault(item.symbol, []).append(i)
    for symbol, idx in by_symbol.items():
        if len(idx) < 2:
            continue
        frames = []
        for i in idx:
            df = conform(dataset, items[i].table, source=str(items[i].path)).to_pandas()
            df["_item"] = i
            frames.append(df)
        df = pd.concat(frames, ignore_index=True)
        dup = df.duplicated(keys, keep=False)
        if not dup.any():
            continue
        d = df[dup]
        values = [c for c in d.columns if c not in keys and c != "_item"]
        distinct = d.groupby(keys, sort=True)[values].nunique(dropna=True)
        bad = distinct[(distinct > 1).any(axis=1)]
        if not len(bad):
            continue
        first = bad.index[0]
        at = d.set_index(keys).loc[[first]]
        files = list(dict.fromkeys(str(items[i].path) for i in at["_item"]))
        raise RawDataError(
            f"{len(bad)} {symbol} row(s) differ between files of this import: {files[0]} and "
            f"{files[1]} hold different values for the same {', '.join(keys)} (first at "
            f"{first}); nothing was written", file=files[1],
            hint="the files disagree on those rows: fix the wrong one, or import the files one "
                 "at a time (the correct one last, with --replace)")


def _names(paths: list, limit: int = 8) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f", ... ({len(paths)} in all)" if len(paths) > limit else "")


def write_batch(dataset: str, items: list, *, data_dir: Path, origin: str = "import",
                replace: bool = False, allow_unsorted: bool = False,
                waive: frozenset[str] | set[str] = frozenset(), log=print) -> list[WriteReport]:
    """Check ``items`` (objects with ``path``, ``symbol``, ``table``, ``dropped``) against each
    other and the store, then write them. Raises RawDataError (nothing written, or naming what
    was) or :class:`BatchInterrupted` on Ctrl-C."""
    _conflicts_within(dataset, items)
    kw = dict(origin=origin, replace=replace, allow_unsorted=allow_unsorted, waive=waive)
    planned: list[str] = []
    try:
        for item in items:  # every check of every write, against the stored months
            rep = write_dataset(data_dir, dataset, item.symbol, item.table,
                                source=str(item.path), dry_run=True, prevalidated=True, **kw)
            planned += [p for p in rep.files_written if p not in planned]
    except KeyboardInterrupt:
        raise BatchInterrupted("interrupted before anything was written; the raw layer is "
                               "unchanged (re-run the same command)") from None
    written: list[str] = []
    reports = []
    current = None
    try:
        for item in items:
            current = item
            rep = write_dataset(data_dir, dataset, item.symbol, item.table,
                                source=str(item.path), on_write=lambda p: written.append(str(p)),
                                **kw)
            note = (f" (dropped known extra columns: {', '.join(item.dropped)})"
                    if item.dropped else "")
            log(f"{item.path}: {item.symbol}: {rep.summary()}{note}")
            reports.append(rep)
    except KeyboardInterrupt:
        raise BatchInterrupted(_stopped("interrupted (Ctrl-C)", planned, written, current,
                                        data_dir)) from None
    except OSError as exc:
        what = ("no space left on device" if exc.errno == errno.ENOSPC else
                f"cannot write ({exc.strerror or exc})")
        raise RawDataError(
            _stopped(what, planned, written, current, data_dir, exc.filename),
            hint=("free disk space on the device of " if exc.errno == errno.ENOSPC else
                  "fix the cause (permissions, the device) of ") + f"{data_dir} and re-run the "
                 "same command: it writes only what is missing") from None
    except RawDataError as exc:
        if not written:
            raise
        problem = exc.problem.replace("; nothing was written", "")
        raise RawDataError(
            problem + "\n  " + _stopped("stopped", planned, written, current, data_dir),
            file=exc.file, row=exc.row, hint=exc.hint) from None
    return reports


def _stopped(what: str, planned: list[str], written: list[str], current, data_dir: Path,
             filename: str | None = None) -> str:
    """What a batch stopped midway wrote and did not write."""
    written = list(dict.fromkeys(written))
    left = [p for p in planned if p not in written]
    where = filename or (left[0] if left else None)
    head = f"{what}" + (f" while writing {where}" if where else "") + (
        f" (from {current.path})" if current is not None else "")
    if not written:
        return head + f": nothing was written; the raw layer under {data_dir} is unchanged"
    return (head + f": {len(written)} of {len(planned)} month file(s) of this import were "
            f"written, each complete: {_names(written)}; not written: "
            + (_names(left) if left else "none") + " (each left as it was). A rerun of the "
            "same command completes it (the rows already written are a no-op)")
