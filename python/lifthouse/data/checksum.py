"""Integrity of raw month files: the checksum of a file's rows (:func:`rows_checksum`), which
the writer records in the file's Parquet metadata (``lifthouse.rows_sha256``) and every later
read verifies (:func:`verify_checksum`), and the errors that name a damaged or corrupted file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.data.schema import RawDataError

# sha256 of the file's rows (rows_checksum), recorded by the writer beside the origin
CHECKSUM_KEY = b"lifthouse.rows_sha256"


def damaged_file_error(path: Path, exc: BaseException, also: str = "") -> RawDataError:
    """The error for a raw file that does not open as Parquet (``also``: more of them)."""
    return RawDataError(
        f"cannot read Parquet file ({type(exc).__name__}: {exc}){also}", file=path,
        hint="the file is damaged: move it out of the raw layer, then import or ingest that "
             "month again (the build reads every file under the raw layer, whatever the window)")


def rows_checksum(table: pa.Table) -> str:
    """sha256 (hex) of a table's rows: per column its name, type, NULL mask and values (a NULL
    as 0 or empty), in column order. Chunking, encoding, compression and the file's metadata do
    not enter it, so the rows written and the same rows read back give the same checksum."""
    h = hashlib.sha256(f"rows {table.num_rows}\n".encode())
    for name, col in zip(table.column_names, table.columns):
        typ = col.type
        h.update(f"column {name} {typ}\n".encode())
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if arr.null_count:
            h.update(np.packbits(arr.is_null().to_numpy(zero_copy_only=False)).tobytes())
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ) or pa.types.is_time(typ):
            arr = arr.cast(pa.int64())
            typ = arr.type
        if pa.types.is_integer(typ) or pa.types.is_floating(typ):
            zero = pa.scalar(0, type=typ)
            h.update(np.ascontiguousarray(arr.fill_null(zero).to_numpy(zero_copy_only=False))
                     .tobytes())
        elif pa.types.is_boolean(typ):
            h.update(arr.fill_null(False).to_numpy(zero_copy_only=False).tobytes())
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            # the values' lengths, then their text joined (vectorized: liquidations hold many)
            text = arr.fill_null("").cast(pa.large_string())
            h.update(np.ascontiguousarray(pc.binary_length(text).to_numpy(zero_copy_only=False),
                                          dtype="<i8").tobytes())
            offsets = pa.array([0, len(text)], type=pa.int64())
            joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, text),
                                    pa.scalar("", pa.large_string()))[0]
            h.update(joined.as_buffer() if joined.is_valid and len(text) else b"")
        else:  # anything else: length-prefixed text of each value
            for v in arr.to_pylist():
                b = b"" if v is None else (v if isinstance(v, bytes) else str(v).encode())
                h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def recorded_checksum(meta: dict | None) -> str | None:
    """The rows checksum a file's key-value metadata records, or None (a file written before
    lifthouse recorded checksums, or by another tool)."""
    value = (meta or {}).get(CHECKSUM_KEY)
    return value.decode("ascii", "replace") if value is not None else None


def checksum_error(path: Path, recorded: str, actual: str) -> RawDataError:
    return RawDataError(
        f"the rows do not match the checksum the writer recorded in the file "
        f"(lifthouse.rows_sha256 {recorded[:16]}..., the rows now give {actual[:16]}...): its "
        "content is corrupted (the Parquet structure still reads)", file=path,
        hint="move the file out of the raw layer, then import or ingest that month again (or "
             "restore a backup copy of it that preflight verifies)")


def verify_checksum(path: Path, table: pa.Table) -> bool | None:
    """Compare a file's rows (``table``, as read) with the checksum recorded in it: True when
    they match, None when it records none; a mismatch raises :func:`checksum_error`."""
    recorded = recorded_checksum(table.schema.metadata)
    if recorded is None:
        return None
    actual = rows_checksum(table)
    if actual != recorded:
        raise checksum_error(path, recorded, actual)
    return True
