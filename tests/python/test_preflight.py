"""Pre-flight coverage check: complete data, missing required, missing optional, gaps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.preflight import check_coverage
from lifthouse.data.raw import write_dataset
from lifthouse.data.schema import RawDataError

START, END, LOOKBACK = "2025-06-03", "2025-06-05", 2  # checked span: 2025-06-01 .. 06-05


def _grid(freq: str, drop: slice | None = None) -> pd.DatetimeIndex:
    idx = pd.date_range("2025-06-01", "2025-06-05", freq=freq, inclusive="left")
    if drop is not None:
        idx = idx.delete(np.arange(len(idx))[drop])
    return idx


def _klines(idx: pd.DatetimeIndex) -> pa.Table:
    n = len(idx)
    px = 100 + np.arange(n) % 7
    return pa.table({"open_time": idx.values.astype("datetime64[us]"), "open": px * 1.0,
                     "high": px + 1.0, "low": px - 1.0, "close": px * 1.0,
                     "volume": np.ones(n)})


def fill(data_dir, symbol: str, *, skip: tuple[str, ...] = (), kline_drop: slice | None = None,
         funding_from: str | None = None) -> None:
    """Four days (2025-06-01 .. 06-04) of every dataset for one symbol, except ``skip``."""
    if "um_klines_1m" not in skip:
        write_dataset(data_dir, "um_klines_1m", symbol, _klines(_grid("1min", kline_drop)))
    for ds in ("spot_klines_1m", "um_mark_klines_1m"):
        if ds not in skip:
            t = _klines(_grid("1min"))
            if ds == "um_mark_klines_1m":
                t = t.drop_columns(["volume"])
            write_dataset(data_dir, ds, symbol, t)
    if "um_premium_index_klines_1m" not in skip:
        idx = _grid("1min")
        z = np.zeros(len(idx))
        write_dataset(data_dir, "um_premium_index_klines_1m", symbol, pa.table(
            {"open_time": idx.values.astype("datetime64[us]"), "open": z, "high": z + 1e-4,
             "low": z - 1e-4, "close": z}))
    if "um_funding_rate" not in skip:
        idx = _grid("8h")
        if funding_from:
            idx = idx[idx >= funding_from]
        # settlements stamped a few ms late, as on the exchange
        write_dataset(data_dir, "um_funding_rate", symbol, pa.table(
            {"funding_time": (idx + pd.Timedelta(milliseconds=3)).values.astype("datetime64[us]"),
             "funding_rate": np.full(len(idx), 0.0001)}))
    if "um_open_interest_5m" not in skip:
        idx = _grid("5min") + pd.Timedelta(seconds=1)  # Binance's +1 s jitter
        write_dataset(data_dir, "um_open_interest_5m", symbol, pa.table(
            {"timestamp": idx.values.astype("datetime64[us]"),
             "sum_open_interest": np.full(len(idx), 1e4)}))
    if "um_liquidations" not in skip:
        t = pd.to_datetime(["2025-06-01 03:00:01", "2025-06-02 04:00:00", "2025-06-03 05:00:00",
                            "2025-06-04 06:00:00"])
        write_dataset(data_dir, "um_liquidations", symbol, pa.table(
            {"time": t.values.astype("datetime64[us]"), "side": ["SELL", "BUY", "SELL", "BUY"],
             "price": [100.0] * 4, "quantity": [2.0] * 4, "notional_usd": [200.0] * 4}))


def test_complete_data_is_ok(tmp_path):
    for s in ("BTCUSDT", "ETHUSDT"):
        fill(tmp_path, s)
    rep = check_coverage(tmp_path, ["BTC", "ETH"], START, END, LOOKBACK)
    assert rep.ok and rep.errors == [] and rep.warnings == []
    assert rep.ingest_command is None and rep.optional_command is None
    k = rep.get("um_klines_1m", "BTCUSDT")
    assert (k.expected, k.present, k.gap_slots) == (5760, 5760, 0)
    assert k.first == dt.datetime(2025, 6, 1) and k.last == dt.datetime(2025, 6, 4, 23, 59)
    f = rep.get("um_funding_rate", "ETHUSDT")
    assert (f.expected, f.present) == (12, 12)
    o = rep.get("um_open_interest_5m", "ETHUSDT")
    assert (o.expected, o.present) == (1152, 1152)
    assert rep.get("um_liquidations", "BTCUSDT").present == 4
    text = rep.render()
    assert "checking 2025-06-01 00:00 .. 2025-06-05 00:00 UTC" in text
    assert text.rstrip().endswith("preflight: OK")


def test_missing_required_fails_with_the_ingest_command(tmp_path, capsys):
    fill(tmp_path, "BTCUSDT")
    fill(tmp_path, "ETHUSDT", skip=("um_funding_rate",))
    rep = check_coverage(tmp_path, "BTCUSDT,ETHUSDT", START, END, LOOKBACK)
    assert not rep.ok
    assert rep.errors == ["ETHUSDT: no um_funding_rate in the window (required)"]
    expected_cmd = (f"lifthouse ingest --symbols ETHUSDT --start 2025-06-01 --end 2025-06-05 "
                    f"--datasets um_funding_rate --data-dir {tmp_path}")
    assert rep.ingest_command == expected_cmd
    code = cli_main(["preflight", "--start", START, "--end", END, "--symbols", "BTC,ETH",
                     "--lookback-days", str(LOOKBACK), "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"to fill the required data, run:\n  {expected_cmd}" in out
    assert "preflight: FAILED" in out


def test_badly_incomplete_required_fails_and_names_the_gap(tmp_path):
    # klines only from 2025-06-02 12:00: the lookback's first 36 hours are missing
    fill(tmp_path, "BTCUSDT", kline_drop=slice(0, 36 * 60))
    rep = check_coverage(tmp_path, "BTCUSDT", START, END, LOOKBACK)
    assert not rep.ok
    assert rep.errors == [
        "BTCUSDT: um_klines_1m is badly incomplete: 3600 of 5760 minutes (62.5% < 95%), "
        "longest gap 2025-06-01 00:00 .. 2025-06-02 12:00 (1 d 12 h)"]
    assert "--datasets um_klines_1m" in rep.ingest_command
    # the same data passes when the lookback does not reach back that far
    assert check_coverage(tmp_path, "BTCUSDT", START, END, 0).ok


def test_a_gap_is_reported_with_its_length(tmp_path):
    fill(tmp_path, "BTCUSDT", kline_drop=slice(2 * 1440 + 600, 2 * 1440 + 645))
    rep = check_coverage(tmp_path, "BTCUSDT", START, END, LOOKBACK)
    assert rep.ok  # 45 of 5760 minutes missing: above min_coverage
    k = rep.get("um_klines_1m", "BTCUSDT")
    assert (k.present, k.gap_slots) == (5715, 45)
    assert k.gap_start == dt.datetime(2025, 6, 3, 10, 0)
    assert ("BTCUSDT: um_klines_1m has gaps (99.2% of minutes); longest 2025-06-03 10:00 .. "
            "2025-06-03 10:45 (45 min): gap bars are flagged and their returns are NULL"
            ) in rep.warnings
    assert "2025-06-03 10:00 .. 2025-06-03 10:45 (45 min)" in rep.render()


def test_missing_optional_data_warns_what_is_degraded(tmp_path):
    fill(tmp_path, "BTCUSDT", skip=("um_liquidations",))
    fill(tmp_path, "SOLUSDT", skip=("um_open_interest_5m", "um_liquidations", "spot_klines_1m",
                                    "um_mark_klines_1m"))
    rep = check_coverage(tmp_path, "BTC,SOL", START, END, LOOKBACK)
    assert rep.ok
    assert rep.warnings == [
        "BTCUSDT: no liquidations: liq_long_usd/liq_short_usd NULL; LIQUIDATION_CASCADE uses "
        "open-interest evidence only",
        "SOLUSDT: no open interest and no liquidations: no LIQUIDATION_CASCADE events",
        "SOLUSDT: no spot klines: basis_bps NULL",
        "SOLUSDT: no mark-price klines (optional; features v1 do not use them)",
    ]
    assert rep.optional_command == (
        "lifthouse ingest --symbols BTCUSDT,SOLUSDT --start 2025-06-01 --end 2025-06-05 "
        f"--datasets um_liquidations,um_open_interest_5m,spot_klines_1m --data-dir {tmp_path}")
    assert cli_main(["preflight", "--start", START, "--end", END, "--symbols", "BTC,SOL",
                     "--lookback-days", "2", "--data-dir", str(tmp_path)]) == 0


def test_funding_that_starts_late_is_incomplete(tmp_path):
    fill(tmp_path, "BTCUSDT", funding_from="2025-06-02 16:00")
    rep = check_coverage(tmp_path, "BTCUSDT", START, END, LOOKBACK)
    f = rep.get("um_funding_rate", "BTCUSDT")
    assert (f.present, f.expected, f.gap_slots) == (7, 12, 5)
    assert not rep.ok and "um_funding_rate is badly incomplete: 7 of 12 8h settlements" in rep.errors[0]


@pytest.mark.realdata
def test_real_open_interest_holes_are_found(tmp_path, real_data_dir):
    oi = pd.read_parquet(real_data_dir / "um_open_interest_5m" / "BTCUSDT.parquet")
    oi = oi[["timestamp", "sum_open_interest", "sum_open_interest_value"]]
    oi["timestamp"] = pd.to_datetime(oi["timestamp"], unit="ms")
    write_dataset(tmp_path, "um_open_interest_5m", "BTCUSDT", pa.Table.from_pandas(oi))
    rep = check_coverage(tmp_path, "BTCUSDT", "2025-04-15", "2025-04-16", 0)
    c = rep.get("um_open_interest_5m", "BTCUSDT")
    # README: holes 07:50-08:15 and 08:35-08:45 (last stamp before / first after)
    assert (c.expected, c.present) == (288, 283)
    assert c.gap_text() == "2025-04-15 07:55 .. 2025-04-15 08:15 (20 min)"


# --------------------------------------------------------------------------------------------
# a run at bar_minutes 5 (issue 33): 5m klines instead of 1m, counted in 5-minute slots


def fill_5m(data_dir, symbol: str, *, skip: tuple[str, ...] = (), kline_drop: slice | None = None
            ) -> None:
    """Four days of 5m perp and spot klines, plus the grain-free datasets of :func:`fill`."""
    if "um_klines_5m" not in skip:
        write_dataset(data_dir, "um_klines_5m", symbol, _klines(_grid("5min", kline_drop)))
    if "spot_klines_5m" not in skip:
        write_dataset(data_dir, "spot_klines_5m", symbol, _klines(_grid("5min")))
    fill(data_dir, symbol, skip=("um_klines_1m", "spot_klines_1m") + skip)


def test_five_minute_klines_are_counted_in_five_minute_slots(tmp_path, capsys):
    fill_5m(tmp_path, "BTCUSDT", kline_drop=slice(300, 309))  # 45 minutes on 2025-06-02
    rep = check_coverage(tmp_path, ["BTC"], START, END, LOOKBACK, bar_minutes=5)
    assert rep.ok, rep.render()
    k = rep.get("um_klines_5m", "BTCUSDT")
    assert (k.expected, k.present, k.gap_slots, k.unit) == (1152, 1143, 9, "5m slots")
    assert k.gap_text() == "2025-06-02 01:00 .. 2025-06-02 01:45 (45 min)"
    assert rep.get("spot_klines_5m", "BTCUSDT").ratio == 1.0
    assert {c.dataset for c in rep.coverage}.isdisjoint({"um_klines_1m", "spot_klines_1m"})
    assert rep.warnings == [
        "BTCUSDT: um_klines_5m has gaps (99.2% of 5m slots); longest 2025-06-02 01:00 .. "
        "2025-06-02 01:45 (45 min): gap bars are flagged and their returns are NULL"]
    # the same data at 1m: the 1m klines are missing
    one = check_coverage(tmp_path, ["BTC"], START, END, LOOKBACK)
    assert one.errors == ["BTCUSDT: no um_klines_1m in the window (required)"]
    assert cli_main(["preflight", "--start", START, "--end", END, "--symbols", "BTC",
                     "--lookback-days", str(LOOKBACK), "--data-dir", str(tmp_path),
                     "--bar-minutes", "5"]) == 0
    out = capsys.readouterr().out
    assert "(5m bars)" in out and "1143 / 1152 5m slots" in out


def test_missing_five_minute_klines_fail_with_the_5m_ingest_command(tmp_path):
    fill(tmp_path, "BTCUSDT")  # 1m klines only
    fill_5m(tmp_path, "ETHUSDT", skip=("spot_klines_5m",))
    rep = check_coverage(tmp_path, "BTC,ETH", START, END, LOOKBACK, bar_minutes=5)
    assert rep.errors == ["BTCUSDT: no um_klines_5m in the window (required)"]
    assert rep.ingest_command == (
        "lifthouse ingest --symbols BTCUSDT --start 2025-06-01 --end 2025-06-05 "
        f"--datasets um_klines_5m --data-dir {tmp_path}")
    assert "BTCUSDT: no spot klines: basis_bps NULL" in rep.warnings
    assert "ETHUSDT: no spot klines: basis_bps NULL" in rep.warnings
    assert rep.optional_command == (
        "lifthouse ingest --symbols BTCUSDT,ETHUSDT --start 2025-06-01 --end 2025-06-05 "
        f"--datasets spot_klines_5m --data-dir {tmp_path}")
    with pytest.raises(RawDataError, match="bar_minutes 3 is not supported"):
        check_coverage(tmp_path, "BTC", START, END, LOOKBACK, bar_minutes=3)
