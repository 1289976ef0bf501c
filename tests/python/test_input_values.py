"""Values that every older check passed (issue 35, items 3, 4 and 8): non-finite and impossible
numbers, funding in percent or off its settlement hours, and valid-OHLC outliers (a bar x1000,
stamps in the future, generic file names, symbols of other quotes, liquidations stored twice, a
negative sample lookback). Each is refused naming the file, the row and the fix, and a refused
write leaves the raw layer byte-identical; valid input (the real files in ../shared/data and the
generated sample) still goes in as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.importer import import_files, symbol_from_filename
from lifthouse.data.raw import read_dataset, write_dataset
from lifthouse.data.schema import DATASETS, RawDataError
from lifthouse.data.symbols import normalize_symbol
from lifthouse.data.validate import validate

T0 = pd.Timestamp("2025-01-31 23:50:00")  # straddles a month boundary on purpose
MS = 1_000_000  # ns per ms
QUIET = {"log": lambda *_: None}


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under root (to prove nothing changed)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_table(columns: dict, path: Path) -> Path:
    """Write columns as given: NaN stays IEEE NaN (pyarrow, DuckDB and polars write it so),
    None becomes NULL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: (pa.array(v) if not isinstance(v, np.ndarray) else pa.array(v, from_pandas=False))
              for k, v in columns.items()}
    pq.write_table(pa.table(arrays), path)
    return path


