"""Origins of raw month files: where a file's rows came from (``import``, ``ingest`` or
``sample``), recorded by the writer in the file's Parquet metadata (``lifthouse.origin``) and
read back by :func:`file_origins`, so generated sample rows are never mixed with real ones."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from lifthouse.data.checksum import damaged_file_error

ORIGIN_KEY = b"lifthouse.origin"
ORIGINS = ("import", "ingest", "sample")
GENERATED = "sample"


def file_origins(path: Path) -> set[str]:
    """Where a month file's rows came from (``lifthouse.origin``); ``{"unknown"}`` for a file
    written before origins were recorded or by another tool."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise damaged_file_error(path, exc) from exc
    value = meta.get(ORIGIN_KEY)
    return set(value.decode().split(",")) if value else {"unknown"}
