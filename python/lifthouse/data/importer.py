"""``lifthouse import``: load files a user already has into the raw layout.

Reads Parquet, CSV or Feather (ccxt / freqtrade caches, Binance-style exports), maps column names
to Binance names, converts the time column to naive UTC microseconds, and hands the rows to
:func:`lifthouse.data.raw.write_dataset`. Every input file is read and checked before anything is
written, so a bad file leaves ``data/raw`` untouched. Anything that cannot be mapped is an error
naming the file and the fix.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from lifthouse.data.raw import (normalize_symbol, resolve_data_dir, warn_if_sample_dir, write_dataset)
from lifthouse.data.schema import DATASETS, RawDataError
from lifthouse.data.validate import conform, validate

# Column aliases seen in Binance archives, the Binance API, ccxt and freqtrade caches.
ALIASES: dict[str, dict[str, str]] = {
    "klines": {
        "date": "open_time", "timestamp": "open_time", "time": "open_time", "datetime": "open_time",
        "open_time_ms": "open_time", "quote_asset_volume": "quote_volume",
        "number_of_trades": "count", "trades": "count",
        "taker_buy_base_asset_volume": "taker_buy_volume",
        "taker_buy_quote_asset_volume": "taker_buy_quote_volume",
    },
    "um_funding_rate": {
        "fundingtime": "funding_time", "calc_time": "funding_time", "time": "funding_time",
        "date": "funding_time", "timestamp": "funding_time", "fundingrate": "funding_rate",
        "last_funding_rate": "funding_rate", "markprice": "mark_price",
    },
    "um_open_interest_5m": {
        "create_time": "timestamp", "time": "timestamp", "date": "timestamp",
        "sumopeninterest": "sum_open_interest", "open_interest": "sum_open_interest",
        "sumopeninterestvalue": "sum_open_interest_value",
        "open_interest_value": "sum_open_interest_value",
    },
    "um_liquidations": {
        "ts": "time", "timestamp": "time", "date": "time", "t": "time",
        "qty": "quantity", "orig_qty": "quantity", "original_quantity": "quantity",
        "qty_contracts": "quantity", "average_price": "price", "avg_price": "price",
    },
}

# Columns that are known and safe to drop (never silently: the import summary lists them).
DROPPABLE = {"close_time", "ignore", "funding_time_raw", "source", "funding_interval_hours",
             "symbol", "pair", "count_toptrader_long_short_ratio",
             "sum_toptrader_long_short_ratio", "count_long_short_ratio",
             "sum_taker_long_short_vol_ratio", "order_type", "time_in_force",
             "last_fill_quantity", "accumulated_fill_quantity", "status"}

TIME_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}


@dataclass
class Loaded:
    path: Path
    symbol: str
    table: pa.Table
    dropped: list[str]


# File names that carry a symbol (case-insensitive), base asset then quote, optionally a
# freqtrade settle suffix and anything after a separator:
#   BTCUSDT.parquet, BTCUSDT-1m-2025-01.csv, BTC_USDT_USDT-1m-futures.feather, ETH-USDT.csv
SYMBOL_NAME_RE = re.compile(
    r"^(?P<base>[A-Z0-9]{2,12}?)[-_]?(?P<quote>USDT|USDC)(?:[-_](?:USDT|USDC))?(?:[-_.].*)?$",
    re.IGNORECASE)
# COIN-M perpetuals (BTCUSD_PERP): stored under their USD-M twin, which is what runs read
COINM_NAME_RE = re.compile(r"^(?P<base>[A-Z0-9]{2,12})USD[-_]PERP(?:[-_.].*)?$", re.IGNORECASE)


def symbol_from_filename(path: Path, log=None) -> str:
    """The symbol a file name states, or RawDataError asking for --symbol (never guessed):
    ``BTCUSDT.parquet`` -> BTCUSDT; ``BTC_USDT_USDT-1m-futures.feather`` -> BTCUSDT;
    ``ETH-USDT.csv`` -> ETHUSDT; ``BTCUSD_PERP_liquidations.parquet`` -> BTCUSDT (its USD-M
    twin, with a note through ``log``)."""
    stem = path.name.split(".")[0]
    m = COINM_NAME_RE.match(stem)
    if m:
        sym = normalize_symbol(m["base"] + "USDT")
        if log is not None:
            log(f"note: {path.name}: COIN-M {m['base'].upper()}USD_PERP is stored as its USD-M "
                f"twin {sym} (the symbol runs read); pass --symbol to choose another")
        return sym
    m = SYMBOL_NAME_RE.match(stem)
    if not m:
        raise RawDataError(f"the file name {path.name!r} does not state a symbol (like BTCUSDT, "
                           "BTC_USDT_USDT-1m-futures, ETH-USDT or BTCUSD_PERP)", file=path,
                           hint="pass --symbol SYMBOL (e.g. --symbol BTCUSDT)")
    return normalize_symbol(m["base"] + m["quote"])


def read_any(path: Path) -> pa.Table:
    """Read a Parquet, Feather or CSV file; a damaged file is a RawDataError naming it."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if not path.exists():
        raise RawDataError("file not found", file=path)
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".feather", ".arrow", ".ipc"):
            return feather.read_table(path)
        if suffix in (".csv", ".csv.gz", ".txt"):
            return _read_csv(path)
    except RawDataError:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise RawDataError(f"cannot read the file ({type(exc).__name__}: {exc}); it looks "
                           "truncated or damaged", file=path,
                           hint="re-download or re-export the file; nothing was written") from exc
    raise RawDataError(f"unknown file type {suffix!r}", file=path,
                       hint="use .parquet, .feather or .csv")


