"""``lifthouse import``: load files a user already has into the raw layout.

Reads Parquet, CSV or Feather (ccxt / freqtrade caches, Binance-style exports), maps column names
to Binance names, converts the time column to naive UTC microseconds, and hands the rows to
:func:`lifthouse.data.raw.write_dataset`. Every input file is read and checked before anything is
written, so a bad file leaves ``data/raw`` untouched. Anything that cannot be mapped is an error
naming the file and the fix.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.data.import_columns import map_columns
from lifthouse.data.import_read import InputFormat, csv_delimiter, read_any
from lifthouse.data.import_symbols import (_states_symbol, stated_symbols, symbol_column,
                                           symbol_from_filename)
from lifthouse.data.import_times import DST_CHOICES, TIME_UNITS
from lifthouse.data.raw import normalize_symbol, resolve_data_dir, warn_if_sample_dir
from lifthouse.data.schema import DATASETS, RawDataError
from lifthouse.data.validate import conform, validate


@dataclass
class Loaded:
    path: Path
    symbol: str
    table: pa.Table
    dropped: list[str]



def load_file(path: Path, dataset: str, *, symbol: str | None, time_unit: str | None,
              naive_tz: str | None, contract_usd: float | None,
              ignore: set[str], split_by_symbol: bool = False, log=print,
              formats: InputFormat = InputFormat()) -> list[Loaded]:
    """Read one file into its dataset's schema: one :class:`Loaded` per symbol (one, unless
    ``split_by_symbol``). A ``symbol`` column is checked, never dropped unseen: it must agree
    with ``--symbol`` or the file name and hold one symbol, or the file is split by it when
    the user asks (``--split-by-symbol``)."""
    table = read_any(path, csv_delimiter=formats.csv_delimiter, decimal=formats.decimal)
    if table.num_rows == 0:
        raise RawDataError("the file has no rows", file=path)
    column = symbol_column(table)
    if column is not None and column in ignore:
        column = None
    stated = stated_symbols(table, column, source=path) if column is not None else None
    distinct = sorted(set(stated.to_pylist())) if stated is not None else []
    if split_by_symbol:
        if stated is None:
            raise RawDataError("--split-by-symbol needs a symbol column, and the file has none",
                               file=path, hint="drop --split-by-symbol and pass --symbol")
        if symbol:
            raise RawDataError("--split-by-symbol takes each row's symbol from the file's "
                               f"{column!r} column; --symbol {symbol} contradicts that",
                               file=path, hint="drop --symbol, or drop --split-by-symbol")
        sym = None
    elif len(distinct) > 1:
        rows = stated.to_pylist()
        raise RawDataError(
            f"the {column!r} column holds {len(distinct)} symbols ("
            + ", ".join(f"{s}: {rows.count(s)} rows" for s in distinct)
            + "); storing them under one symbol would mix their series", file=path,
            hint="pass --split-by-symbol to store each symbol's rows under its own symbol; "
                 "nothing was written")
    elif symbol:
        sym = normalize_symbol(symbol)
        try:
            named = symbol_from_filename(path)
        except RawDataError:
            named = None
        if named is not None and named != sym:
            log(f"warning: {path.name} is named like {named}, but --symbol stores it as {sym}; "
                "check that this is intended")
    elif distinct and not _states_symbol(path):
        sym = distinct[0]  # the file name states no symbol; its symbol column does
    else:
        sym = symbol_from_filename(path, log=log)
    if sym is not None and distinct and distinct[0] != sym:
        first = stated.to_pylist().index(distinct[0])
        said = f"--symbol {symbol}" if symbol else f"the file name ({path.name})"
        raise RawDataError(
            f"row {first + 1}: the {column!r} column says {distinct[0]}, but {said} "
            f"stores the file as {sym}", file=path,
            hint=f"pass --symbol {distinct[0]} if the column is right, or fix the file; "
                 "nothing was written")
    mapped, dropped = map_columns(dataset, table, source=path, time_unit=time_unit,
                                  naive_tz=naive_tz, contract_usd=contract_usd, ignore=ignore,
                                  formats=formats)
    if sym is not None:
        return [Loaded(path, sym, mapped, dropped)]
    return [Loaded(path, s, mapped.filter(pc.equal(stated, s)), dropped)
            for s in distinct]


def import_files(paths: list[Path], dataset: str, *, data_dir: Path, symbol: str | None = None,
                 time_unit: str | None = None, naive_tz: str | None = None,
                 contract_usd: float | None = None, replace: bool = False,
                 allow_unsorted: bool = False, ignore: set[str] | None = None,
                 split_by_symbol: bool = False,
                 waive: frozenset[str] | set[str] = frozenset(), log=print,
                 formats: InputFormat = InputFormat(), funding_unit: str = "decimal") -> list:
    """Read and check every file, then write. Returns the write reports. ``waive``: checks of
    :data:`lifthouse.data.validate.WAIVERS` to skip (the --allow-* flags); ``formats``: how the
    files write CSV fields, numbers, dates and local times (:class:`InputFormat`)."""
    if dataset not in DATASETS:
        raise RawDataError(f"unknown dataset {dataset!r}", hint=f"choose one of {sorted(DATASETS)}")
    funding_divisor = funding_unit_divisor(funding_unit, dataset)

    loaded = []
    for path in paths:
        items = load_file(Path(path), dataset, symbol=symbol, time_unit=time_unit,
                          naive_tz=naive_tz, contract_usd=contract_usd, ignore=ignore or set(),
                          split_by_symbol=split_by_symbol, log=log, formats=formats)
        for item in items:
            if funding_divisor != 1:  # --funding-unit percent / bps: stored as decimals
                item.table = item.table.set_column(
                    item.table.column_names.index("funding_rate"), "funding_rate",
                    pc.divide(item.table.column("funding_rate").cast(pa.float64()),
                              float(funding_divisor)))
            # validate now (per file, so errors name the right file and row); write later
            where = str(path) if len(items) == 1 else f"{path} ({item.symbol} rows)"
            validate(dataset, conform(dataset, item.table, source=where), source=where,
                     allow_unsorted=allow_unsorted, waive=waive)
            loaded.append(item)
    # checked against each other and the stored months before anything is written; a batch
    # stopped midway says what it wrote (lifthouse.data.batch)
    from lifthouse.data.batch import write_batch

    return write_batch(dataset, loaded, data_dir=data_dir, origin="import", replace=replace,
                       allow_unsorted=allow_unsorted, waive=waive, log=log)


# --funding-unit: the unit a funding file's rates are in (stored as decimals: 0.0001 = 1 bp)
FUNDING_UNITS = {"decimal": 1, "percent": 100, "bps": 10_000}


def funding_unit_divisor(unit: str, dataset: str) -> int:
    """What ``--funding-unit`` divides funding rates by (1 for decimals); RawDataError for an
    unknown unit or another dataset than um_funding_rate."""
    if unit not in FUNDING_UNITS:
        raise RawDataError(f"--funding-unit {unit!r} is not one of {sorted(FUNDING_UNITS)}")
    if unit != "decimal" and dataset != "um_funding_rate":
        raise RawDataError(f"--funding-unit {unit} applies to --dataset um_funding_rate only, "
                           f"not {dataset}", hint="drop --funding-unit")
    return FUNDING_UNITS[unit]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="Parquet, Feather or CSV files (all checked before any is written)")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS),
                        help="the raw dataset the files hold")
    parser.add_argument("--symbol", help="symbol for all files (default: from each file name, "
                                         "which must state one, e.g. BTCUSDT-1m.csv)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="raw data directory (default: data/raw or $LIFTHOUSE_DATA_DIR); keep "
                             "real data in its own folder, e.g. data/real, apart from the demo's "
                             "sample")
    parser.add_argument("--contract-usd", type=float, default=None,
                        help="COIN-M liquidations: USD per contract (100 BTCUSD_PERP, 10 others)")
    parser.add_argument("--time-unit", choices=sorted(TIME_UNITS), default=None,
                        help="unit of integer timestamps (default: detected; seconds must be explicit)")
    parser.add_argument("--naive-tz", default=None,
                        help="IANA time zone of datetimes that carry none, e.g. UTC")
    parser.add_argument("--dst", choices=DST_CHOICES, default=None,
                        help="with --naive-tz: local times that occur twice when the clocks are "
                             "set back: infer (from the row order), earlier or later (default: "
                             "refused, naming the rows)")
    parser.add_argument("--date-format", default=None, metavar="FORMAT",
                        help="strftime codes of date strings, e.g. '%%d/%%m/%%Y %%H:%%M' (needed "
                             "for day/month dates such as 05/06/2025, never guessed)")
    parser.add_argument("--csv-delimiter", type=csv_delimiter, default=None, metavar="CHAR",
                        help="CSV field separator, e.g. ';' or tab (default ','; another "
                             "separator is refused, naming it)")
    parser.add_argument("--decimal", choices=(".", ","), default=None, metavar="{.|,}",
                        help="CSV decimal mark; the other mark is a thousands separator and is "
                             "dropped (default: numbers with commas are refused, naming this)")
    parser.add_argument("--ignore-columns", default="", help="comma-separated columns to drop")
    parser.add_argument("--sort", action="store_true", help="accept and sort out-of-order rows")
    parser.add_argument("--split-by-symbol", action="store_true",
                        help="store each symbol of a file's symbol column under its own symbol "
                             "(without it, a file whose symbol column holds several symbols, or "
                             "one that contradicts the file name or --symbol, is refused)")
    parser.add_argument("--replace", action="store_true",
                        help="let these files replace conflicting rows already stored")
    parser.add_argument("--allow-any-year", dest="waive", action="append_const",
                        const="any-year", help="accept stamps outside the plausible years "
                                               "(2010 .. now: stamps in the future too)")
    parser.add_argument("--allow-any-spacing", dest="waive", action="append_const",
                        const="any-spacing",
                        help="accept bars spaced unlike the dataset's grain (1m, 5m)")
    parser.add_argument("--allow-off-grain", dest="waive", action="append_const",
                        const="off-grain", help="accept kline open times off the minute and "
                                                "funding times off the settlement hours")
    parser.add_argument("--funding-unit", choices=sorted(FUNDING_UNITS), default="decimal",
                        help="unit of the funding rates (default decimal: 0.0001 = 1 bp); "
                             "percent and bps are divided by 100 / 10000 (funding whose median "
                             "|rate| is 0.0025 or more is refused, naming the likely unit)")
    parser.add_argument("--allow-any-funding", dest="waive", action="append_const",
                        const="any-funding",
                        help="accept funding rates as given (a median |rate| of 0.0025 or more, "
                             "rates beyond +-5%%)")
    parser.add_argument("--allow-outliers", dest="waive", action="append_const",
                        const="outliers",
                        help="accept a bar whose open or close is over 10x (or under 1/10 of) "
                             "the median close of the 21 bars around it")


def run(args: argparse.Namespace) -> int:
    from lifthouse.data.batch import BatchInterrupted

    try:
        return _run(args)
    except BatchInterrupted as exc:
        print(f"lifthouse import: {exc.message}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("lifthouse import: interrupted while reading the files, before anything was "
              "written; the raw layer is unchanged (re-run the same command)", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    warn_if_sample_dir(data_dir)
    ignore = {c.strip() for c in args.ignore_columns.split(",") if c.strip()}
    reports = import_files(list(args.files), args.dataset, data_dir=data_dir, symbol=args.symbol,
                           time_unit=args.time_unit, naive_tz=args.naive_tz,
                           contract_usd=args.contract_usd, replace=args.replace,
                           allow_unsorted=args.sort, ignore=ignore,
                           split_by_symbol=args.split_by_symbol, waive=frozenset(args.waive or ()),
                           formats=InputFormat(csv_delimiter=args.csv_delimiter,
                                               decimal=args.decimal,
                                               date_format=args.date_format, dst=args.dst),
                           funding_unit=args.funding_unit)
    total = sum(r.rows_added for r in reports)
    print(f"imported {len(reports)} file(s) into {data_dir}/{args.dataset}: {total} new rows",
          file=sys.stderr)
    return 0
