"""``lifthouse run`` (the Milestone D run) and ``lifthouse demo``: arguments and entry points.
The stages themselves: :mod:`lifthouse.run.stages`."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import Callable

from lifthouse import defaults
from lifthouse.data.raw import resolve_data_dir
from lifthouse.data.schema import RawDataError
from lifthouse.run.config import ENGINES, RunConfig, parse_date, parse_var
from lifthouse.run.errors import RunError, RunInterrupted
from lifthouse.run.log import RunLog
from lifthouse.run.stages import run_pipeline

DEFAULT_SYMBOLS = ",".join(s.removesuffix("USDT") for s in defaults.SYMBOLS)  # BTC,ETH,SOL
DEMO_RUN_ID = "demo"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", "--data_dir", dest="data_dir",
                        help="raw data directory (default $LIFTHOUSE_DATA_DIR or data/raw)")
    parser.add_argument("--out-dir", "--out_dir", dest="out_dir", default=".",
                        help="root of the outputs: warehouse/, target/, data/reports/, reports/ "
                             "(default: the current directory)")
    parser.add_argument("--warehouse", type=Path,
                        help="warehouse file (default <out-dir>/warehouse/<run_id>.duckdb)")
    parser.add_argument("--engine", choices=ENGINES, default="duckdb",
                        help="build on DuckDB (default) or on Apache Spark via dbt-spark "
                             "(`make setup-spark`; master from LIFTHOUSE_SPARK_MASTER, docs/spark.md)")
    parser.add_argument("--bar-minutes", "--bar_minutes", dest="bar_minutes", type=int,
                        choices=(1, 5), default=1,
                        help="bar grain in minutes: 1 (um_klines_1m, default) or 5 (um_klines_5m); "
                             "every window stays in minutes (docs/features_and_events.md)")
    parser.add_argument("--var", dest="vars", action="append", default=[], metavar="KEY=VALUE",
                        help="a dbt var override (repeatable), e.g. --var n_boot=500")
    parser.add_argument("--fresh", action="store_true",
                        help="build the data layer (staging, grid, features, states) cold instead "
                             "of reusing or extending a stored one (docs/running.md)")
    parser.add_argument("--verbose", action="store_true",
                        help="show dbt's own output (default: one line per model and the "
                             "build's progress; dbt's log is in <out>/target/<run_id>/dbt.log)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", "--run_id", dest="run_id", required=True,
                        help="names the warehouse file and every output folder")
    parser.add_argument("--start-date", "--start_date", "--start", dest="start_date", required=True,
                        type=parse_date, help="first day of the analysis window (UTC)")
    parser.add_argument("--end-date", "--end_date", "--end", dest="end_date", required=True,
                        type=parse_date, help="day after the last one (exclusive)")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS,
                        help=f"comma-separated, BTC or BTCUSDT (default {DEFAULT_SYMBOLS})")
    parser.add_argument("--lookback-days", "--lookback_days", dest="lookback_days", type=int,
                        default=defaults.LOOKBACK_DAYS,
                        help=f"warm-up days loaded before start_date (default {defaults.LOOKBACK_DAYS})")
    fill = parser.add_mutually_exclusive_group()
    fill.add_argument("--ingest", dest="fill", action="store_const", const="ingest",
                      help="download missing data from the Binance public archive")
    fill.add_argument("--generate", dest="fill", action="store_const", const="generate",
                      help="generate the synthetic sample market where data is missing")
    _add_common(parser)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS,
                        help=f"comma-separated (default {DEFAULT_SYMBOLS})")
    parser.add_argument("--seed", type=int, default=None,
                        help="sample generator seed (default: the generator's)")
    _add_common(parser)


def config_from_args(args: argparse.Namespace, *, run_id: str, start: dt.date, end: dt.date,
                     lookback_days: int, fill: str | None, reproduce: list[str],
                     synthetic: bool = False) -> RunConfig:
    return RunConfig(
        run_id=run_id, start_date=start, end_date=end,
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        data_dir=resolve_data_dir(args.data_dir), out_dir=Path(args.out_dir),
        lookback_days=lookback_days, extra_vars=dict(parse_var(v) for v in args.vars),
        fill=fill, warehouse=args.warehouse, reproduce=reproduce, synthetic=synthetic,
        sample_seed=getattr(args, "seed", None), verbose=bool(getattr(args, "verbose", False)),
        engine=getattr(args, "engine", "duckdb"), bar_minutes=getattr(args, "bar_minutes", 1),
        fresh=bool(getattr(args, "fresh", False)),
    )


def _main(build: Callable[[], RunConfig], log: RunLog | None = None,
          prog: str = "lifthouse run") -> int:
    try:
        cfg = build()
        outcome = run_pipeline(cfg, log)
    except RunInterrupted as exc:
        print(f"{prog}: {exc}; outputs are incomplete (manifest status: interrupted)",
              file=sys.stderr)
        return exc.exit_code
    except RunError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RawDataError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"Report: {outcome.report}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    return _main(lambda: config_from_args(
        args, run_id=args.run_id, start=args.start_date, end=args.end_date,
        lookback_days=args.lookback_days, fill=args.fill, reproduce=[]))


def run_demo(args: argparse.Namespace) -> int:
    start = dt.date.fromisoformat(defaults.START_DATE)
    end = dt.date.fromisoformat(defaults.END_DATE)
    data_dir = resolve_data_dir(args.data_dir)
    repro = ["lifthouse demo" + (f" --data-dir {shlex.quote(str(data_dir))}"
                                 if args.data_dir else "")
             + (f" --out-dir {shlex.quote(str(args.out_dir))}" if args.out_dir != "." else "")
             + (f" --symbols {args.symbols}" if args.symbols != DEFAULT_SYMBOLS else "")
             + (f" --seed {args.seed}" if args.seed is not None else "")
             + (f" --bar-minutes {args.bar_minutes}" if args.bar_minutes != 1 else "")
             + "".join(f" --var {shlex.quote(v)}" for v in args.vars)]

    def build() -> RunConfig:
        return config_from_args(args, run_id=DEMO_RUN_ID, start=start, end=end,
                                lookback_days=defaults.LOOKBACK_DAYS, fill="generate",
                                reproduce=repro, synthetic=True)

    return _main(build, prog="lifthouse demo")
