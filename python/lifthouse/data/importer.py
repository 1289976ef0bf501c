"""``lifthouse import``: load files a user already has into the raw layout.

Reads Parquet, CSV or Feather (ccxt / freqtrade caches, Binance-style exports), maps column names
to Binance names, converts the time column to naive UTC microseconds, and hands the rows to
:func:`lifthouse.data.raw.write_dataset`. Every input file is read and checked before anything is
written, so a bad file leaves ``data/raw`` untouched. Anything that cannot be mapped is an error
naming the file and the fix.
"""

from __future__ import annotations

import argparse
import calendar
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


@dataclass(frozen=True)
class InputFormat:
    """How a user's files write what the importer never guesses (the flags of the same name):
    a CSV's field separator and decimal mark, the order of day and month in date strings, and
    which pass of a local time that occurs twice (DST) is meant."""
    csv_delimiter: str | None = None   # --csv-delimiter (default ',')
    decimal: str | None = None         # --decimal '.' or ',' (default: plain numbers only)
    date_format: str | None = None     # --date-format, strftime codes ('%d/%m/%Y %H:%M')
    dst: str | None = None             # --dst infer | earlier | later (default: refuse)


# File names that carry a symbol (case-insensitive), base asset then quote, optionally a
# freqtrade settle suffix and anything after a separator:
#   BTCUSDT.parquet, BTCUSDT-1m-2025-01.csv, BTC_USDT_USDT-1m-futures.feather, ETH-USDT.csv
SYMBOL_NAME_RE = re.compile(
    r"^(?P<base>[A-Z0-9]{2,12}?)[-_]?(?P<quote>USDT|USDC)(?:[-_](?:USDT|USDC))?(?:[-_.].*)?$",
    re.IGNORECASE)
# COIN-M perpetuals (BTCUSD_PERP): stored under their USD-M twin, which is what runs read
COINM_NAME_RE = re.compile(r"^(?P<base>[A-Z0-9]{2,12})USD[-_]PERP(?:[-_.].*)?$", re.IGNORECASE)
# Words that generic file names put before "usdt" and that are no asset: exchanges, markets and
# data words (``binance_usdt_klines.parquet`` states no symbol, it is not BINANCEUSDT)
NOT_ASSETS = frozenset("""
    BINANCE BYBIT OKX OKEX BITGET KUCOIN HUOBI MEXC KRAKEN COINBASE BITMEX DERIBIT BITFINEX
    GATEIO BINGX CCXT FREQTRADE TARDIS CRYPTO EXCHANGE FUTURES FUTURE PERP PERPS PERPETUAL
    PERPETUALS SPOT MARGIN SWAP SWAPS UM CM USDM COINM KLINES KLINE CANDLES CANDLE OHLC OHLCV
    BARS FUNDING FUNDINGRATE FUNDINGRATES RATES TRADES TICKS LIQUIDATIONS LIQUIDATION LIQS OI
    OPENINTEREST MARKET MARKETS PAIRS ALL ALLPAIRS EXPORT EXPORTS DUMP BACKUP HISTORY
    HISTORICAL DAILY MONTHLY RAW SAMPLE DATASET MY MYDATA""".split())


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
    if m["base"].upper() in NOT_ASSETS:
        raise RawDataError(f"the file name {path.name!r} does not state a symbol: "
                           f"{m['base']!r} before {m['quote']!r} is no asset (a symbol is "
                           "named like BTCUSDT, BTC_USDT_USDT-1m-futures or ETH-USDT)", file=path,
                           hint="pass --symbol SYMBOL (e.g. --symbol BTCUSDT); nothing was "
                                "written")
    return normalize_symbol(m["base"] + m["quote"])