def _read_csv(path: Path) -> pa.Table:
    with open(path, "rb") as fh:
        first = fh.readline().decode("utf-8", "replace")
    has_header = bool(re.search(r"[A-Za-z_]{2,}", first.split(",")[0]))
    if has_header:
        return pacsv.read_csv(path)
    raise RawDataError("CSV has no header row, so its columns cannot be mapped by name",
                       file=path, hint="add a header row with Binance column names "
                       "(archive CSVs are read by `lifthouse ingest`, which knows their layout)")


def _time_to_us(col: pa.ChunkedArray | pa.Array, *, source: Path, name: str,
                time_unit: str | None, naive_tz: str | None) -> pa.Array:
    """Convert a time column to naive UTC microseconds (int64 -> timestamp[us])."""
    s = pd.Series(col.to_pandas() if hasattr(col, "to_pandas") else col)
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype="float64")
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            raise RawDataError(f"time column {name!r} is empty", file=source)
        mag = float(np.median(np.abs(finite)))
        unit = time_unit
        if unit is None:
            if mag < 1e11:
                raise RawDataError(
                    f"time column {name!r} holds numbers like {int(finite[0])}, which look like "
                    "epoch SECONDS; Binance uses milliseconds, so this is ambiguous",
                    file=source, row=1, hint="if they are seconds, re-run with --time-unit s")
            unit = "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
        factor = TIME_UNITS[unit]
        us = (v * factor) if factor else (v / 1000.0)
        return pa.array(np.round(us).astype("int64"), type=pa.int64()).cast(pa.timestamp("us"))
    if pd.api.types.is_datetime64_any_dtype(s):
        if s.dt.tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        elif naive_tz is None:
            raise RawDataError(
                f"time column {name!r} holds datetimes without a time zone (naive), e.g. {s.iloc[0]}",
                file=source, row=1,
                hint="if they are UTC re-run with --naive-tz UTC (or give the zone they are in)")
        else:
            s = s.dt.tz_localize(time_zone(naive_tz)).dt.tz_convert("UTC").dt.tz_localize(None)
        return pa.array(s.astype("datetime64[us]"), type=pa.timestamp("us"))
    # strings
    try:
        parsed = pd.to_datetime(s, utc=False, format="mixed")
    except (ValueError, TypeError) as exc:
        raise RawDataError(f"time column {name!r} cannot be parsed as dates: {exc}",
                           file=source) from exc
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise RawDataError(f"time column {name!r} has mixed time zones", file=source)
    return _time_to_us(pa.chunked_array([pa.array(parsed)]), source=source, name=name,
                       time_unit=time_unit, naive_tz=naive_tz)


