"""``lifthouse sample``: generate the embedded default market (synthetic, with planted effects)."""

from __future__ import annotations

import argparse
import time

from lifthouse import defaults
from lifthouse.data import raw
from lifthouse.data.schema import BAR_MINUTES, RawDataError
from lifthouse.data.sample.generator import TRUTH_DIR, TRUTH_FILE, generate
from lifthouse.data.sample.params import synthetic_symbols


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="raw data folder (default: $LIFTHOUSE_DATA_DIR or data/raw)")
    parser.add_argument("--seed", type=int, default=defaults.SAMPLE_SEED,
                        help=f"random seed (default {defaults.SAMPLE_SEED})")
    parser.add_argument("--null", action="store_true",
                        help="same market and episodes, but no planted post-event drift")
    parser.add_argument("--symbols", default=",".join(defaults.SYMBOLS),
                        help=f"comma-separated symbols (default {','.join(defaults.SYMBOLS)})")
    parser.add_argument("--n-symbols", type=int, default=None,
                        help="instead of --symbols: N synthetic symbols S001USDT, S002USDT, ...")
    parser.add_argument("--start", "--start-date", dest="start", default=defaults.START_DATE, help="analysis window start (UTC date)")
    parser.add_argument("--end", "--end-date", dest="end", default=defaults.END_DATE, help="analysis window end, exclusive")
    parser.add_argument("--lookback-days", type=int, default=defaults.LOOKBACK_DAYS,
                        help=f"bars generated before --start for warm-up (default {defaults.LOOKBACK_DAYS})")
    parser.add_argument("--bar-minutes", type=int, choices=BAR_MINUTES, default=1,
                        help="5 also writes um_klines_5m and spot_klines_5m: the generated 1m "
                             "klines aggregated to 5 minutes (default 1: 1m klines only)")
    parser.add_argument("--force", action="store_true",
                        help="delete the files an earlier sample generation wrote for these symbols "
                             "first (real data is never deleted: that is an error)")


def run(args: argparse.Namespace) -> int:
    if args.n_symbols is not None:
        if args.n_symbols < 1:
            raise RawDataError("--n-symbols must be at least 1")
        symbols = synthetic_symbols(args.n_symbols)
    else:
        symbols = tuple(s for s in args.symbols.split(",") if s.strip())
    data_dir = raw.resolve_data_dir(args.data_dir)
    t0 = time.perf_counter()

    def progress(month: str, rows: int) -> None:
        print(f"  {month}: {rows:,} rows so far ({time.perf_counter() - t0:.1f} s)", flush=True)

    truth = generate(data_dir, seed=args.seed, null=args.null, symbols=symbols, start=args.start,
                     end=args.end, lookback_days=args.lookback_days, force=args.force,
                     progress=progress, bar_minutes=args.bar_minutes)
    dt = time.perf_counter() - t0
    total = sum(truth.rows_written.values())
    for ds, n in sorted(truth.rows_written.items()):
        print(f"  {ds}: {n:,} rows")
    kind = "null market (no planted drift)" if truth.null else "planted effects"
    print(f"lifthouse sample: {len(symbols)} symbol(s), {truth.bars_start} .. {truth.end}, seed "
          f"{truth.seed}, {kind}: {total:,} rows in {dt:.1f} s ({total / dt:,.0f} rows/s), "
          f"{len(truth.episodes)} planted episodes -> {data_dir} "
          f"(ground truth: {data_dir / TRUTH_DIR / TRUTH_FILE})")
    return 0
