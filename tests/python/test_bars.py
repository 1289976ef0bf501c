"""Klines aggregated to a coarser grain (lifthouse.data.bars.aggregate_klines): the OHLCV rules,
missing 1m bars, NULL optional columns, order, exact decimal sums, and the real 1m data against
an independent real 5m copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lifthouse.data.bars import aggregate_klines
from lifthouse.data.raw import file_origins, read_dataset, write_dataset
from lifthouse.data.schema import DATASETS, RawDataError

T0 = pd.Timestamp("2025-03-31 23:50")  # two 5m slots in March, two in April


def one_minute_bars(n: int = 20, start: pd.Timestamp = T0, seed: int = 0) -> pd.DataFrame:
    """1m klines in the raw schema, every column filled, volumes with 3 decimals."""
    rng = np.random.default_rng(seed)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.2, n)), 2)
    open_ = np.r_[100.0, close[:-1]]
    volume = np.round(rng.uniform(0.1, 5, n), 3)
    return pd.DataFrame({
        "open_time": pd.date_range(start, periods=n, freq="1min").as_unit("us"),
        "open": open_, "high": np.maximum(open_, close) + 0.05,
        "low": np.minimum(open_, close) - 0.05, "close": close, "volume": volume,
        "quote_volume": np.round(volume * close, 2), "count": rng.integers(1, 50, n),
        "taker_buy_volume": np.round(volume / 2, 3),
        "taker_buy_quote_volume": np.round(volume * close / 2, 2),
    })


def table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, schema=DATASETS["um_klines_1m"].schema, preserve_index=False)


def test_ohlcv_rules_per_five_minute_slot():
    df = one_minute_bars()
    out = aggregate_klines(table(df), 5).to_pandas()
    slot = df["open_time"].dt.floor("5min")
    g = df.groupby(slot)
    assert out["open_time"].tolist() == list(g.groups)  # one bar per slot, opening on it
    assert len(out) == 4
    assert out["open"].tolist() == g["open"].first().tolist()
    assert out["high"].tolist() == g["high"].max().tolist()
    assert out["low"].tolist() == g["low"].min().tolist()
    assert out["close"].tolist() == g["close"].last().tolist()
    assert out["count"].tolist() == g["count"].sum().tolist()
    for c in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
        np.testing.assert_allclose(out[c], g[c].sum(), rtol=1e-12)
    # the raw schema, unchanged: the 5m bars validate as um_klines_5m
    assert aggregate_klines(table(df), 5).schema.equals(DATASETS["um_klines_5m"].schema)


def test_a_missing_one_minute_bar_is_aggregated_from_the_bars_that_are_there():
    df = one_minute_bars()
    gappy = df.drop(index=[6, 7])  # 23:56 and 23:57: the 23:55 slot keeps 3 of its 5 bars
    gappy = gappy.drop(index=range(10, 15))  # the 00:00 slot has no bar at all
    out = aggregate_klines(table(gappy), 5).to_pandas()
    assert out["open_time"].tolist() == [T0, T0 + pd.Timedelta("5min"), T0 + pd.Timedelta("15min")]
    second = out.iloc[1]
    kept = df.loc[[5, 8, 9]]
    assert second["open"] == kept["open"].iloc[0] and second["close"] == kept["close"].iloc[-1]
    assert second["high"] == kept["high"].max() and second["low"] == kept["low"].min()
    assert second["volume"] == pytest.approx(kept["volume"].sum())
    assert second["count"] == kept["count"].sum()


def test_the_output_is_in_time_order_whatever_the_input_order():
    df = one_minute_bars()
    shuffled = df.sample(frac=1.0, random_state=3)
    assert not shuffled["open_time"].is_monotonic_increasing
    out = aggregate_klines(table(shuffled), 5)
    assert out.equals(aggregate_klines(table(df), 5))
    assert out.column("open_time").to_pandas().is_monotonic_increasing


def test_a_null_optional_value_makes_its_slot_null_not_a_partial_sum():
    df = one_minute_bars()
    t = table(df)
    qv = t.column("quote_volume").to_pylist()
    qv[3] = None
    t = t.set_column(t.schema.get_field_index("quote_volume"), "quote_volume",
                     pa.array(qv, pa.float64()))
    out = aggregate_klines(t, 5)
    assert out.column("quote_volume").is_null().to_pylist() == [True, False, False, False]
    assert out.column("volume").null_count == 0
    # an OHLCV-only import (optional columns all NULL) stays NULL
    bare = table(df[["open_time", "open", "high", "low", "close", "volume"]].assign(
        quote_volume=None, count=None, taker_buy_volume=None, taker_buy_quote_volume=None))
    assert aggregate_klines(bare, 5).column("count").null_count == 4


def test_sums_keep_the_decimals_of_their_inputs():
    """0.1 + 0.2 is 0.30000000000000004 in floats; the exchange's own 5m volume is 0.3."""
    df = one_minute_bars(5)
    df["volume"] = [0.1, 0.2, 0.1, 0.2, 0.1]
    df["taker_buy_volume"] = [0.1, 0.1, 0.1, 0.1, 0.1]
    out = aggregate_klines(table(df), 5).to_pylist()[0]
    assert out["volume"] == 0.7 and 0.1 + 0.2 + 0.1 + 0.2 + 0.1 != 0.7
    assert out["taker_buy_volume"] == 0.5