def time_zone(name: str):
    """The zone ``--naive-tz`` names, or RawDataError (not a ZoneInfoNotFoundError traceback)."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        import difflib

        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=3)
        raise RawDataError(f"--naive-tz {name!r} is not a known time zone",
                           hint="give an IANA zone such as UTC, Europe/Berlin or Asia/Shanghai"
                                + (f" (close: {', '.join(close)})" if close else "")) from None


def map_columns(dataset: str, table: pa.Table, *, source: Path, time_unit: str | None = None,
                naive_tz: str | None = None, contract_usd: float | None = None,
                ignore: set[str] | None = None) -> tuple[pa.Table, list[str]]:
    """Rename, drop and convert a user's table to the dataset's raw schema."""
    spec = DATASETS[dataset]
    family = "klines" if "klines" in dataset else dataset
    aliases = ALIASES.get(family, {})
    known = {c.name for c in spec.columns}
    ignore = ignore or set()
    out: dict[str, pa.ChunkedArray] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    for name in table.column_names:
        key = name.strip()
        low = key.lower()
        target = key if key in known else aliases.get(low.replace(" ", "_"), aliases.get(low))
        if target is None and low in known:
            target = low
        if target is None:
            if low in DROPPABLE or key in ignore:
                dropped.append(key)
                continue
            unknown.append(key)
            continue
        if target in out:
            raise RawDataError(f"two columns map to {target!r} (the second is {key!r})",
                               file=source, hint=f"drop one of them, or pass --ignore-columns {key}")
        out[target] = table.column(name)
    if unknown:
        raise RawDataError(
            f"cannot map column(s) {unknown} to dataset {dataset} (it expects "
            f"{[c.name for c in spec.columns]})",
            file=source,
            hint="rename them to Binance names, or pass --ignore-columns "
                 + ",".join(unknown) + " to drop them")
    missing = [c for c in spec.required if c not in out and c != "notional_usd"]
    if missing:
        raise RawDataError(
            f"missing column(s) {missing} for dataset {dataset}; found {table.column_names}",
            file=source, hint="check --dataset, or rename the columns to Binance names")
    out[spec.time_column] = _time_to_us(out[spec.time_column], source=source,
                                        name=spec.time_column, time_unit=time_unit,
                                        naive_tz=naive_tz)
    if dataset == "um_liquidations":
        out = _liquidation_notional(out, table.column_names, source=source,
                                    contract_usd=contract_usd)
    arrays = {k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v))
              for k, v in out.items()}
    return pa.table(arrays), dropped


def _liquidation_notional(cols: dict, original_names: list[str], *, source: Path,
                          contract_usd: float | None) -> dict:
    qty = np.asarray(pa.chunked_array([cols["quantity"]]).to_numpy() if isinstance(
        cols["quantity"], pa.Array) else cols["quantity"].to_numpy(), dtype="float64")
    price = np.asarray(cols["price"].to_numpy() if hasattr(cols["price"], "to_numpy") else
                       cols["price"], dtype="float64")
    in_contracts = any(n.lower() == "qty_contracts" for n in original_names)
    if in_contracts and contract_usd is None:
        raise RawDataError(
            "liquidation quantities are in contracts (column qty_contracts) but no contract "
            "size was given", file=source,
            hint="pass --contract-usd 100 for BTCUSD_PERP, --contract-usd 10 for other COIN-M "
                 "contracts")
    if contract_usd is not None:
        notional = qty * float(contract_usd)
        cols["contract_usd"] = pa.array(np.full(len(qty), float(contract_usd)))
    else:
        notional = qty * price
    cols["notional_usd"] = pa.array(notional)
    side = cols["side"]
    side_vals = pd.Series(side.to_pylist()).astype(str).str.upper().str.strip()
    cols["side"] = pa.array(side_vals.tolist(), type=pa.string())
    return cols


def symbol_from_value(value: str) -> str:
    """The symbol a ``symbol`` column's value states: ``BTCUSD_PERP`` -> BTCUSDT (its USD-M
    twin, as for file names), ``ETH-USDT`` -> ETHUSDT, ``SOLUSDT`` -> SOLUSDT."""
    text = value.strip()
    m = COINM_NAME_RE.match(text)
    if m:
        return normalize_symbol(m["base"] + "USDT")
    m = SYMBOL_NAME_RE.match(text)
    return normalize_symbol(m["base"] + m["quote"] if m else text)


def symbol_column(table: pa.Table) -> str | None:
    """The name of the table's ``symbol`` column (any case), if it has one."""
    return next((n for n in table.column_names if n.strip().lower() == "symbol"), None)


def stated_symbols(table: pa.Table, column: str, *, source: Path) -> pa.Array:
    """Each row's symbol as its ``symbol`` column states it (normalised); an empty value is an
    error naming the first such row."""
    raw = table.column(column).cast(pa.string())
    values = raw.to_pylist()
    empty = [i for i, v in enumerate(values) if v is None or not v.strip()]
    if empty:
        raise RawDataError(f"row {empty[0] + 1}: the symbol column {column!r} is empty "
                           f"({len(empty)} row(s) in all)", file=source,
                           hint="fill the symbol of every row, or drop the column with "
                                f"--ignore-columns {column} and pass --symbol")
    by_value = {v: symbol_from_value(v) for v in set(values)}
    return pa.array([by_value[v] for v in values], type=pa.string())


