"""The schema of record of the raw layer (SPEC 1): every dataset, its columns and grain, and
the error every raw-layer check raises. Layout and writer: :mod:`lifthouse.data.raw`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pyarrow as pa

TS = pa.timestamp("us")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    """Schema of one raw dataset (Binance column names)."""

    name: str
    time_column: str
    columns: tuple[Column, ...]
    description: str
    # key columns besides the symbol partition (unique per symbol)
    key: tuple[str, ...] = field(default=())
    ohlc: bool = False
    # bar spacing in seconds for gridded datasets (klines, open interest); None = event data
    grain_seconds: int | None = None
    # stamps must sit exactly on the grain (klines open on the minute; Binance's open-interest
    # stamps arrive up to a few seconds late, so they are not held to it)
    on_grain: bool = False

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns])

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.key or (self.time_column,)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _kline_columns(extra: bool = True) -> tuple[Column, ...]:
    base = (
        Column("open_time", TS),
        Column("open", pa.float64()),
        Column("high", pa.float64()),
        Column("low", pa.float64()),
        Column("close", pa.float64()),
    )
    if not extra:
        return base
    return base + (
        Column("volume", pa.float64()),
        Column("quote_volume", pa.float64(), required=False),
        Column("count", pa.int64(), required=False),
        Column("taker_buy_volume", pa.float64(), required=False),
        Column("taker_buy_quote_volume", pa.float64(), required=False),
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "um_klines_1m",
            "open_time",
            _kline_columns(),
            "USD-M perpetual 1m klines (required)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "spot_klines_1m",
            "open_time",
            _kline_columns(),
            "spot 1m klines (optional: basis)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "um_klines_5m",
            "open_time",
            _kline_columns(),
            "USD-M perpetual 5m klines (required by a run at bar_minutes 5)",
            grain_seconds=300,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "spot_klines_5m",
            "open_time",
            _kline_columns(),
            "spot 5m klines (optional at bar_minutes 5: basis)",
            grain_seconds=300,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "um_mark_klines_1m",
            "open_time",
            _kline_columns(extra=False),
            "USD-M mark-price 1m klines (optional)",
            grain_seconds=60,
            on_grain=True,
            ohlc=True,
        ),
        DatasetSpec(
            "um_premium_index_klines_1m",
            "open_time",
            _kline_columns(extra=False),
            "USD-M premium-index 1m klines (optional)",
            grain_seconds=60,
            on_grain=True,
            ohlc=False,  # premium index can be negative
        ),
        DatasetSpec(
            "um_funding_rate",
            "funding_time",
            (
                Column("funding_time", TS),
                Column("funding_rate", pa.float64()),
                Column("mark_price", pa.float64(), required=False),
            ),
            "USD-M funding rate per settlement (required: carry_state)",
        ),
        DatasetSpec(
            "um_open_interest_5m",
            "timestamp",
            (
                Column("timestamp", TS),
                Column("sum_open_interest", pa.float64()),
                Column("sum_open_interest_value", pa.float64(), required=False),
            ),
            "USD-M open interest, 5m (optional: LIQUIDATION_CASCADE evidence)",
            grain_seconds=300,
        ),
        DatasetSpec(
            "um_liquidations",
            "time",
            (
                Column("time", TS),
                Column("side", pa.string()),
                Column("price", pa.float64()),
                Column("quantity", pa.float64()),
                Column("contract_usd", pa.float64(), required=False),
                Column("notional_usd", pa.float64()),
                Column("order_id", pa.string(), required=False),
            ),
            "forced orders (optional: LIQUIDATION_CASCADE evidence). SELL = a long was liquidated",
            key=("time", "side", "price", "quantity"),
        ),
    ]
}

REQUIRED_DATASETS = ("um_klines_1m", "um_funding_rate")

# The bar grains a run can use (var bar_minutes, docs/features_and_events.md "Bar grain")
BAR_MINUTES = (1, 5)


def check_bar_minutes(bar_minutes: int) -> int:
    """``bar_minutes`` if it is a supported grain, else RawDataError naming the choices."""
    if int(bar_minutes) not in BAR_MINUTES:
        raise RawDataError(f"bar_minutes {bar_minutes} is not supported",
                           hint=f"choose one of {', '.join(map(str, BAR_MINUTES))}")
    return int(bar_minutes)


def perp_klines_dataset(bar_minutes: int = 1) -> str:
    """The raw perp klines dataset a run at ``bar_minutes`` reads: um_klines_1m / um_klines_5m."""
    return f"um_klines_{check_bar_minutes(bar_minutes)}m"


def spot_klines_dataset(bar_minutes: int = 1) -> str:
    """The raw spot klines dataset a run at ``bar_minutes`` reads (optional: the basis)."""
    return f"spot_klines_{check_bar_minutes(bar_minutes)}m"


def required_datasets(bar_minutes: int = 1) -> tuple[str, ...]:
    """The datasets a run at ``bar_minutes`` cannot do without: perp klines and funding."""
    return (perp_klines_dataset(bar_minutes), "um_funding_rate")


class RawDataError(Exception):
    """Bad input for the raw layer. The message names the file, the row or day and the fix."""

    def __init__(self, problem: str, *, file: str | os.PathLike | None = None,
                 row: int | None = None, hint: str | None = None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        self.hint = hint
        where = ""
        if self.file:
            where = f"{self.file}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        msg = where + problem
        if hint:
            msg += f"\n  fix: {hint}"
        super().__init__(msg)

