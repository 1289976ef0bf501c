"""Pure parts of the ingest: archive plan, names, URLs, CSV variants (no network)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from lifthouse.data.ingest.download import FetchError, parse_checksum
from lifthouse.data.ingest.layout import make_archive, parse_datasets, parse_symbols, plan
from lifthouse.data.ingest.parse import read_archive
from lifthouse.data.schema import RawDataError

D = dt.date


def test_plan_uses_monthly_for_whole_ended_months_and_daily_for_the_rest():
    p = plan(["um_klines_1m"], ["BTCUSDT"], D(2025, 4, 29), D(2025, 6, 3), today=D(2025, 7, 1))
    paths = [a.path for a in p.archives]
    assert paths == [
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-04-29.zip",
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-04-30.zip",
        "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.zip",
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-06-01.zip",
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-06-02.zip",
    ]
    assert p.not_yet_published is None


def test_plan_current_month_is_daily_and_future_days_are_left_out():
    p = plan(["spot_klines_1m"], ["ETHUSDT"], D(2025, 6, 1), D(2025, 7, 1), today=D(2025, 6, 4))
    assert [a.period for a in p.archives] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    assert p.archives[0].path == "data/spot/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2025-06-01.zip"
    assert p.not_yet_published == (D(2025, 6, 4), D(2025, 7, 1))


def test_plan_monthly_only_daily_only_and_coin_m_names():
    p = plan(["um_funding_rate", "um_open_interest_5m", "um_liquidations", "um_mark_klines_1m",
              "um_premium_index_klines_1m"], ["BTCUSDT", "SOLUSDT"],
             D(2025, 5, 31), D(2025, 6, 1), today=D(2025, 7, 1))
    paths = {a.path for a in p.archives}
    assert "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.zip" in paths
    assert "data/futures/um/daily/metrics/SOLUSDT/SOLUSDT-metrics-2025-05-31.zip" in paths
    assert ("data/futures/cm/daily/liquidationSnapshot/BTCUSD_PERP/"
            "BTCUSD_PERP-liquidationSnapshot-2025-05-31.zip") in paths
    assert ("data/futures/um/daily/markPriceKlines/SOLUSDT/1m/SOLUSDT-1m-2025-05-31.zip") in paths
    assert ("data/futures/um/daily/premiumIndexKlines/BTCUSDT/1m/BTCUSDT-1m-2025-05-31.zip") in paths
    liq = [a for a in p.archives if a.dataset == "um_liquidations"]
    assert {a.symbol for a in liq} == {"BTCUSDT", "SOLUSDT"}  # raw partition = the USDT symbol
    assert len(p.archives) == 10


def test_plan_rejects_an_empty_window():
    with pytest.raises(RawDataError, match="exclusive"):
        plan(["um_klines_1m"], ["BTCUSDT"], D(2025, 5, 2), D(2025, 5, 2), today=D(2025, 7, 1))


def test_dataset_and_symbol_names():
    assert parse_datasets("klines,funding,oi") == ["um_klines_1m", "um_funding_rate",
                                                   "um_open_interest_5m"]
    assert len(parse_datasets("all")) == 7
    with pytest.raises(RawDataError, match="unknown dataset 'trades'"):
        parse_datasets("trades")
    assert parse_symbols("btc, ETHUSDT,sol") == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_checksum_file_parsing():
    h = "a" * 64
    assert parse_checksum(f"{h}  X.zip\n", "X.zip", "u") == h
    with pytest.raises(FetchError, match="CHECKSUM names 'Y.zip'"):
        parse_checksum(f"{h}  Y.zip", "X.zip", "u")
    with pytest.raises(FetchError, match="not a CHECKSUM file"):
        parse_checksum("<html>oops</html>", "X.zip", "u")


def _zip(path: Path, name: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text)
    return path


KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                "taker_buy_volume,taker_buy_quote_volume,ignore\n")


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("unit", [1_000, 1_000_000])
def test_kline_csv_with_and_without_header_in_ms_and_us(tmp_path, header, unit):
    a = make_archive("spot_klines_1m", "BTCUSDT", "daily", "2025-01-02")
    t0 = 1735776000  # 2025-01-02 00:00 UTC in seconds
    rows = "".join(f"{(t0 + 60 * i) * unit},100.5,101,99.5,100.25,1.5,"
                   f"{(t0 + 60 * i + 59) * unit + unit - 1},150.375,7,0.5,50.125,0\n"
                   for i in range(3))
    z = _zip(tmp_path / a.name, a.csv_name, (KLINE_HEADER if header else "") + rows)
    t = read_archive(z, a)
    assert t.num_rows == 3
    assert str(t.column("open_time")[1].as_py()) == "2025-01-02 00:01:00"
    assert t.column("count").to_pylist() == [7, 7, 7]
    assert t.column("close").to_pylist() == [100.25] * 3


def test_wrong_header_and_wrong_member_and_wrong_day_are_refused(tmp_path):
    a = make_archive("um_klines_1m", "BTCUSDT", "daily", "2025-01-02")
    z = _zip(tmp_path / "a.zip", a.csv_name, "calc_time,funding_interval_hours,last_funding_rate\n")
    with pytest.raises(RawDataError, match="3 columns in its first row, expected 12"):
        read_archive(z, a)
    z = _zip(tmp_path / "b.zip", "ETHUSDT-1m-2025-01-02.csv", KLINE_HEADER)
    with pytest.raises(RawDataError, match=r"holds \['ETHUSDT-1m-2025-01-02.csv'\], expected "
                                           r"exactly BTCUSDT-1m-2025-01-02.csv"):
        read_archive(z, a)
    # a row of 2025-01-03 inside the 2025-01-02 file
    z = _zip(tmp_path / "c.zip", a.csv_name,
             "1735862400000,1,1,1,1,1,1735862459999,1,1,1,1,0\n")
    with pytest.raises(RawDataError, match="lie outside 2025-01-02"):
        read_archive(z, a)


def test_liquidation_snapshot_units_and_duplicates(tmp_path):
    a = make_archive("um_liquidations", "ETHUSDT", "daily", "2024-01-02")
    assert a.archive_symbol == "ETHUSD_PERP"
    hdr = ("time,side,order_type,time_in_force,original_quantity,price,average_price,"
           "order_status,last_fill_quantity,accumulated_fill_quantity\n")
    row = "1704153600123,SELL,LIMIT,IOC,7,2300.5,2310.25,FILLED,6,7\n"
    z = _zip(tmp_path / a.name, a.csv_name, hdr + row + row +
             "1704153700000,BUY,LIMIT,IOC,3,2320,0,EXPIRED,0,0\n")
    t = read_archive(z, a).to_pylist()
    assert len(t) == 2  # the exact duplicate is dropped
    assert t[0]["price"] == 2310.25 and t[0]["quantity"] == 7 and t[0]["notional_usd"] == 70.0
    assert t[0]["contract_usd"] == 10.0 and t[0]["side"] == "SELL"
    assert t[1]["price"] == 2320 and t[1]["quantity"] == 3  # unfilled: order price, quantity


# --------------------------------------------------------------------------------------------
# 5m klines (issue 33)


def test_plan_of_five_minute_klines_uses_the_5m_folders():
    p = plan(["um_klines_5m", "spot_klines_5m"], ["BTCUSDT"], D(2025, 4, 30), D(2025, 6, 2),
             today=D(2025, 7, 1))
    assert [a.path for a in p.archives] == [
        "data/futures/um/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-04-30.zip",
        "data/futures/um/monthly/klines/BTCUSDT/5m/BTCUSDT-5m-2025-05.zip",
        "data/futures/um/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip",
        "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-04-30.zip",
        "data/spot/monthly/klines/BTCUSDT/5m/BTCUSDT-5m-2025-05.zip",
        "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip",
    ]
    assert p.archives[1].csv_name == "BTCUSDT-5m-2025-05.csv"


def test_dataset_names_at_five_minutes():
    # klines / perp / spot mean the klines of the grain asked for
    assert parse_datasets("klines,spot,funding", bar_minutes=5) == [
        "um_klines_5m", "spot_klines_5m", "um_funding_rate"]
    assert parse_datasets("perp", bar_minutes=1) == ["um_klines_1m"]
    # the grain-named and full names mean one dataset whatever --bar-minutes says
    assert parse_datasets("klines5m,spot5m,perp1m,um_klines_5m") == [
        "um_klines_5m", "spot_klines_5m", "um_klines_1m"]
    assert parse_datasets("spot1m", bar_minutes=5) == ["spot_klines_1m"]
    # "all": every dataset, with the klines of the grain asked for only
    assert parse_datasets("all") == ["um_klines_1m", "spot_klines_1m", "um_mark_klines_1m",
                                     "um_premium_index_klines_1m", "um_funding_rate",
                                     "um_open_interest_5m", "um_liquidations"]
    assert parse_datasets(None, bar_minutes=5)[:2] == ["um_klines_5m", "spot_klines_5m"]
    assert "um_klines_1m" not in parse_datasets("all", bar_minutes=5)
    with pytest.raises(RawDataError, match="bar_minutes 15 is not supported"):
        parse_datasets("klines", bar_minutes=15)


def test_a_five_minute_kline_csv_keeps_every_column(tmp_path):
    a = make_archive("um_klines_5m", "ETHUSDT", "daily", "2025-01-02")
    t0 = 1735776000_000
    rows = "".join(f"{t0 + 300_000 * i},3350.5,3351,3349.5,3350.25,12.5,"
                   f"{t0 + 300_000 * i + 299_999},41878.125,70,6.25,20939.06,0\n" for i in range(3))
    t = read_archive(_zip(tmp_path / a.name, a.csv_name, KLINE_HEADER + rows), a)
    assert t.column_names == ["open_time", "open", "high", "low", "close", "volume",
                              "quote_volume", "count", "taker_buy_volume",
                              "taker_buy_quote_volume"]
    assert str(t.column("open_time")[2].as_py()) == "2025-01-02 00:10:00"
    assert t.column("count").to_pylist() == [70] * 3
    assert t.column("taker_buy_quote_volume").to_pylist() == [20939.06] * 3