def read_any(path: Path, *, csv_delimiter: str | None = None,
             decimal: str | None = None) -> pa.Table:
    """Read a Parquet, Feather or CSV file; a damaged file is a RawDataError naming it.
    ``csv_delimiter`` / ``decimal``: a CSV's field separator and decimal mark (--csv-delimiter,
    --decimal; see :func:`_read_csv`)."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if not path.exists():
        raise RawDataError("file not found", file=path)
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".feather", ".arrow", ".ipc"):
            return feather.read_table(path)
        if suffix in (".csv", ".csv.gz", ".txt"):
            return _read_csv(path, delimiter=csv_delimiter, decimal=decimal)
    except RawDataError:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise RawDataError(f"cannot read the file ({type(exc).__name__}: {exc}); it looks "
                           "truncated or damaged", file=path,
                           hint="re-download or re-export the file; nothing was written") from exc
    raise RawDataError(f"unknown file type {suffix!r}", file=path,
                       hint="use .parquet, .feather or .csv")


# field separators a CSV header row is checked for (--csv-delimiter names the one to use)
CSV_DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
# numbers with a decimal mark and, optionally, the other mark grouping thousands (--decimal)
NUMBER_RE = {
    ".": r"^[+-]?((\d{1,3}(,\d{3})+|\d+)(\.\d*)?|\.\d+)([eE][+-]?\d+)?$",
    ",": r"^[+-]?((\d{1,3}(\.\d{3})+|\d+)(,\d*)?|,\d+)([eE][+-]?\d+)?$",
}


def csv_delimiter(text: str) -> str:
    """The one-character field separator ``--csv-delimiter`` names (``;``, ``tab``, ``\\t``)."""
    value = DELIMITER_NAMES.get(text.strip().lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (e.g. ';', '|', tab)")
    return value


def _show_delimiter(d: str) -> str:
    return "tab" if d == "\t" else repr(d)


def _first_line(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        return fh.readline().decode("utf-8", "replace").rstrip("\r\n")


def _read_csv(path: Path, *, delimiter: str | None = None, decimal: str | None = None
              ) -> pa.Table:
    """A CSV with a header row. Fields are separated by commas unless ``delimiter`` says
    otherwise; a header separated by something else (semicolons, tabs, pipes) is refused naming
    it and ``--csv-delimiter``. Numbers are plain (``1234.5``) unless ``decimal`` names the
    decimal mark (``.`` or ``,``; the other mark then groups thousands and is dropped); numbers
    with a decimal comma or thousands separators are refused naming ``--decimal``."""
    first = _first_line(path)
    counts = {d: first.count(d) for d in CSV_DELIMITERS}
    seen = max(counts, key=lambda d: counts[d])
    if delimiter is None and seen != "," and counts[seen] > counts[","]:
        raise RawDataError(
            f"the header row is separated by {CSV_DELIMITERS[seen]}"
            + (f" ({seen!r})" if seen != "\t" else "") + f", not commas: {first[:80]!r}",
            file=path,
            hint=f"pass --csv-delimiter {'tab' if seen == chr(9) else repr(seen)}"
                 + (" (and --decimal , if its numbers are written like 100,5)"
                    if seen == ";" else "") + "; nothing was written")
    delim = delimiter or ","
    if delimiter is not None and counts.get(delim, first.count(delim)) == 0 and counts[seen]:
        raise RawDataError(
            f"--csv-delimiter {_show_delimiter(delim)} does not occur in the header row, which "
            f"is separated by {CSV_DELIMITERS[seen]}: {first[:80]!r}", file=path,
            hint=f"pass --csv-delimiter {'tab' if seen == chr(9) else repr(seen)}")
    if not re.search(r"[A-Za-z_]{2,}", first.split(delim)[0]):
        raise RawDataError("CSV has no header row, so its columns cannot be mapped by name",
                           file=path, hint="add a header row with Binance column names "
                           "(archive CSVs are read by `lifthouse ingest`, which knows their "
                           "layout)")
    parse = pacsv.ParseOptions(delimiter=delim)
    convert = None
    if decimal is not None:   # every column as text: numbers are converted by their marks
        names = pacsv.open_csv(path, parse_options=parse).schema.names
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names})
    try:
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        m = re.search(r"Expected (\d+) columns, got (\d+)", str(exc))
        if m and int(m[2]) > int(m[1]) and delim != ",":
            raise RawDataError(
                f"{m[2]} fields where the header has {m[1]}", file=path,
                row=_first_long_row(path, delim, int(m[1])),
                hint=f"check that {CSV_DELIMITERS.get(delim, repr(delim))} separate the fields "
                     "and that text holding one is quoted; nothing was written") from exc
        if m and int(m[2]) > int(m[1]):
            raise RawDataError(
                f"{m[2]} fields where the header has {m[1]}: numbers written with a decimal "
                f"comma (100,5) or a thousands separator (1,000.5) split into two fields when "
                f"{CSV_DELIMITERS.get(delim, delim)} separate the fields", file=path,
                row=_first_long_row(path, delim, int(m[1])),
                hint="re-export the file with '.' decimals and no thousands separators, or "
                     "with ';' between fields (then pass --csv-delimiter ';' --decimal ,); "
                     "nothing was written") from exc
        raise
    if decimal is not None:
        return _convert_numbers(table, decimal)
    _refuse_marked_numbers(table, path)
    return table


def _first_long_row(path: Path, delim: str, n_fields: int) -> int:
    """The 1-based data row (the header is row 0) of the first line with more fields."""
    import csv
    import gzip
    import io

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        reader = csv.reader(io.TextIOWrapper(fh, "utf-8", errors="replace"), delimiter=delim)
        for i, row in enumerate(reader):
            if len(row) > n_fields:
                return i
    return 1


def _marked_numbers(values: pa.ChunkedArray) -> list[str]:
    """The decimal marks (``.``, ``,``) under which every non-empty text value of a column
    reads as a number; empty when some value is not a number (or the column is empty)."""
    text = pc.utf8_trim_whitespace(values)
    text = text.filter(pc.and_(pc.is_valid(text), pc.not_equal(text, "")))
    if len(text) == 0:
        return []
    return [mark for mark, rx in NUMBER_RE.items()
            if pc.all(pc.match_substring_regex(text, rx)).as_py()]


def _refuse_marked_numbers(table: pa.Table, path: Path) -> None:
    """A text column whose values are numbers with a decimal comma or thousands separators
    (``100,5``, ``101,000.00``, ``1.234,5``) is refused, naming the format and ``--decimal``
    (without it a comma is never read as a decimal mark or dropped)."""
    for name in table.column_names:
        col = table.column(name)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            continue
        marks = _marked_numbers(col)
        has_comma = pc.fill_null(pc.match_substring(col, ","), False)
        if not marks or (not pc.any(has_comma).as_py() and marks != [","]):
            continue  # plain numbers (read as text for another reason) are left as they are
        rows = col.to_pylist()
        flags = has_comma.to_pylist()
        i = flags.index(True) if True in flags else next(
            k for k, v in enumerate(rows) if v and v.strip())
        example = rows[i]
        if marks == [","]:
            what = "a decimal comma" if "," in example else "'.' as a thousands separator"
            fix = "pass --decimal , (',' marks decimals, '.' groups thousands and is dropped)"
        elif marks == ["."]:
            what, fix = ("',' as a thousands separator",
                         "pass --decimal . ('.' marks decimals, ',' groups thousands and is "
                         "dropped)")
        else:
            what, fix = ("a comma that is either a decimal mark or a thousands separator "
                         f"({example.strip()!r} reads as {example.strip().replace(',', '.')} or "
                         f"{example.strip().replace(',', '')})",
                         "pass --decimal , if ',' marks decimals, or --decimal . if it groups "
                         "thousands")
        raise RawDataError(f"column {name!r} holds numbers written with {what}, e.g. "
                           f"{example.strip()!r}", file=path, row=i + 1,
                           hint=fix + "; nothing was written")


def _convert_numbers(table: pa.Table, decimal: str) -> pa.Table:
    """Every text column whose values all read as numbers with ``decimal`` as the decimal mark
    (the other mark grouping thousands), as int64 (no decimal mark, no exponent) or float64;
    every other column stays text (times, symbols, sides)."""
    group = "," if decimal == "." else "."
    cols = []
    for name in table.column_names:
        col = pc.utf8_trim_whitespace(table.column(name))
        if decimal not in _marked_numbers(col):
            cols.append(pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col))
            continue
        text = pc.replace_substring(col, group, "")
        text = pc.replace_substring(text, decimal, ".")
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        whole = not pc.any(pc.match_substring_regex(text, r"[.eE]")).as_py()
        cols.append(text.cast(pa.int64() if whole else pa.float64()))
    return pa.table(cols, names=table.column_names)


def _time_to_us(col: pa.ChunkedArray | pa.Array, *, source: Path, name: str,
                time_unit: str | None, naive_tz: str | None, date_format: str | None = None,
                dst: str | None = None) -> pa.Array:
    """Convert a time column to naive UTC microseconds (int64 -> timestamp[us]). A row without
    a time, day/month strings without ``date_format`` and local times that a DST change makes
    ambiguous (unless ``dst`` chooses) or nonexistent are errors naming the rows."""
    _refuse_missing_times(col, source=source, name=name)
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
            s = _localize(s, naive_tz, dst=dst, source=source, name=name)
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return pa.array(s.astype("datetime64[us]"), type=pa.timestamp("us"))
    # strings
    if date_format:
        parsed = _parse_with_format(s, date_format, source=source, name=name)
    else:
        _refuse_day_month(s, source=source, name=name)
        try:
            parsed = pd.to_datetime(s, utc=False, format="mixed")
        except (ValueError, TypeError) as exc:
            raise RawDataError(f"time column {name!r} cannot be parsed as dates: {exc}",
                               file=source) from exc
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise RawDataError(f"time column {name!r} has mixed time zones", file=source)
    return _time_to_us(pa.chunked_array([pa.array(parsed)]), source=source, name=name,
                       time_unit=time_unit, naive_tz=naive_tz, dst=dst)


def _rows_text(rows: np.ndarray, most: int = 5) -> str:
    """``rows 3, 4, 5`` (1-based) from 0-based indices, the first ``most`` of them."""
    shown = ", ".join(str(int(i) + 1) for i in rows[:most])
    more = f", ... ({rows.size} in all)" if rows.size > most else ""
    return f"row{'s' if rows.size > 1 else ''} {shown}{more}"


def _refuse_missing_times(col: pa.ChunkedArray | pa.Array, *, source: Path, name: str) -> None:
    """A row whose time is NULL, NaN, infinite or empty text: RawDataError naming the first
    such row of the file (before anything reads the stamps, so no other check fires on it)."""
    arr = col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])
    missing = pc.is_null(arr, nan_is_null=True)
    if pa.types.is_floating(arr.type):
        missing = pc.or_(missing, pc.fill_null(pc.is_inf(arr), False))
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        missing = pc.or_(missing, pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), False))
    rows = np.flatnonzero(missing.to_numpy(zero_copy_only=False))
    if rows.size:
        raise RawDataError(
            f"time column {name!r} is empty (NaN, NULL or blank) in {rows.size} row(s): "
            f"{_rows_text(rows)}", file=source, row=int(rows[0]) + 1,
            hint="fill in the time of those rows or drop them; nothing was written")


# a date written day/month/year or month/day/year (05/06/2025, 5.6.25, 05-06-2025 00:00)
DAY_MONTH_RE = r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)(.*)$"
DAY_MONTH_QUICK = r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}"   # the same, for Arrow (no backreference)


def _time_codes(rest: str) -> str | None:
    """The strftime codes of the time after a date (`` 00:00`` -> `` %H:%M``), None if unknown."""
    if not rest.strip():
        return ""
    m = re.match(r"^([ T])\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$", rest)
    if not m:
        return None
    return (f"{m[1]}%H:%M" + (":%S" if m[2] else "") + (".%f" if m[3] else "")
            + ("%z" if m[4] else ""))


def _refuse_day_month(s: pd.Series, *, source: Path, name: str) -> None:
    """Dates written day/month or month/day (``05/06/2025 00:00``: 5 June or May 6) are refused
    unless ``--date-format`` gives the order: never guessed, even when a day above 12 would
    tell (a file may mix both orders). The fix names the format that fits."""
    if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
        return
    text = pa.array(s.astype("string"), type=pa.string())
    if not pc.any(pc.match_substring_regex(text, DAY_MONTH_QUICK)).as_py():
        return                               # the common case (ISO strings), in Arrow's time
    m = s.astype("string").str.extract(DAY_MONTH_RE)
    hit = m[0].notna().to_numpy()
    if not hit.any():
        return
    rows = np.flatnonzero(hit)
    first = int(rows[0])
    a = m[0].iloc[rows].astype(int).to_numpy()
    b = m[2].iloc[rows].astype(int).to_numpy()
    day_first, month_first = rows[a > 12], rows[b > 12]   # only one order reads them
    sep, year = m[1].iloc[first], "%Y" if len(m[3].iloc[first]) == 4 else "%y"
    codes = _time_codes(str(m[4].iloc[first]))
    tail = codes if codes is not None else " <time codes, e.g. %H:%M>"
    dm, md = f"%d{sep}%m{sep}{year}{tail}", f"%m{sep}%d{sep}{year}{tail}"
    example = str(s.iloc[first]).strip()
    both = (f" ({example!r} is {int(a[0])} {calendar.month_name[int(b[0])]} day first, or "
            f"{calendar.month_name[int(a[0])]} {int(b[0])} month first)"
            if a[0] <= 12 and b[0] <= 12 and a[0] != b[0] else "")
    if day_first.size and month_first.size:
        d, mm = int(day_first[0]), int(month_first[0])
        raise RawDataError(
            f"time column {name!r} mixes day/month and month/day dates: row {d + 1} "
            f"({str(s.iloc[d]).strip()!r}) reads only as day/month, row {mm + 1} "
            f"({str(s.iloc[mm]).strip()!r}) only as month/day", file=source, row=mm + 1,
            hint="write every date in one order (best: ISO, 2025-05-06 00:00); nothing was "
                 "written")
    if day_first.size:
        why = (f"row {int(day_first[0]) + 1} ({str(s.iloc[day_first[0]]).strip()!r}) reads "
               "only as day/month")
        fix = f"pass --date-format '{dm}' (day first)"
    elif month_first.size:
        why = (f"row {int(month_first[0]) + 1} ({str(s.iloc[month_first[0]]).strip()!r}) "
               "reads only as month/day")
        fix = f"pass --date-format '{md}' (month first)"
    else:
        why = "every one of them reads both ways"
        fix = (f"pass --date-format '{dm}' if the day comes first, or --date-format '{md}' if "
               "the month does")
    raise RawDataError(
        f"time column {name!r} holds dates written day/month or month/day{both}; {why}; the "
        "order is never guessed", file=source, row=first + 1,
        hint=fix + "; or export ISO dates (2025-05-06 00:00); nothing was written")


def _parse_with_format(s: pd.Series, fmt: str, *, source: Path, name: str) -> pd.Series:
    """``s`` parsed with the strftime format ``--date-format`` gives; the first row that does
    not match it is an error naming the row."""
    try:
        parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise RawDataError(f"--date-format {fmt!r} cannot parse the time column {name!r}: {exc}",
                           file=source, hint="give strftime codes, e.g. --date-format "
                                             "'%d/%m/%Y %H:%M'") from exc
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise RawDataError(
            f"time column {name!r}: {str(s.iloc[bad[0]]).strip()!r} does not match --date-format "
            f"{fmt!r} ({bad.size} row(s) in all: {_rows_text(bad)})", file=source,
            row=int(bad[0]) + 1,
            hint="give the format the column is written in (strftime codes, e.g. "
                 "'%d/%m/%Y %H:%M'); nothing was written")
    return parsed


# --dst: how local times that occur twice (the clocks set back) are read
DST_CHOICES = ("infer", "earlier", "later")


def _localize(s: pd.Series, zone: str, *, dst: str | None, source: Path,
              name: str) -> pd.Series:
    """Naive local times in ``zone`` as zone-aware times. A local time the clocks skip (the
    start of summer time) is refused, naming the rows: such stamps do not follow that zone's
    clock. A local time that occurs twice (the clocks set back) is refused unless ``dst``
    chooses: ``infer`` (from the row order: the first pass of the repeated hour is the
    earlier one), ``earlier`` or ``later`` (every such time as its first or second pass)."""
    tz = time_zone(zone)
    try:
        return s.dt.tz_localize(tz)
    except ValueError:      # pandas: an ambiguous or nonexistent local time
        pass
    n = len(s)
    first = s.dt.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT")
    second = s.dt.tz_localize(tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    skipped = np.flatnonzero(first.isna().to_numpy())
    if skipped.size:
        raise RawDataError(
            f"time column {name!r}: {skipped.size} local time(s) do not exist in {zone} (its "
            f"clocks skip them, at the start of summer time), e.g. {s.iloc[skipped[0]]} at "
            f"{_rows_text(skipped)}: these stamps do not follow {zone}'s clock",
            file=source, row=int(skipped[0]) + 1,
            hint=f"pass the zone the stamps follow: {_fixed_zone(tz)} for {zone}'s offset "
                 "without summer time, or UTC; nothing was written")
    twice = np.flatnonzero((first != second).to_numpy())
    if dst is None:
        raise RawDataError(
            f"time column {name!r}: {twice.size} local time(s) occur twice in {zone} (its "
            f"clocks are set back, at the end of summer time), e.g. {s.iloc[twice[0]]} at "
            f"{_rows_text(twice)}: which pass each row means is not guessed",
            file=source, row=int(twice[0]) + 1,
            hint="pass --dst infer (from the row order: the repeated hour's first pass is the "
                 "earlier), --dst earlier or --dst later (every such time as its first or "
                 "second pass), or export the times in UTC; nothing was written")
    if dst == "infer":
        try:
            return s.dt.tz_localize(tz, ambiguous="infer")
        except ValueError as exc:
            raise RawDataError(
                f"time column {name!r}: --dst infer cannot tell the two passes of the local "
                f"times that occur twice in {zone} ({_rows_text(twice)}) from the row order "
                f"({exc})", file=source, row=int(twice[0]) + 1,
                hint="pass --dst earlier or --dst later, or export the times in UTC") from None
    pick = np.minimum if dst == "earlier" else np.maximum
    utc = pick(first.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]"),
               second.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]"))
    return pd.Series(utc, index=s.index).dt.tz_localize("UTC").dt.tz_convert(tz)


def _fixed_zone(tz) -> str:
    """The zone name of ``tz``'s offset without summer time (``Etc/GMT-1`` for UTC+1)."""
    import datetime as dt

    std = min(tz.utcoffset(dt.datetime(2025, m, 1)) for m in (1, 7))
    hours = std.total_seconds() / 3600
    if hours == 0:
        return "UTC"
    if hours.is_integer():
        return f"Etc/GMT{-int(hours):+d} (UTC{int(hours):+d}; the Etc sign is inverted)"
    return f"a zone with the fixed offset UTC{hours:+g} h"


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
                ignore: set[str] | None = None,
                formats: InputFormat = InputFormat()) -> tuple[pa.Table, list[str]]:
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
                                        naive_tz=naive_tz, date_format=formats.date_format,
                                        dst=formats.dst)
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
    cols["side"] = liquidation_sides(cols["side"], source=source)
    return cols


