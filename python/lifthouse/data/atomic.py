"""Atomic file writes: a temp file in the target's folder, then a rename, so a reader never sees
half a file (the raw layer, the exports, the report and the manifest all write this way)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lifthouse.data.schema import RawDataError


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
        if exc.errno == errno.ENOSPC:
            raise RawDataError(f"cannot write to {path.parent}: {exc.strerror} (the disk is "
                               "full)", file=path, hint="free disk space on that device (or "
                               "choose another --data-dir / --out-dir) and re-run") from exc
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
