"""``lifthouse ingest``: fill the raw layer from the Binance public archive."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from lifthouse.data.ingest.download import RetryPolicy
from lifthouse.data.ingest.layout import ALIASES, DEFAULT_BASE_URL, SOURCES, parse_datasets, parse_symbols
from lifthouse.data.ingest.pipeline import ingest
from lifthouse.data.raw import resolve_data_dir, warn_if_sample_dir
from lifthouse.data.schema import BAR_MINUTES, RawDataError


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-05-01") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", required=True,
                        help="comma-separated USD-M symbols, e.g. BTCUSDT,ETHUSDT,SOLUSDT (BTC works)")
    parser.add_argument("--start", "--start-date", dest="start", required=True, type=parse_date, help="first day (UTC), YYYY-MM-DD")
    parser.add_argument("--end", "--end-date", dest="end", required=True, type=parse_date,
                        help="day after the last one (exclusive, like the run window), YYYY-MM-DD")
    parser.add_argument("--datasets", default="all",
                        help=f"comma-separated: {', '.join(SOURCES)} or short names "
                             f"({', '.join(ALIASES)}); klines, perp and spot mean the klines "
                             "of --bar-minutes; default: all (the klines of --bar-minutes only)")
    parser.add_argument("--bar-minutes", type=int, choices=BAR_MINUTES, default=1,
                        help="the klines grain: 5 makes klines/perp/spot and 'all' mean "
                             "um_klines_5m / spot_klines_5m (default 1)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--base-url", default=DEFAULT_BASE_URL,
                     help=f"archive root (default {DEFAULT_BASE_URL}; file:///path for a mirror)")
    src.add_argument("--mirror", type=Path, help="a local directory with the archive's layout (data/...)")
    parser.add_argument("--data-dir", help="raw data directory (default $LIFTHOUSE_DATA_DIR or data/raw)")
    parser.add_argument("--jobs", type=int, default=4, help="parallel downloads (default 4)")
    parser.add_argument("--retries", type=int, default=4, help="attempts per file on transient errors (default 4)")
    parser.add_argument("--backoff", type=float, default=1.0,
                        help="retry backoff base in seconds, doubled per attempt (default 1.0)")
    parser.add_argument("--timeout", type=float, default=30.0, help="socket timeout in seconds (default 30)")
    parser.add_argument("--force", action="store_true",
                        help="download and verify again archives already marked done")
    parser.add_argument("--replace", action="store_true",
                        help="let archive rows replace conflicting rows already stored")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace) -> int:
    base_url = args.base_url
    if getattr(args, "mirror", None) is not None:
        mirror = Path(args.mirror).resolve()
        if not mirror.is_dir():
            raise RawDataError(f"mirror directory {mirror} does not exist",
                               hint="pass the folder that contains data/futures/... and data/spot/...")
        base_url = mirror.as_uri()
    if args.retries < 1:
        raise RawDataError("--retries must be at least 1")
    warn_if_sample_dir(resolve_data_dir(args.data_dir))
    report = ingest(
        parse_symbols(args.symbols),
        parse_datasets(args.datasets, args.bar_minutes),
        args.start,
        args.end,
        data_dir=resolve_data_dir(args.data_dir),
        base_url=base_url,
        policy=RetryPolicy(attempts=args.retries, backoff_base=args.backoff, timeout=args.timeout),
        jobs=args.jobs,
        force=args.force,
        replace=args.replace,
        progress_stream=None if args.quiet else sys.stderr,
        bar_minutes=args.bar_minutes,
    )
    print(report.render())
    return report.exit_code