def load_file(path: Path, dataset: str, *, symbol: str | None, time_unit: str | None,
              naive_tz: str | None, contract_usd: float | None,
              ignore: set[str], split_by_symbol: bool = False, log=print) -> list[Loaded]:
    """Read one file into its dataset's schema: one :class:`Loaded` per symbol (one, unless
    ``split_by_symbol``). A ``symbol`` column is checked, never dropped unseen: it must agree
    with ``--symbol`` or the file name and hold one symbol, or the file is split by it when
    the user asks (``--split-by-symbol``)."""
    table = read_any(path)
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
                                  naive_tz=naive_tz, contract_usd=contract_usd, ignore=ignore)
    if sym is not None:
        return [Loaded(path, sym, mapped, dropped)]
    return [Loaded(path, s, mapped.filter(pc.equal(stated, s)), dropped)
            for s in distinct]


def _states_symbol(path: Path) -> bool:
    try:
        symbol_from_filename(path)
    except RawDataError:
        return False
    return True


def import_files(paths: list[Path], dataset: str, *, data_dir: Path, symbol: str | None = None,
                 time_unit: str | None = None, naive_tz: str | None = None,
                 contract_usd: float | None = None, replace: bool = False,
                 allow_unsorted: bool = False, ignore: set[str] | None = None,
                 split_by_symbol: bool = False,
                 waive: frozenset[str] | set[str] = frozenset(), log=print) -> list:
    """Read and check every file, then write. Returns the write reports. ``waive``: checks of
    :data:`lifthouse.data.validate.WAIVERS` to skip (the --allow-* flags)."""
    if dataset not in DATASETS:
        raise RawDataError(f"unknown dataset {dataset!r}", hint=f"choose one of {sorted(DATASETS)}")

    loaded = []
    for path in paths:
        items = load_file(Path(path), dataset, symbol=symbol, time_unit=time_unit,
                          naive_tz=naive_tz, contract_usd=contract_usd, ignore=ignore or set(),
                          split_by_symbol=split_by_symbol, log=log)
        for item in items:
            # validate now (per file, so errors name the right file and row); write later
            where = str(path) if len(items) == 1 else f"{path} ({item.symbol} rows)"
            validate(dataset, conform(dataset, item.table, source=where), source=where,
                     allow_unsorted=allow_unsorted, waive=waive)
            loaded.append(item)
    reports = []
    for item in loaded:
        rep = write_dataset(data_dir, dataset, item.symbol, item.table, source=str(item.path),
                            origin="import", replace=replace, allow_unsorted=allow_unsorted,
                            waive=waive)
        note = f" (dropped known extra columns: {', '.join(item.dropped)})" if item.dropped else ""
        log(f"{item.path}: {item.symbol}: {rep.summary()}{note}")
        reports.append(rep)
    return reports


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
    parser.add_argument("--ignore-columns", default="", help="comma-separated columns to drop")
    parser.add_argument("--sort", action="store_true", help="accept and sort out-of-order rows")
    parser.add_argument("--split-by-symbol", action="store_true",
                        help="store each symbol of a file's symbol column under its own symbol "
                             "(without it, a file whose symbol column holds several symbols, or "
                             "one that contradicts the file name or --symbol, is refused)")
    parser.add_argument("--replace", action="store_true",
                        help="let these files replace conflicting rows already stored")
    parser.add_argument("--allow-any-year", dest="waive", action="append_const",
                        const="any-year", help="accept stamps outside the plausible years")
    parser.add_argument("--allow-any-spacing", dest="waive", action="append_const",
                        const="any-spacing",
                        help="accept bars spaced unlike the dataset's grain (1m, 5m)")
    parser.add_argument("--allow-off-grain", dest="waive", action="append_const",
                        const="off-grain", help="accept kline open times off the minute")


def run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    warn_if_sample_dir(data_dir)
    ignore = {c.strip() for c in args.ignore_columns.split(",") if c.strip()}
    reports = import_files(list(args.files), args.dataset, data_dir=data_dir, symbol=args.symbol,
                           time_unit=args.time_unit, naive_tz=args.naive_tz,
                           contract_usd=args.contract_usd, replace=args.replace,
                           allow_unsorted=args.sort, ignore=ignore,
                           split_by_symbol=args.split_by_symbol, waive=frozenset(args.waive or ()))
    total = sum(r.rows_added for r in reports)
    print(f"imported {len(reports)} file(s) into {data_dir}/{args.dataset}: {total} new rows",
          file=sys.stderr)
    return 0
