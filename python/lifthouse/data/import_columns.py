"""Mapping an imported file's columns to its dataset's raw schema: Binance, ccxt and
freqtrade aliases, columns safe to drop, the time column converted, and liquidations' USD
notional (contracts times ``--contract-usd``) and order sides (BUY / SELL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from lifthouse.data.import_read import InputFormat
from lifthouse.data.import_times import _rows_text, _time_to_us
from lifthouse.data.schema import DATASETS, RawDataError

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