# a side that names the liquidated position, not the forced order: the order closing it
POSITION_SIDES = {"LONG": "SELL", "SHORT": "BUY"}


def liquidation_sides(side: pa.ChunkedArray | pa.Array, *, source: Path) -> pa.Array:
    """The ``side`` of each forced order, upper-cased: BUY or SELL (SELL: a long position was
    liquidated). An empty side, a position (LONG / SHORT) or any other value is an error naming
    the first such row and the fix."""
    values = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip().upper()
              for v in side.to_pylist()]
    empty = np.flatnonzero([not v for v in values])
    if empty.size:
        raise RawDataError(
            f"the side of {empty.size} liquidation(s) is empty (NULL): {_rows_text(empty)}",
            file=source, row=int(empty[0]) + 1,
            hint="give every row its forced order's side: SELL when a long position was "
                 "liquidated, BUY when a short was; or drop those rows; nothing was written")
    other = np.flatnonzero([v not in ("BUY", "SELL") for v in values])
    if other.size:
        found = sorted({values[i] for i in other})
        i = int(other[0])
        if set(found) <= set(POSITION_SIDES):
            raise RawDataError(
                f"side {values[i]!r} names the liquidated position, not the forced order's side "
                f"({other.size} row(s): {_rows_text(other)})", file=source, row=i + 1,
                hint="write the order's side: a long liquidated is a SELL order (LONG -> SELL), "
                     "a short liquidated a BUY (SHORT -> BUY); nothing was written")
        raise RawDataError(
            f"side {values[i]!r} is not BUY or SELL ({other.size} row(s): {_rows_text(other)}; "
            f"values found: {', '.join(found[:5])})", file=source, row=i + 1,
            hint="each liquidation is a SELL (a long position liquidated) or a BUY (a short "
                 "liquidated); fix those rows; nothing was written")
    return pa.array(values, type=pa.string())


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
