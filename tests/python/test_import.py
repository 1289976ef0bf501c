"""`lifthouse import`: formats, idempotency, and bad input that must fail loudly and change nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.importer import import_files, symbol_from_filename
from lifthouse.data.raw import read_dataset
from lifthouse.data.schema import RawDataError

T0 = pd.Timestamp("2025-01-31 23:50:00")  # straddles a month boundary on purpose


def bars(n: int = 20, start: pd.Timestamp = T0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    t = pd.date_range(start, periods=n, freq="1min")
    return pd.DataFrame({
        "open_time": t.as_unit("ms").asi8.astype("int64"),  # epoch ms, like Binance
        "open": open_, "high": high, "low": low, "close": close,
        "volume": rng.uniform(1, 5, n),
    })


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under root (to prove nothing changed)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A raw layer that already holds good data (so we can prove bad input doesn't touch it)."""
    d = tmp_path / "raw"
    good = write_parquet(bars(), tmp_path / "in" / "BTCUSDT.parquet")
    import_files([good], "um_klines_1m", data_dir=d, log=lambda *_: None)
    return d


def test_import_writes_month_partitions_in_utc_microseconds(raw: Path):
    files = sorted((raw / "um_klines_1m" / "symbol=BTCUSDT").glob("*.parquet"))
    assert [f.name for f in files] == ["2025-01.parquet", "2025-02.parquet"]
    table = read_dataset(raw, "um_klines_1m", "BTCUSDT")
    assert table.schema.field("open_time").type == pa.timestamp("us")
    assert table.num_rows == 20
    assert pd.Timestamp(table.column("open_time")[0].as_py()) == T0
    # optional columns exist and are NULL for OHLCV-only input
    assert table.column("taker_buy_volume").null_count == 20


def test_reimport_is_a_no_op(raw: Path, tmp_path: Path):
    before = {p: p.stat().st_mtime_ns for p in raw.rglob("*.parquet")}
    digest = tree_digest(raw)
    again = write_parquet(bars(), tmp_path / "again" / "BTCUSDT.parquet")
    (rep,) = import_files([again], "um_klines_1m", data_dir=raw, log=lambda *_: None)
    assert rep.rows_added == 0 and rep.files_written == []
    assert tree_digest(raw) == digest
    assert {p: p.stat().st_mtime_ns for p in raw.rglob("*.parquet")} == before


def test_import_appends_new_rows_and_keeps_old(raw: Path, tmp_path: Path):
    extended = bars(30)
    extended.iloc[:20] = bars().to_numpy()  # first 20 identical to what is stored
    more = write_parquet(extended, tmp_path / "more" / "BTCUSDT.parquet")
    (rep,) = import_files([more], "um_klines_1m", data_dir=raw, log=lambda *_: None)
    assert rep.rows_added == 10
    assert read_dataset(raw, "um_klines_1m", "BTCUSDT").num_rows == 30


def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, dict, str]]:
    cases = {}
    df = bars()
    dup = pd.concat([df.iloc[:5], df.iloc[4:5], df.iloc[5:]])
    cases["duplicate bars"] = (write_parquet(dup, tmp_path / "dup" / "BTCUSDT.parquet"), {},
                               "duplicate open_time")
    ooo = df.iloc[[0, 1, 3, 2, 4]]
    cases["out-of-order bars"] = (write_parquet(ooo, tmp_path / "ooo" / "BTCUSDT.parquet"), {},
                                  "out of order")
    hl = df.copy()
    hl.loc[7, "high"] = hl.loc[7, "low"] * 0.99
    cases["high < low"] = (write_parquet(hl, tmp_path / "hl" / "BTCUSDT.parquet"), {}, "high < low")
    unknown = df.rename(columns={"open": "o", "close": "c"})
    cases["unknown layout"] = (write_parquet(unknown, tmp_path / "unk" / "BTCUSDT.parquet"), {},
                               "cannot map column")
    trunc = write_parquet(df, tmp_path / "trunc" / "BTCUSDT.parquet")
    data = trunc.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    cases["truncated parquet"] = (trunc, {}, "truncated or damaged")
    secs = df.copy()
    secs["open_time"] = secs["open_time"] // 1000
    cases["naive seconds"] = (write_parquet(secs, tmp_path / "secs" / "BTCUSDT.parquet"), {},
                              "epoch SECONDS")
    naive = df.copy()
    naive["open_time"] = pd.to_datetime(naive["open_time"], unit="ms")  # no time zone
    cases["naive datetimes"] = (write_parquet(naive, tmp_path / "naive" / "BTCUSDT.parquet"), {},
                                "without a time zone")
    return cases


