"""The symbol of an imported file: stated by its name (``BTCUSDT-1m.csv``, freqtrade's
``BTC_USDT_USDT``, COIN-M ``BTCUSD_PERP`` stored as its USD-M twin) or by its ``symbol`` column;
never guessed (generic names such as ``binance_usdt_klines.parquet`` state none)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from lifthouse.data.raw import normalize_symbol
from lifthouse.data.schema import RawDataError

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


def _states_symbol(path: Path) -> bool:
    try:
        symbol_from_filename(path)
    except RawDataError:
        return False
    return True
