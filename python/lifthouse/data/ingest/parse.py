"""Read one verified archive zip into a table shaped for the raw layer.

Handles both CSV variants Binance publishes (with a header row, added to futures files around
2022, and without one), millisecond and microsecond epoch stamps (spot switched to
microseconds on 2025-01-01; detected by magnitude), and checks that the zip holds the CSV its
name promises. Every problem raises :class:`RawDataError` naming the archive.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from lifthouse.data.ingest.layout import Archive, contract_usd
from lifthouse.data.schema import DATASETS, RawDataError

KLINE_COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "close_time",
                 "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore"]
FUNDING_COLUMNS = ["calc_time", "funding_interval_hours", "last_funding_rate"]
METRICS_COLUMNS = ["create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
                   "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio",
                   "count_long_short_ratio", "sum_taker_long_short_vol_ratio"]
LIQ_COLUMNS = ["time", "side", "order_type", "time_in_force", "original_quantity", "price",
               "average_price", "order_status", "last_fill_quantity", "accumulated_fill_quantity"]

CSV_COLUMNS = {
    "klines": KLINE_COLUMNS,
    "markPriceKlines": KLINE_COLUMNS,
    "premiumIndexKlines": KLINE_COLUMNS,
    "fundingRate": FUNDING_COLUMNS,
    "metrics": METRICS_COLUMNS,
    "liquidationSnapshot": LIQ_COLUMNS,
}

# epoch values above this are microseconds (ms stamps stay below it until the year 5138)
_US_THRESHOLD = 100_000_000_000_000
_MINUTE_US = 60_000_000


def read_archive(zip_path: Path, archive: Archive) -> pa.Table:
    """The zip's CSV as a raw-layer table for ``archive.dataset`` (not yet conformed)."""
    data = _extract_csv(zip_path, archive)
    kind = archive.source.kind
    table = _read_csv(data, CSV_COLUMNS[kind], archive)
    if kind in ("klines", "markPriceKlines", "premiumIndexKlines"):
        out = _klines(table, archive)
    elif kind == "fundingRate":
        out = _funding(table, archive)
    elif kind == "metrics":
        out = _metrics(table, archive)
    else:
        out = _liquidations(table, archive)
    _check_period(out, archive)
    return out


def _extract_csv(zip_path: Path, archive: Archive) -> bytes:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if names != [archive.csv_name]:
                raise RawDataError(
                    f"archive {archive.name} holds {names or 'nothing'}, expected exactly "
                    f"{archive.csv_name}: the wrong file was published or served",
                    file=archive.path,
                    hint="check --base-url / the mirror; nothing from this archive was written",
                )
            return zf.read(archive.csv_name)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError) as exc:
        if isinstance(exc, RawDataError):
            raise
        raise RawDataError(
            f"archive {archive.name} is not a readable zip ({exc}): truncated or corrupt",
            file=archive.path,
            hint="run the same ingest again to download it afresh; nothing from it was written",
        ) from exc


def _has_header(first_line: str, columns: list[str], archive: Archive) -> bool:
    cells = [c.strip().strip('"') for c in first_line.split(",")]
    if cells and cells[0] == columns[0]:
        if cells != columns[: len(cells)] or len(cells) != len(columns):
            raise RawDataError(
                f"{archive.csv_name} has header {cells}, expected {columns}",
                file=archive.path, hint="the archive format changed or the wrong CSV was served",
            )
        return True
    if len(cells) != len(columns):
        raise RawDataError(
            f"{archive.csv_name} has {len(cells)} columns in its first row, expected "
            f"{len(columns)} ({', '.join(columns)}): not a {archive.source.kind} CSV",
            file=archive.path, hint="the wrong CSV was served; nothing was written",
        )
    if cells[0] and cells[0][0].isalpha():
        raise RawDataError(
            f"{archive.csv_name} starts with an unknown header {cells}; expected {columns}",
            file=archive.path, hint="the wrong CSV was served; nothing was written",
        )
    return False


def _read_csv(data: bytes, columns: list[str], archive: Archive) -> pa.Table:
    text_head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text_head.strip():
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    header = _has_header(text_head.splitlines()[0], columns, archive)
    types = {c: pa.string() for c in ("symbol", "side", "order_type", "time_in_force",
                                      "order_status", "create_time")}
    for c in ("open_time", "close_time", "count", "calc_time", "time"):
        types[c] = pa.int64()
    try:
        return pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=columns, skip_rows=1 if header else 0),
            convert_options=pcsv.ConvertOptions(column_types=types),
        )
    except pa.ArrowInvalid as exc:
        raise RawDataError(f"{archive.csv_name} cannot be parsed: {exc}", file=archive.path,
                           hint="the file is damaged; nothing from it was written") from exc


def _to_ts(col: pa.ChunkedArray) -> pa.Array:
    """Epoch ms or us (by magnitude) -> timestamp[us]."""
    v = col.to_numpy(zero_copy_only=False).astype(np.int64)
    us = v if v.size and int(np.abs(v).max()) >= _US_THRESHOLD else v * 1000
    return pa.array(us, pa.int64()).cast(pa.timestamp("us"))