@pytest.mark.parametrize("case", ["duplicate bars", "out-of-order bars", "high < low",
                                  "unknown layout", "truncated parquet", "naive seconds",
                                  "naive datetimes"])
def test_bad_input_is_named_and_changes_nothing(raw: Path, tmp_path: Path, case: str):
    path, kwargs, expected = _bad_cases(tmp_path)[case]
    digest = tree_digest(raw)
    with pytest.raises(RawDataError) as err:
        import_files([path], "um_klines_1m", data_dir=raw, log=lambda *_: None, **kwargs)
    msg = str(err.value)
    assert str(path) in msg, msg          # names the file
    assert expected in msg, msg           # names the problem
    assert "fix:" in msg or "re-run" in msg or "pass" in msg, msg  # says what to do
    assert tree_digest(raw) == digest     # nothing already stored changed


def test_bad_row_number_is_reported(tmp_path: Path):
    path, _, _ = _bad_cases(tmp_path)["high < low"]
    with pytest.raises(RawDataError) as err:
        import_files([path], "um_klines_1m", data_dir=tmp_path / "r", log=lambda *_: None)
    assert err.value.row == 8  # 1-based row of the bad bar


def test_a_bad_file_among_good_ones_writes_nothing(tmp_path: Path):
    good = write_parquet(bars(), tmp_path / "a" / "ETHUSDT.parquet")
    bad, _, _ = _bad_cases(tmp_path)["high < low"]
    d = tmp_path / "fresh"
    with pytest.raises(RawDataError):
        import_files([good, bad], "um_klines_1m", data_dir=d, log=lambda *_: None)
    assert tree_digest(d) == {}


def test_explicit_flags_accept_what_was_ambiguous(tmp_path: Path):
    cases = _bad_cases(tmp_path)
    d = tmp_path / "r"
    import_files([cases["naive seconds"][0]], "um_klines_1m", data_dir=d, time_unit="s",
                 log=lambda *_: None)
    import_files([cases["out-of-order bars"][0]], "um_klines_1m", data_dir=tmp_path / "r2",
                 allow_unsorted=True, log=lambda *_: None)
    import_files([cases["naive datetimes"][0]], "um_klines_1m", data_dir=tmp_path / "r3",
                 naive_tz="UTC", log=lambda *_: None)
    a = read_dataset(d, "um_klines_1m", "BTCUSDT")
    c = read_dataset(tmp_path / "r3", "um_klines_1m", "BTCUSDT")
    assert a.column("open_time").equals(c.column("open_time"))
    sorted_ = read_dataset(tmp_path / "r2", "um_klines_1m", "BTCUSDT").column("open_time").to_pylist()
    assert sorted_ == sorted(sorted_)


def test_conflicting_rows_need_replace(raw: Path, tmp_path: Path):
    changed = bars()
    changed.loc[3, "close"] = changed.loc[3, "close"] * 1.0001
    changed.loc[3, "high"] = max(changed.loc[3, "high"], changed.loc[3, "close"])
    path = write_parquet(changed, tmp_path / "chg" / "BTCUSDT.parquet")
    digest = tree_digest(raw)
    with pytest.raises(RawDataError, match="conflict"):
        import_files([path], "um_klines_1m", data_dir=raw, log=lambda *_: None)
    assert tree_digest(raw) == digest
    (rep,) = import_files([path], "um_klines_1m", data_dir=raw, replace=True, log=lambda *_: None)
    assert rep.rows_replaced == 1
    stored = read_dataset(raw, "um_klines_1m", "BTCUSDT").to_pandas()
    assert stored.loc[3, "close"] == changed.loc[3, "close"]


def test_freqtrade_feather_with_utc_dates(tmp_path: Path):
    df = bars()
    ft = pd.DataFrame({
        "date": pd.to_datetime(df["open_time"], unit="ms", utc=True),
        "open": df["open"], "high": df["high"], "low": df["low"], "close": df["close"],
        "volume": df["volume"],
    })
    path = tmp_path / "BTC_USDT_USDT-1m-futures.feather"
    feather.write_feather(ft, path)
    assert symbol_from_filename(path) == "BTCUSDT"
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", log=lambda *_: None)
    got = read_dataset(tmp_path / "r", "um_klines_1m", "BTCUSDT").to_pandas()
    assert got["open_time"].iloc[0] == T0
    np.testing.assert_array_equal(got["close"].to_numpy(), df["close"].to_numpy())


def test_ccxt_csv_with_ms_timestamps(tmp_path: Path):
    df = bars().rename(columns={"open_time": "timestamp"})
    path = tmp_path / "ETH-USDT.csv"
    df.to_csv(path, index=False)
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", symbol="ETH",
                 log=lambda *_: None)
    assert read_dataset(tmp_path / "r", "um_klines_1m", "ETHUSDT").num_rows == 20