def klines(n: int = 40, start: pd.Timestamp = T0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[100.0, close[:-1]]
    return {
        "open_time": (pd.date_range(start, periods=n, freq="1min").as_unit("ms").asi8
                      .astype("int64")),
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.uniform(1, 5, n),
    }


def funding(n: int = 30, start: str = "2025-01-20", scale: float = 1.0, seed: int = 0,
            every: str = "8h") -> dict[str, np.ndarray]:
    """Funding like the real series: mostly 1 bp, some lower, a few negative."""
    rng = np.random.default_rng(seed)
    rate = np.where(rng.uniform(size=n) < 0.4, 0.0001, rng.normal(5e-5, 4e-5, n))
    return {"funding_time": (pd.date_range(start, periods=n, freq=every).as_unit("ms").asi8
                             .astype("int64")),
            "funding_rate": rate * scale}


def open_interest(n: int = 30) -> dict[str, np.ndarray]:
    t = pd.date_range("2025-01-31 22:00", periods=n, freq="5min").as_unit("ms").asi8
    oi = np.linspace(80_000, 81_000, n)
    return {"timestamp": t.astype("int64"), "sum_open_interest": oi,
            "sum_open_interest_value": oi * 100_000.0}


def liquidations() -> dict:
    t = np.array([1704067200123, 1704067260456, 1704067320789, 1704070000000], dtype="int64")
    return {"time": t, "side": ["SELL", "BUY", "SELL", "SELL"],
            "price": np.array([42000.5, 42100.0, 41950.25, 41800.0]),
            "quantity": np.array([0.5, 0.25, 1.125, 2.0])}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A raw layer that holds good data of every dataset the tests offer bad rows for."""
    d = tmp_path / "raw"
    src = tmp_path / "good"
    import_files([write_table(klines(), src / "k" / "BTCUSDT.parquet")], "um_klines_1m",
                 data_dir=d, **QUIET)
    import_files([write_table(funding(), src / "f" / "BTCUSDT.parquet")], "um_funding_rate",
                 data_dir=d, **QUIET)
    import_files([write_table(open_interest(), src / "o" / "BTCUSDT.parquet")],
                 "um_open_interest_5m", data_dir=d, **QUIET)
    import_files([write_table(liquidations(), src / "l" / "BTCUSDT.parquet")], "um_liquidations",
                 data_dir=d, **QUIET)
    return d


def refused(raw: Path, paths: list[Path], dataset: str, *, match: str, row: int | None = None,
            fix: str | None = None, **kwargs) -> RawDataError:
    """Import must fail naming the file, the row, the problem and the fix, and change nothing."""
    before = tree_digest(raw)
    with pytest.raises(RawDataError) as err:
        import_files(paths, dataset, data_dir=raw, **QUIET, **kwargs)
    msg = str(err.value)
    assert any(str(p) in msg for p in paths), msg
    assert match in msg, msg
    if row is not None:
        assert err.value.row == row and f", row {row}: " in msg, msg
    assert "fix:" in msg, msg
    if fix is not None:
        assert fix in msg, msg
    assert tree_digest(raw) == before
    return err.value


# --------------------------------------------------------------------------------------------
# item 3: non-finite and impossible values


@pytest.mark.parametrize("column,value,what", [
    ("close", np.nan, "is not a number (IEEE NaN)"),
    ("high", np.inf, "is infinite"),
    ("low", -np.inf, "is infinite"),
    ("volume", np.nan, "is not a number (IEEE NaN)"),
    ("volume", np.inf, "is infinite"),
    ("volume", 1e300, "is not a plausible"),
])
def test_non_finite_and_absurd_kline_values_are_refused(raw: Path, tmp_path: Path, column, value,
                                                        what):
    k = klines()
    k[column] = k[column].copy()
    k[column][6] = value
    path = write_table(k, tmp_path / "in" / "BTCUSDT.parquet")
    assert pq.read_table(path).column(column).null_count == 0  # NaN, not NULL
    refused(raw, [path], "um_klines_1m", match=f"{column} ", row=7)
    refused(raw, [path], "um_klines_1m", match=what, row=7)


def test_nan_as_duckdb_writes_it_is_refused(raw: Path, tmp_path: Path):
    df = pd.DataFrame(klines())  # noqa: F841 (read by DuckDB below)
    path = tmp_path / "in" / "BTCUSDT.parquet"
    path.parent.mkdir(parents=True)
    duckdb.sql(f"""copy (select open_time, open, high, low,
                         case when row_number() over () = 9 then 'NaN'::double else close end
                           as close, volume from df order by open_time)
                   to '{path}' (format parquet)""")
    assert np.isnan(pq.read_table(path).column("close")[8].as_py())
    refused(raw, [path], "um_klines_1m", match="close nan is not a number (IEEE NaN)", row=9,
            fix="never NaN")


def test_nan_as_polars_writes_it_is_refused(raw: Path, tmp_path: Path):
    pl = pytest.importorskip("polars")
    k = klines()
    k["close"][3] = np.nan
    path = tmp_path / "in" / "BTCUSDT.parquet"
    path.parent.mkdir(parents=True)
    pl.DataFrame(k).write_parquet(path)
    refused(raw, [path], "um_klines_1m", match="is not a number", row=4)


def test_inf_in_a_csv_is_refused(raw: Path, tmp_path: Path):
    df = pd.DataFrame(klines())
    df["volume"] = df["volume"].astype(object)
    df.loc[2, "volume"] = "inf"
    path = tmp_path / "in" / "BTCUSDT.csv"
    path.parent.mkdir(parents=True)
    df.to_csv(path, index=False)
    refused(raw, [path], "um_klines_1m", match="volume inf is infinite", row=3)


@pytest.mark.parametrize("value,what", [(np.nan, "is not a number"), (np.inf, "is infinite"),
                                        (-np.inf, "is infinite")])
def test_non_finite_funding_is_refused(raw: Path, tmp_path: Path, value, what):
    f = funding()
    f["funding_rate"][4] = value
    path = write_table(f, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_funding_rate", match=f"funding_rate {value:g} {what}", row=5)


@pytest.mark.parametrize("column,value,what", [
    ("sum_open_interest", np.nan, "is not a number"),
    ("sum_open_interest", np.inf, "is infinite"),
    ("sum_open_interest", -12.5, "-12.5 is negative"),
    ("sum_open_interest_value", -1.0, "is negative"),
    ("sum_open_interest_value", 1e300, "is not a plausible"),
])
def test_impossible_open_interest_is_refused(raw: Path, tmp_path: Path, column, value, what):
    o = open_interest()
    o[column][10] = value
    path = write_table(o, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_open_interest_5m", match=f"{column} ", row=11)
    refused(raw, [path], "um_open_interest_5m", match=what, row=11)


@pytest.mark.parametrize("column,value,what", [
    ("quantity", -0.5, "quantity -0.5 is not positive"),
    ("quantity", 0.0, "quantity 0.0 is not positive"),
    ("price", 0.0, "price 0.0 is not positive"),
    ("price", np.nan, "price nan is not a number"),
    ("quantity", np.inf, "quantity inf is infinite"),
])
def test_impossible_liquidations_are_refused(raw: Path, tmp_path: Path, column, value, what):
    liq = liquidations()
    liq["time"] = liq["time"] + 86_400_000  # new rows, not stored ones
    liq[column][2] = value
    path = write_table(liq, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_liquidations", match=what, row=3, fix="fix or drop those rows")


def test_every_writer_refuses_nan_not_only_import(raw: Path):
    """ingest and sample write through raw.write_dataset, which runs the same checks."""
    table = pa.table({"funding_time": pa.array(pd.date_range("2025-03-01", periods=3, freq="8h")
                                               .as_unit("us")),
                      "funding_rate": pa.array([1e-4, float("nan"), 1e-4], from_pandas=False)})
    before = tree_digest(raw)
    for origin in ("ingest", "import"):
        with pytest.raises(RawDataError, match="row 2: funding_rate nan is not a number"):
            write_dataset(raw, "um_funding_rate", "BTCUSDT", table, source="archive.zip",
                          origin=origin)
    assert tree_digest(raw) == before


def test_null_in_an_optional_column_is_still_accepted(tmp_path: Path):
    k = klines()
    k["quote_volume"] = [None if i == 3 else 1e6 for i in range(40)]
    path = write_table(k, tmp_path / "in" / "BTCUSDT.parquet")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", **QUIET)
    got = read_dataset(tmp_path / "r", "um_klines_1m", "BTCUSDT")
    assert got.column("quote_volume").null_count == 1


# --------------------------------------------------------------------------------------------
# item 4: funding in percent (or bps) and stamps off the settlement hours


def test_funding_in_percent_is_refused_naming_the_unit_and_flags(raw: Path, tmp_path: Path):
    path = write_table(funding(scale=100.0), tmp_path / "in" / "BTCUSDT.parquet")
    err = refused(raw, [path], "um_funding_rate", match="funding_rate looks like percent",
                  fix="--funding-unit percent")
    assert "--allow-any-funding" in str(err)


def test_funding_unit_percent_stores_decimals(tmp_path: Path):
    f = funding()
    path = write_table({**f, "funding_rate": f["funding_rate"] * 100.0},
                       tmp_path / "in" / "BTCUSDT.parquet")
    rc = cli_main(["import", "--data-dir", str(tmp_path / "r"), "--dataset", "um_funding_rate",
                   "--funding-unit", "percent", str(path)])
    assert rc == 0
    got = read_dataset(tmp_path / "r", "um_funding_rate", "BTCUSDT").column("funding_rate")
    np.testing.assert_allclose(got.to_numpy(), f["funding_rate"], rtol=1e-12)


def test_allow_any_funding_stores_rates_as_given(tmp_path: Path):
    f = funding(scale=100.0)
    path = write_table(f, tmp_path / "in" / "BTCUSDT.parquet")
    rc = cli_main(["import", "--data-dir", str(tmp_path / "r"), "--dataset", "um_funding_rate",
                   "--allow-any-funding", str(path)])
    assert rc == 0
    got = read_dataset(tmp_path / "r", "um_funding_rate", "BTCUSDT").column("funding_rate")
    np.testing.assert_array_equal(got.to_numpy(), f["funding_rate"])


def test_funding_in_bps_is_named_bps(raw: Path, tmp_path: Path):
    path = write_table(funding(scale=10_000.0), tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_funding_rate", match="looks like bps", fix="--funding-unit bps")


def test_funding_unit_only_for_funding(tmp_path: Path):
    path = write_table(klines(), tmp_path / "in" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match="applies to --dataset um_funding_rate only"):
        import_files([path], "um_klines_1m", data_dir=tmp_path / "r", funding_unit="percent",
                     **QUIET)
    assert not (tmp_path / "r").exists()


def test_funding_stamps_off_the_hour_are_refused(raw: Path, tmp_path: Path):
    f = funding()
    f["funding_time"] = f["funding_time"] + 30 * 60_000  # a UTC+5:30 clock
    path = write_table(f, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_funding_rate", match="is 30 min off the whole hour", row=1,
            fix="--allow-off-grain")
    import_files([path], "um_funding_rate", data_dir=tmp_path / "r", waive={"off-grain"},
                 **QUIET)
    assert read_dataset(tmp_path / "r", "um_funding_rate", "BTCUSDT").num_rows == 30


def test_funding_stamps_shifted_by_whole_hours_are_refused(raw: Path, tmp_path: Path):
    f = funding(start="2025-01-20 01:00")  # 01/09/17: a UTC+1 clock
    path = write_table(f, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_funding_rate", match="shifted by +1 h", row=1,
            fix="--allow-off-grain")


@pytest.mark.parametrize("every", ["8h", "4h", "1h"])
def test_every_binance_settlement_schedule_passes(tmp_path: Path, every: str):
    f = funding(n=30, every=every)
    f["funding_time"] = f["funding_time"] + np.tile([0, 1, 3, 16], 8)[:30]  # exchange jitter, ms
    path = write_table(f, tmp_path / "in" / "BTCUSDT.parquet")
    import_files([path], "um_funding_rate", data_dir=tmp_path / "r", **QUIET)
    assert read_dataset(tmp_path / "r", "um_funding_rate", "BTCUSDT").num_rows == 30


# --------------------------------------------------------------------------------------------
# item 8: outliers that are valid OHLC


def test_a_bar_times_1000_is_refused(raw: Path, tmp_path: Path):
    k = klines()
    for c in ("open", "high", "low", "close"):
        k[c][20] *= 1000  # every OHLC check passes
    path = write_table(k, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_klines_1m", match="x the median close", row=21,
            fix="--allow-outliers")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", waive={"outliers"}, **QUIET)
    assert read_dataset(tmp_path / "r", "um_klines_1m", "BTCUSDT").num_rows == 40


def test_a_bar_at_a_thousandth_is_refused(raw: Path, tmp_path: Path):
    k = klines()
    for c in ("open", "high", "low", "close"):
        k[c][0] /= 1000
    path = write_table(k, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_klines_1m", match="is 1/", row=1)


def test_stamps_in_the_future_are_refused(raw: Path, tmp_path: Path):
    start = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("min") + pd.Timedelta("2h")
    path = write_table(klines(start=start), tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_klines_1m", match="is in the future", row=1,
            fix="--allow-any-year")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", waive={"any-year"}, **QUIET)
    recent = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("min") - pd.Timedelta("39min")
    import_files([write_table(klines(start=recent), tmp_path / "now" / "BTCUSDT.parquet")],
                 "um_klines_1m", data_dir=tmp_path / "r2", **QUIET)  # up to now: accepted


@pytest.mark.parametrize("name", ["binance_usdt_klines.parquet", "futures-usdt-1m.csv",
                                  "um_usdt_funding.parquet", "all_usdt.feather"])
def test_generic_names_with_usdt_state_no_symbol(tmp_path: Path, name: str):
    with pytest.raises(RawDataError, match="does not state a symbol") as err:
        symbol_from_filename(tmp_path / name)
    assert "--symbol" in str(err.value)


def test_a_generic_name_is_not_stored_as_binanceusdt(raw: Path, tmp_path: Path):
    path = write_table(klines(seed=3), tmp_path / "in" / "binance_usdt_klines.parquet")
    refused(raw, [path], "um_klines_1m", match="'binance' before 'usdt' is no asset",
            fix="--symbol")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", symbol="ETH", **QUIET)
    assert [p.name for p in (tmp_path / "r" / "um_klines_1m").iterdir()] == ["symbol=ETHUSDT"]


@pytest.mark.parametrize("name,symbol", [("BTCUSDT.parquet", "BTCUSDT"),
                                         ("BTC_USDT_USDT-1m-futures.feather", "BTCUSDT"),
                                         ("eth-usdt.csv", "ETHUSDT"),
                                         ("DATAUSDT-1m-2025-01.csv", "DATAUSDT"),
                                         ("BTCUSD_PERP_liquidations.parquet", "BTCUSDT")])
def test_names_that_state_a_symbol_still_do(tmp_path: Path, name: str, symbol: str):
    assert symbol_from_filename(tmp_path / name) == symbol


@pytest.mark.parametrize("given,twin,words", [
    ("ETHBTC", "ETHUSDT", "ETH quoted in BTC"),
    ("BNBETH", "BNBUSDT", "BNB quoted in ETH"),
    ("ETHBUSD", "ETHUSDT", "ETH quoted in BUSD"),
    ("BTCUSD", "BTCUSDT", "COIN-M"),
    ("BTCUSD_PERP", "BTCUSDT", "COIN-M"),
])
def test_symbols_of_other_quotes_are_refused(given: str, twin: str, words: str):
    with pytest.raises(RawDataError) as err:
        normalize_symbol(given)
    msg = str(err.value)
    assert words in msg and f"fix: pass {twin}" in msg, msg


@pytest.mark.parametrize("given,symbol", [("BTC", "BTCUSDT"), ("eth", "ETHUSDT"),
                                          ("btc/usdt:usdt", "BTCUSDT"), ("SOLUSDT", "SOLUSDT"),
                                          ("BTCUSDC", "BTCUSDC"), ("WBTC", "WBTCUSDT"),
                                          ("STETH", "STETHUSDT"), ("S001", "S001USDT")])
def test_usdt_symbols_and_bare_assets_are_unchanged(given: str, symbol: str):
    assert normalize_symbol(given) == symbol


def test_import_with_a_symbol_of_another_quote_writes_nothing(raw: Path, tmp_path: Path):
    path = write_table(klines(), tmp_path / "in" / "mydata.parquet")
    before = tree_digest(raw)
    for sym, fix in (("ETHBTC", "pass ETHUSDT"), ("BTCUSD", "pass BTCUSDT")):
        rc = cli_main(["import", "--data-dir", str(raw), "--dataset", "um_klines_1m",
                       "--symbol", sym, str(path)])
        assert rc == 2
    assert tree_digest(raw) == before
    assert not (raw / "um_klines_1m" / "symbol=ETHBTCUSDT").exists()


def test_a_second_import_of_the_same_liquidations_does_not_double_them(raw: Path,
                                                                       tmp_path: Path):
    key = list(DATASETS["um_liquidations"].key)
    assert key == ["time", "side", "price", "quantity"]
    path = write_table(liquidations(), tmp_path / "again" / "BTCUSDT.parquet")
    before = tree_digest(raw)
    (rep,) = import_files([path], "um_liquidations", data_dir=raw, **QUIET)
    assert rep.rows_added == 0 and rep.files_written == []
    # the same rows through a CSV
    csv = tmp_path / "again" / "BTCUSDT.csv"
    pd.DataFrame(liquidations()).to_csv(csv, index=False)
    (rep,) = import_files([csv], "um_liquidations", data_dir=raw, **QUIET)
    assert rep.rows_added == 0
    assert tree_digest(raw) == before
    assert read_dataset(raw, "um_liquidations", "BTCUSDT").num_rows == 4


def test_liquidations_listed_twice_in_a_file_are_refused(raw: Path, tmp_path: Path):
    liq = liquidations()
    liq["time"] = liq["time"] + 86_400_000
    doubled = {k: (np.r_[v, v[1:2]] if isinstance(v, np.ndarray) else v + v[1:2])
               for k, v in liq.items()}
    path = write_table(doubled, tmp_path / "in" / "BTCUSDT.parquet")
    refused(raw, [path], "um_liquidations", match="rows 2 and 5 are the same um_liquidations row",
            row=5, fix="de-duplicate")


def test_the_same_liquidations_in_another_unit_are_not_stored_twice(raw: Path, tmp_path: Path):
    """The stored rows have quantities in coins; the same orders in contracts (100 USD) have
    other keys but the same time, side and USD notional."""
    liq = liquidations()
    contracts = {"time": liq["time"], "side": liq["side"], "price": liq["price"],
                 "qty_contracts": np.round(liq["price"] * liq["quantity"] / 100.0)}
    path = write_table(contracts, tmp_path / "in" / "BTCUSD_PERP_liquidations.parquet")
    refused(raw, [path], "um_liquidations", match="the same order in another unit or precision",
            fix="--contract-usd", contract_usd=100.0)
    rounded = {**liq, "price": np.round(liq["price"]), "quantity": liq["quantity"]}
    path = write_table(rounded, tmp_path / "rounded" / "BTCUSDT.parquet")
    refused(raw, [path], "um_liquidations", match="are stored in")
    assert read_dataset(raw, "um_liquidations", "BTCUSDT").num_rows == 4


def test_sample_with_a_negative_lookback_is_refused(tmp_path: Path, capsys):
    d = tmp_path / "sample"
    rc = cli_main(["sample", "--data-dir", str(d), "--lookback-days", "-1",
                   "--start", "2025-01-01", "--end", "2025-01-03"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--lookback-days -1 is negative" in err and "fix: pass --lookback-days 0" in err
    assert tree_digest(d) == {}


def test_sample_whose_window_ends_in_the_future_is_refused(tmp_path: Path, capsys):
    end = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    rc = cli_main(["sample", "--data-dir", str(tmp_path / "s"), "--start", start, "--end", end])
    assert rc == 2
    assert "after now" in capsys.readouterr().err
    assert tree_digest(tmp_path / "s") == {}


# --------------------------------------------------------------------------------------------
# valid data goes in as before


def test_the_sample_still_generates_and_passes_every_check(tmp_path: Path):
    from lifthouse.data.sample import generate

    d = tmp_path / "sample"
    truth = generate(d, start="2025-01-30", end="2025-02-02", lookback_days=1)
    for dataset, n in truth.rows_written.items():
        assert n > 0
        for sym in truth.symbols:
            table = read_dataset(d, dataset, sym)
            validate(dataset, table, source=dataset)  # no waivers needed
    assert sum(read_dataset(d, ds, s).num_rows for ds in truth.rows_written
               for s in truth.symbols) == sum(truth.rows_written.values())


REAL_IMPORTS = [  # (folder under ../shared/data/binance, dataset, import options)
    ("um_klines_1m", "um_klines_1m", {}),
    ("spot_klines_1m", "spot_klines_1m", {}),
    ("um_funding_rate", "um_funding_rate", {}),
    ("um_funding_rate_2020_2025", "um_funding_rate", {"ignore": {"source"}}),
    ("um_open_interest_5m", "um_open_interest_5m", {"ignore": {"source"}}),
    ("long_5m/um_klines_5m", "um_klines_5m", {}),
    ("long_5m/spot_klines_5m", "spot_klines_5m", {}),
    ("long_5m/um_funding_rate", "um_funding_rate", {}),
    ("cm_liquidation_snapshot_2024q1", "um_liquidations", {"contract_usd": 100.0}),
]


@pytest.mark.realdata
@pytest.mark.parametrize("folder,dataset,opts", REAL_IMPORTS, ids=[r[0] for r in REAL_IMPORTS])
def test_real_files_still_import_row_for_row(real_data_dir: Path, tmp_path: Path, folder,
                                             dataset, opts):
    files = sorted((real_data_dir / folder).glob("*.parquet"))
    assert files
    d = tmp_path / "raw"
    import_files(files, dataset, data_dir=d, **QUIET, **opts)
    spec = DATASETS[dataset]
    for f in files:
        src = pq.read_table(f)
        got = read_dataset(d, dataset, f.stem)
        assert got.num_rows == src.num_rows
        value = {"um_funding_rate": "funding_rate", "um_open_interest_5m": "sum_open_interest",
                 "um_liquidations": "price"}.get(dataset, "close")
        src_time = src.column("ts" if dataset == "um_liquidations" else spec.time_column)
        order = np.argsort(src_time.to_numpy(), kind="stable")
        if dataset == "um_liquidations":
            got = got.sort_by("time")
        np.testing.assert_array_equal(got.column(spec.time_column).cast(pa.int64()).to_numpy()
                                      // 1000, src_time.to_numpy()[order])
        np.testing.assert_array_equal(got.column(value).to_numpy(),
                                      src.column(value).to_numpy()[order])


@pytest.mark.realdata
def test_real_funding_in_percent_is_refused(real_data_dir: Path, tmp_path: Path):
    files = sorted(real_data_dir.glob("*funding*/*.parquet")) + sorted(
        real_data_dir.glob("long_5m/um_funding_rate/*.parquet"))
    assert len(files) == 8
    for k, f in enumerate(files):
        src = pq.read_table(f)
        pct = {"funding_time": src.column("funding_time").to_numpy(),
               "funding_rate": src.column("funding_rate").to_numpy() * 100.0}
        path = write_table(pct, tmp_path / str(k) / f.name)
        with pytest.raises(RawDataError, match="looks like percent"):
            import_files([path], "um_funding_rate", data_dir=tmp_path / "r", **QUIET)
        import_files([path], "um_funding_rate", data_dir=tmp_path / "r2" / str(k),
                     funding_unit="percent", **QUIET)
    assert tree_digest(tmp_path / "r") == {}