def _f64(table: pa.Table, name: str) -> pa.ChunkedArray:
    return table.column(name).cast(pa.float64())


def _klines(t: pa.Table, archive: Archive) -> pa.Table:
    cols = {"open_time": _to_ts(t.column("open_time"))}
    for c in ("open", "high", "low", "close"):
        cols[c] = _f64(t, c)
    if "volume" in DATASETS[archive.dataset].schema.names:  # trade klines, not mark/premium
        cols["volume"] = _f64(t, "volume")
        cols["quote_volume"] = _f64(t, "quote_volume")
        cols["count"] = t.column("count").cast(pa.int64())
        cols["taker_buy_volume"] = _f64(t, "taker_buy_volume")
        cols["taker_buy_quote_volume"] = _f64(t, "taker_buy_quote_volume")
    return pa.table(cols)


def _funding(t: pa.Table, archive: Archive) -> pa.Table:
    # settlements are stamped a few ms after the hour: keep the whole minute
    ts = _to_ts(t.column("calc_time")).cast(pa.int64()).to_numpy()
    floored = (ts // _MINUTE_US) * _MINUTE_US
    return pa.table({
        "funding_time": pa.array(floored, pa.int64()).cast(pa.timestamp("us")),
        "funding_rate": _f64(t, "last_funding_rate"),
    })


def _metrics(t: pa.Table, archive: Archive) -> pa.Table:
    syms = set(pc.unique(t.column("symbol")).to_pylist())
    if t.num_rows and syms != {archive.archive_symbol}:
        raise RawDataError(
            f"{archive.csv_name} holds symbol(s) {sorted(map(str, syms))}, expected "
            f"{archive.archive_symbol}", file=archive.path,
            hint="the wrong CSV was served; nothing was written",
        )
    try:
        ts = pc.strptime(t.column("create_time"), format="%Y-%m-%d %H:%M:%S", unit="us")
    except pa.ArrowInvalid as exc:
        raise RawDataError(f"{archive.csv_name}: create_time is not 'YYYY-MM-DD HH:MM:SS': {exc}",
                           file=archive.path) from exc
    return pa.table({
        "timestamp": ts.cast(pa.timestamp("us")),
        "sum_open_interest": _f64(t, "sum_open_interest"),
        "sum_open_interest_value": _f64(t, "sum_open_interest_value"),
    })


def _liquidations(t: pa.Table, archive: Archive) -> pa.Table:
    """Forced orders. price = average fill price (else the order price); quantity = filled
    contracts (else the original quantity); notional_usd = quantity * contract_usd. Exact
    duplicate rows (the snapshot repeats some orders) are dropped."""
    avg = _f64(t, "average_price").to_numpy(zero_copy_only=False)
    px = _f64(t, "price").to_numpy(zero_copy_only=False)
    filled = _f64(t, "accumulated_fill_quantity").to_numpy(zero_copy_only=False)
    orig = _f64(t, "original_quantity").to_numpy(zero_copy_only=False)
    price = np.where(np.nan_to_num(avg) > 0, avg, px)
    qty = np.where(np.nan_to_num(filled) > 0, filled, orig)
    usd = contract_usd(archive.archive_symbol)
    table = pa.table({
        "time": _to_ts(t.column("time")),
        "side": t.column("side").cast(pa.string()),
        "price": pa.array(price, pa.float64()),
        "quantity": pa.array(qty, pa.float64()),
        "contract_usd": pa.array(np.full(t.num_rows, usd), pa.float64()),
        "notional_usd": pa.array(qty * usd, pa.float64()),
    })
    if table.num_rows == 0:
        return table
    key = ["time", "side", "price", "quantity"]
    grouped = table.append_column("_i", pa.array(np.arange(table.num_rows))) \
        .group_by(key, use_threads=False).aggregate([("_i", "min")])
    keep = np.sort(grouped.column("_i_min").to_numpy())
    return table.take(pa.array(keep))


def _check_period(table: pa.Table, archive: Archive) -> None:
    """Rows must fall inside the archive's period (a day's file holds that day)."""
    if table.num_rows == 0:
        return
    tcol = table.column(0).cast(pa.int64()).to_numpy()
    lo = np.datetime64(archive.start, "us").astype(np.int64)
    hi = np.datetime64(archive.end, "us").astype(np.int64)
    if archive.source.kind == "metrics":
        hi += 5 * _MINUTE_US  # the 5m snapshot at midnight may close the previous day's file
    bad = np.flatnonzero((tcol < lo) | (tcol >= hi))
    if bad.size:
        first = str(np.datetime64(int(tcol[bad[0]]), "us")).replace("T", " ")
        raise RawDataError(
            f"{archive.csv_name}: {bad.size} row(s) lie outside {archive.period} "
            f"(first at {first}): wrong file or wrong time unit",
            file=archive.path, row=int(bad[0]) + 1,
            hint="the wrong CSV was served; nothing from this archive was written",
        )