def test_coin_m_liquidations_in_contracts(tmp_path: Path):
    liq = pd.DataFrame({"ts": [1704067200000, 1704067260000], "side": ["SELL", "BUY"],
                        "price": [42000.0, 42100.0], "qty_contracts": [3.0, 5.0]})
    path = write_parquet(liq, tmp_path / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match="contract-usd"):
        import_files([path], "um_liquidations", data_dir=tmp_path / "r", log=lambda *_: None)
    import_files([path], "um_liquidations", data_dir=tmp_path / "r", contract_usd=100,
                 log=lambda *_: None)
    got = read_dataset(tmp_path / "r", "um_liquidations", "BTCUSDT").to_pandas()
    assert got["notional_usd"].tolist() == [300.0, 500.0]
    assert got["contract_usd"].tolist() == [100.0, 100.0]


def test_cli_reports_error_and_exit_code(tmp_path: Path, capsys):
    path, _, _ = _bad_cases(tmp_path)["high < low"]
    rc = cli_main(["import", "--dataset", "um_klines_1m", "--data-dir", str(tmp_path / "r"),
                   str(path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "high < low" in err and str(path) in err


@pytest.mark.realdata
def test_real_data_imports(real_data_dir: Path, tmp_path: Path):
    d = tmp_path / "raw"
    files = sorted((real_data_dir / "um_klines_1m").glob("*.parquet"))
    import_files(files, "um_klines_1m", data_dir=d, log=lambda *_: None)
    for f in files:
        src = pq.read_table(f)
        got = read_dataset(d, "um_klines_1m", f.stem)
        assert got.num_rows == src.num_rows
        ms = got.column("open_time").cast(pa.int64()).to_numpy() // 1000
        np.testing.assert_array_equal(ms, src.column("open_time").to_numpy())
        np.testing.assert_array_equal(got.column("close").to_numpy(), src.column("close").to_numpy())


# --------------------------------------------------------------------------------------------
# a symbol column is checked, never dropped unseen (issue 35, item 2)


def _with_symbols(symbols: list[str]) -> pd.DataFrame:
    df = bars(len(symbols))
    df["symbol"] = symbols
    return df


def test_a_symbol_column_holding_two_symbols_is_refused_and_nothing_is_written(raw: Path,
                                                                                tmp_path: Path):
    before = tree_digest(raw)
    mixed = write_parquet(_with_symbols(["BTCUSDT"] * 12 + ["ETHUSDT"] * 8),
                          tmp_path / "in" / "BTCUSDT-1m-2025-02.parquet")
    with pytest.raises(RawDataError, match=r"holds 2 symbols \(BTCUSDT: 12 rows, ETHUSDT: 8 "
                                           r"rows\)") as exc:
        import_files([mixed], "um_klines_1m", data_dir=raw, log=lambda *_: None)
    assert "--split-by-symbol" in str(exc.value) and str(mixed) in str(exc.value)
    # --symbol does not make a mixed file one symbol either
    with pytest.raises(RawDataError, match="holds 2 symbols"):
        import_files([mixed], "um_klines_1m", data_dir=raw, symbol="BTC", log=lambda *_: None)
    assert tree_digest(raw) == before


def test_a_symbol_column_that_contradicts_the_name_or_symbol_flag_is_refused(raw: Path,
                                                                              tmp_path: Path):
    before = tree_digest(raw)
    eth = write_parquet(_with_symbols(["ETHUSDT"] * 20), tmp_path / "in" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match=r"row 1: the 'symbol' column says ETHUSDT, but the "
                                           r"file name \(BTCUSDT.parquet\) stores the file as "
                                           r"BTCUSDT") as exc:
        import_files([eth], "um_klines_1m", data_dir=raw, log=lambda *_: None)
    assert "--symbol ETHUSDT" in str(exc.value)
    with pytest.raises(RawDataError, match="says ETHUSDT, but --symbol SOL stores"):
        import_files([eth], "um_klines_1m", data_dir=raw, symbol="SOL", log=lambda *_: None)
    assert tree_digest(raw) == before
    # the column agrees with --symbol: stored as the column says
    import_files([eth], "um_klines_1m", data_dir=raw, symbol="ETH", log=lambda *_: None)
    assert read_dataset(raw, "um_klines_1m", "ETHUSDT").num_rows == 20


def test_a_symbol_column_names_the_symbol_of_a_file_whose_name_states_none(tmp_path: Path):
    path = write_parquet(_with_symbols(["sol-usdt"] * 20), tmp_path / "in" / "mydata.parquet")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", log=lambda *_: None)
    assert read_dataset(tmp_path / "r", "um_klines_1m", "SOLUSDT").num_rows == 20


def test_split_by_symbol_stores_each_symbols_rows_under_its_own_symbol(tmp_path: Path):
    df = pd.concat([_with_symbols(["BTCUSDT"] * 20),
                    bars(20, seed=1).assign(symbol="ETHUSDT")], ignore_index=True)
    path = write_parquet(df, tmp_path / "in" / "binance_export.parquet")
    with pytest.raises(RawDataError, match="contradicts"):
        import_files([path], "um_klines_1m", data_dir=tmp_path / "r", symbol="BTC",
                     split_by_symbol=True, log=lambda *_: None)
    rc = cli_main(["import", "--data-dir", str(tmp_path / "r"), "--dataset", "um_klines_1m",
                   "--split-by-symbol", str(path)])
    assert rc == 0
    for sym, part in df.groupby("symbol"):
        got = read_dataset(tmp_path / "r", "um_klines_1m", sym).to_pandas()
        np.testing.assert_array_equal(got["close"].to_numpy(), part["close"].to_numpy())


def test_an_empty_symbol_value_is_named_by_its_row(tmp_path: Path):
    path = write_parquet(_with_symbols(["BTCUSDT"] * 5 + [None] + ["BTCUSDT"] * 14),
                         tmp_path / "in" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match=r"row 6: the symbol column 'symbol' is empty"):
        import_files([path], "um_klines_1m", data_dir=tmp_path / "r", log=lambda *_: None)
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------------------------
# 5m klines (issue 33): um_klines_5m imports 5m bars; a 1m file offered as 5m, or a 5m file
# offered as 1m, is refused naming the dataset it fits, and nothing is written


def five_minute_bars(n: int = 24) -> pd.DataFrame:
    """Binance-style 5m klines (epoch ms), straddling a month boundary."""
    df = bars(n)
    df["open_time"] = int(T0.value // 1_000_000) + 300_000 * np.arange(n)
    return df


def test_a_five_minute_file_imports_as_um_klines_5m(tmp_path: Path):
    df = five_minute_bars()
    path = write_parquet(df, tmp_path / "in" / "BTCUSDT-5m-2025-01.parquet")
    rc = cli_main(["import", "--dataset", "um_klines_5m", "--data-dir", str(tmp_path / "r"),
                   str(path)])
    assert rc == 0
    got = read_dataset(tmp_path / "r", "um_klines_5m", "BTCUSDT").to_pandas()
    assert len(got) == 24
    assert got["open_time"].iloc[0] == T0 and got["open_time"].iloc[1] == T0 + pd.Timedelta("5min")
    np.testing.assert_array_equal(got["close"].to_numpy(), df["close"].to_numpy())
    assert sorted(p.name for p in (tmp_path / "r" / "um_klines_5m" / "symbol=BTCUSDT").iterdir()) \
        == ["2025-01.parquet", "2025-02.parquet"]


@pytest.mark.parametrize("offered,fits,frame", [
    ("um_klines_5m", "um_klines_1m", lambda: bars(20)),
    ("um_klines_1m", "um_klines_5m", lambda: five_minute_bars()),
    ("spot_klines_5m", "spot_klines_1m", lambda: bars(20)),
    ("spot_klines_1m", "spot_klines_5m", lambda: five_minute_bars()),
])
def test_klines_of_the_other_grain_are_refused_naming_the_right_dataset(raw: Path, tmp_path: Path,
                                                                        offered, fits, frame):
    path = write_parquet(frame(), tmp_path / "in" / "BTCUSDT.parquet")
    before = tree_digest(raw)
    with pytest.raises(RawDataError) as err:
        import_files([path], offered, data_dir=raw, log=lambda *_: None)
    msg = str(err.value)
    assert str(path) in msg and f"these are {fits} bars" in msg, msg
    assert f"fix: import them with --dataset {fits}" in msg, msg
    assert tree_digest(raw) == before


def test_the_cli_names_the_fix_for_one_minute_bars_offered_as_five_minute(tmp_path: Path, capsys):
    path = write_parquet(bars(20), tmp_path / "in" / "ETHUSDT.parquet")
    rc = cli_main(["import", "--dataset", "um_klines_5m", "--data-dir", str(tmp_path / "r"),
                   str(path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "rows are typically 1 min apart, but um_klines_5m has a 300 s grain" in err
    assert "--dataset um_klines_1m" in err
    assert tree_digest(tmp_path / "r") == {}