def test_bar_minutes_one_keeps_the_bars_and_other_grains_are_refused():
    t = table(one_minute_bars())
    assert aggregate_klines(t, 1).equals(t)
    with pytest.raises(RawDataError, match="bar_minutes 15 is not supported"):
        aggregate_klines(t, 15)


def test_what_cannot_be_aggregated_is_refused():
    t = table(one_minute_bars())
    with pytest.raises(RawDataError, match=r"cannot aggregate column\(s\) \['symbol'\](.|\n)*"
                                           "one symbol's klines at a time"):
        aggregate_klines(t.append_column("symbol", pa.array(["BTCUSDT"] * t.num_rows)), 5)
    dup = pa.concat_tables([t, t.slice(3, 1)])
    with pytest.raises(RawDataError, match="duplicate open_time 2025-03-31T23:53"):
        aggregate_klines(dup, 5)


def test_stored_one_minute_klines_become_five_minute_klines_in_the_raw_layer(tmp_path: Path):
    """The docs' recipe for real data: read the 1m klines, aggregate, write as um_klines_5m."""
    write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", table(one_minute_bars(40)), origin="ingest")
    bars_5m = aggregate_klines(read_dataset(tmp_path, "um_klines_1m", "BTCUSDT"), 5)
    rep = write_dataset(tmp_path, "um_klines_5m", "BTCUSDT", bars_5m, origin="import")
    assert rep.rows_added == 8
    stored = read_dataset(tmp_path, "um_klines_5m", "BTCUSDT")
    assert stored.equals(bars_5m)
    assert [f.name for f in sorted((tmp_path / "um_klines_5m" / "symbol=BTCUSDT").iterdir())] \
        == ["2025-03.parquet", "2025-04.parquet"]
    assert file_origins(tmp_path / "um_klines_5m" / "symbol=BTCUSDT" / "2025-04.parquet") \
        == {"import"}


@pytest.mark.realdata
@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
def test_real_one_minute_klines_aggregate_to_the_real_five_minute_copy(real_data_dir: Path,
                                                                      symbol: str):
    """The real 1m klines aggregated equal the independent real 5m copy (long_5m), candle for
    candle, volume bit for bit, on every complete 5m slot they share."""
    m1 = pd.read_parquet(real_data_dir / "um_klines_1m" / f"{symbol}.parquet")
    m5 = pd.read_parquet(real_data_dir / "long_5m" / "um_klines_5m" / f"{symbol}.parquet")
    m1["open_time"] = pd.to_datetime(m1["open_time"], unit="ms").dt.as_unit("us")
    m5["open_time"] = pd.to_datetime(m5["open_time"], unit="ms").dt.as_unit("us")
    full = m1.groupby(m1["open_time"].dt.floor("5min"))["open_time"].transform("size") == 5
    got = aggregate_klines(pa.Table.from_pandas(m1[full], preserve_index=False), 5).to_pandas()
    both = got.merge(m5, on="open_time", suffixes=("", "_5m"))
    assert len(both) > 14_000
    for c in ("open", "high", "low", "close", "volume"):
        assert (both[c] == both[f"{c}_5m"]).all(), c
