"""Binance public-archive ingestion (data.binance.vision layout) into the raw layer.

``ingest(...)`` plans the monthly/daily zip archives for a window, downloads each with bounded
retries, verifies it against its ``.CHECKSUM``, parses the CSV and writes through
:func:`lifthouse.data.raw.write_dataset`. See ``docs/ingest.md``.
"""

from lifthouse.data.ingest.download import FetchError, NotFound, RetryPolicy
from lifthouse.data.ingest.layout import (DEFAULT_BASE_URL, SOURCES, Archive, aliases, all_datasets,
                                          parse_datasets, plan)
from lifthouse.data.ingest.pipeline import ArchiveResult, IngestReport, ingest

__all__ = [
    "Archive", "ArchiveResult", "DEFAULT_BASE_URL", "FetchError", "IngestReport", "NotFound",
    "RetryPolicy", "SOURCES", "aliases", "all_datasets", "ingest", "parse_datasets", "plan",
]
