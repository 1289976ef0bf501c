"""`lifthouse import`: how files write dates, local times, sides and numbers (issue 35, items 6,
14, 15, 17). What the importer cannot know is refused, naming the file, the row and the flag
that says it (--date-format, --dst, --csv-delimiter, --decimal); a refused import leaves the raw
layer byte-identical; the flags make the same files import exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.importer import InputFormat, import_files
from lifthouse.data.raw import read_dataset
from lifthouse.data.schema import RawDataError
from test_import import T0, bars, tree_digest, write_parquet

QUIET = dict(log=lambda *_: None)


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A raw layer that already holds good bars, to prove a refused import changes nothing."""
    d = tmp_path / "raw"
    import_files([write_parquet(bars(), tmp_path / "good" / "BTCUSDT.parquet")], "um_klines_1m",
                 data_dir=d, **QUIET)
    return d


def refused(raw: Path, path: Path, dataset: str = "um_klines_1m", **kwargs) -> RawDataError:
    """The error importing ``path`` into ``raw`` raises; the raw layer must be unchanged."""
    before = tree_digest(raw)
    with pytest.raises(RawDataError) as err:
        import_files([path], dataset, data_dir=raw, **QUIET, **kwargs)
    assert tree_digest(raw) == before, "a refused import changed the raw layer"
    assert str(path) in str(err.value), str(err.value)
    assert "fix:" in str(err.value), str(err.value)
    return err.value


def stored_times(data_dir: Path, dataset: str = "um_klines_1m", symbol: str = "BTCUSDT"):
    col = read_dataset(data_dir, dataset, symbol).column(DATASET_TIME[dataset])
    return col.cast(pa.int64()).to_numpy()


DATASET_TIME = {"um_klines_1m": "open_time", "um_liquidations": "time"}


def bars_with_text_times(fmt: str, start: pd.Timestamp = pd.Timestamp("2025-05-06 00:00"),
                         n: int = 20) -> pd.DataFrame:
    df = bars(n, start=start)
    df["open_time"] = pd.date_range(start, periods=n, freq="1min").strftime(fmt)
    return df


# --------------------------------------------------------------------------------------------
# item 6: day/month order is never guessed


def test_day_month_dates_are_refused_naming_both_formats(raw: Path, tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    bars_with_text_times("%d/%m/%Y %H:%M").to_csv(path, index=False)   # 06/05/2025 00:00
    err = refused(raw, path, naive_tz="UTC")
    assert err.row == 1
    assert "day/month or month/day" in err.problem and "never guessed" in err.problem
    assert "--date-format '%d/%m/%Y %H:%M'" in err.hint
    assert "--date-format '%m/%d/%Y %H:%M'" in err.hint


def test_a_day_above_12_names_the_one_format_that_fits_but_is_still_refused(raw: Path,
                                                                          tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    bars_with_text_times("%d.%m.%Y %H:%M:%S", start=pd.Timestamp("2025-05-13")).to_csv(
        path, index=False)
    err = refused(raw, path, naive_tz="UTC")
    assert "reads only as day/month" in err.problem
    assert "--date-format '%d.%m.%Y %H:%M:%S' (day first)" in err.hint


def test_a_file_mixing_both_orders_is_refused_naming_both_rows(raw: Path, tmp_path: Path):
    df = bars_with_text_times("%m/%d/%Y %H:%M")
    df.loc[3, "open_time"] = "31/05/2025 00:03"
    df.loc[5, "open_time"] = "05/13/2025 00:05"
    path = tmp_path / "BTCUSDT.csv"
    df.to_csv(path, index=False)
    err = refused(raw, path, naive_tz="UTC")
    assert "mixes day/month and month/day" in err.problem
    assert "row 4" in err.problem and "row 6" in err.problem


def test_date_format_gives_the_order(tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    bars_with_text_times("%d/%m/%Y %H:%M").to_csv(path, index=False)
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", naive_tz="UTC",
                 formats=InputFormat(date_format="%d/%m/%Y %H:%M"), **QUIET)
    t = stored_times(tmp_path / "r")
    assert t[0] == pd.Timestamp("2025-05-06 00:00").value // 1000       # 6 May, not June 5
    assert len(t) == 20


def test_a_row_off_the_date_format_is_named(raw: Path, tmp_path: Path):
    df = bars_with_text_times("%d/%m/%Y %H:%M")
    df.loc[7, "open_time"] = "2025-05-06 00:07"
    path = tmp_path / "BTCUSDT.csv"
    df.to_csv(path, index=False)
    err = refused(raw, path, naive_tz="UTC", formats=InputFormat(date_format="%d/%m/%Y %H:%M"))
    assert err.row == 8 and "does not match --date-format" in err.problem


def test_iso_date_strings_still_import_without_flags(tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    bars_with_text_times("%Y-%m-%d %H:%M").to_csv(path, index=False)
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", naive_tz="UTC", **QUIET)
    assert stored_times(tmp_path / "r")[0] == pd.Timestamp("2025-05-06 00:00").value // 1000


def test_the_cli_takes_date_format(tmp_path: Path, capsys):
    path = tmp_path / "BTCUSDT.csv"
    bars_with_text_times("%d/%m/%Y %H:%M").to_csv(path, index=False)
    args = ["import", "--dataset", "um_klines_1m", "--data-dir", str(tmp_path / "r"),
            "--naive-tz", "UTC", str(path)]
    assert cli_main(args) == 2
    assert "--date-format" in capsys.readouterr().err
    assert cli_main(args[:-1] + ["--date-format", "%d/%m/%Y %H:%M", str(path)]) == 0


# --------------------------------------------------------------------------------------------
# item 14: a row without a time; local times across a DST change


def test_nan_in_an_epoch_time_column_names_the_right_row_and_cause(raw: Path, tmp_path: Path):
    df = bars()
    df["open_time"] = df["open_time"].astype("float64")
    df.loc[5, "open_time"] = np.nan                                  # the 6th row
    err = refused(raw, write_parquet(df, tmp_path / "nan" / "BTCUSDT.parquet"))
    assert err.row == 6
    assert "empty" in err.problem and "out of order" not in err.problem


def test_a_csv_row_without_a_time_names_the_right_row(raw: Path, tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    lines = bars().to_csv(index=False).splitlines()
    lines[10] = "," + lines[10].split(",", 1)[1]                    # data row 10
    path.write_text("\n".join(lines) + "\n")
    err = refused(raw, path)
    assert err.row == 10 and "empty" in err.problem


def local_berlin_bars(utc_start: str, n: int) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """1m bars whose open_time is Berlin wall-clock time without a zone (as a local export)."""
    utc = pd.date_range(utc_start, periods=n, freq="1min")
    df = bars(n)
    df["open_time"] = utc.tz_localize("UTC").tz_convert("Europe/Berlin").tz_localize(None)
    return df, utc


def test_local_times_that_occur_twice_are_refused_naming_the_rows(raw: Path, tmp_path: Path):
    # 2025-10-26: Berlin sets its clocks back from 03:00 CEST to 02:00 CET
    df, _ = local_berlin_bars("2025-10-25 23:30", 180)
    err = refused(raw, write_parquet(df, tmp_path / "fall" / "BTCUSDT.parquet"),
                  naive_tz="Europe/Berlin")
    assert "occur twice in Europe/Berlin" in err.problem
    assert err.row == 31                                   # 00:00 UTC = 02:00 CEST, row 31
    assert "--dst infer" in err.hint


def test_dst_infer_reads_the_repeated_hour_in_row_order(tmp_path: Path):
    df, utc = local_berlin_bars("2025-10-25 23:30", 180)
    path = write_parquet(df, tmp_path / "fall" / "BTCUSDT.parquet")
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", naive_tz="Europe/Berlin",
                 formats=InputFormat(dst="infer"), **QUIET)
    np.testing.assert_array_equal(stored_times(tmp_path / "r"), utc.as_unit("us").asi8)


def test_dst_earlier_and_later_choose_the_pass_of_a_single_stamp(tmp_path: Path):
    liq = pd.DataFrame({"time": pd.to_datetime(["2025-10-26 01:59", "2025-10-26 02:30",
                                                "2025-10-26 03:10"]),
                        "side": ["SELL", "BUY", "SELL"], "price": [1.0, 2.0, 3.0],
                        "quantity": [1.0, 1.0, 1.0]})
    path = write_parquet(liq, tmp_path / "liq" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match="occur twice"):
        import_files([path], "um_liquidations", data_dir=tmp_path / "r0",
                     naive_tz="Europe/Berlin", **QUIET)
    for dst, hour in (("earlier", 0), ("later", 1)):        # 02:30 CEST = 00:30 UTC, CET 01:30
        d = tmp_path / dst
        import_files([path], "um_liquidations", data_dir=d, naive_tz="Europe/Berlin",
                     formats=InputFormat(dst=dst), **QUIET)
        t = stored_times(d, "um_liquidations")
        assert t[1] == pd.Timestamp(f"2025-10-26 0{hour}:30").value // 1000, dst


def test_local_times_the_clocks_skip_are_refused_naming_the_rows(raw: Path, tmp_path: Path):
    # 2025-03-30: Berlin has no 02:00-02:59; a file holding them is not on Berlin's clock
    df = bars(180, start=pd.Timestamp("2025-03-30 01:00"))
    df["open_time"] = pd.date_range("2025-03-30 01:00", periods=180, freq="1min")
    err = refused(raw, write_parquet(df, tmp_path / "spring" / "BTCUSDT.parquet"),
                  naive_tz="Europe/Berlin", formats=InputFormat(dst="infer"))
    assert "do not exist in Europe/Berlin" in err.problem and err.row == 61
    assert "Etc/GMT-1" in err.hint


# --------------------------------------------------------------------------------------------
# item 15: the side of a liquidation


def liquidations(sides: list) -> pd.DataFrame:
    n = len(sides)
    return pd.DataFrame({"time": 1735689600000 + 60_000 * np.arange(n), "side": sides,
                         "price": np.full(n, 42000.0), "quantity": np.full(n, 0.5)})


@pytest.fixture
def liq_raw(tmp_path: Path) -> Path:
    d = tmp_path / "liq_raw"
    good = write_parquet(liquidations(["SELL", "BUY"]), tmp_path / "l0" / "BTCUSDT.parquet")
    import_files([good], "um_liquidations", data_dir=d, **QUIET)
    return d


def test_a_null_side_is_named_by_its_row(liq_raw: Path, tmp_path: Path):
    path = write_parquet(liquidations(["SELL", "BUY", None, "SELL"]),
                         tmp_path / "l1" / "BTCUSDT.parquet")
    err = refused(liq_raw, path, dataset="um_liquidations")
    assert err.row == 3 and "empty" in err.problem
    assert "SELL" in err.hint and "BUY" in err.hint


def test_long_and_short_sides_name_the_order_side_they_mean(liq_raw: Path, tmp_path: Path):
    path = write_parquet(liquidations(["SELL", "LONG", "SHORT"]),
                         tmp_path / "l2" / "BTCUSDT.parquet")
    err = refused(liq_raw, path, dataset="um_liquidations")
    assert err.row == 2 and "'LONG'" in err.problem
    assert "LONG -> SELL" in err.hint and "SHORT -> BUY" in err.hint


def test_any_other_side_is_named_with_its_row(liq_raw: Path, tmp_path: Path):
    path = write_parquet(liquidations(["sell", "buy", "X"]), tmp_path / "l3" / "BTCUSDT.parquet")
    err = refused(liq_raw, path, dataset="um_liquidations")
    assert err.row == 3 and "'X'" in err.problem


def test_lower_case_sides_still_import(tmp_path: Path):
    path = write_parquet(liquidations(["sell", " Buy "]), tmp_path / "l4" / "BTCUSDT.parquet")
    import_files([path], "um_liquidations", data_dir=tmp_path / "r", **QUIET)
    got = read_dataset(tmp_path / "r", "um_liquidations", "BTCUSDT").column("side").to_pylist()
    assert got == ["SELL", "BUY"]


# --------------------------------------------------------------------------------------------
# item 17: semicolons, decimal commas, thousands separators


def write_text_csv(df: pd.DataFrame, path: Path, *, sep: str = ",", decimal: str = ".",
                   thousands: str | None = None) -> Path:
    """``df`` as a CSV the way a spreadsheet in another locale writes it."""
    def num(x):
        if isinstance(x, (int, np.integer)):
            return str(x)
        text = f"{x:,.4f}" if thousands else f"{x:.4f}"
        text = text.replace(",", "\0").replace(".", decimal).replace("\0", thousands or "")
        return f'"{text}"' if sep in text else text
    rows = [sep.join(df.columns)]
    rows += [sep.join(num(v) for v in r) for r in df.itertuples(index=False)]
    path.write_text("\n".join(rows) + "\n")
    return path


def thousand_bars() -> pd.DataFrame:
    df = bars()
    df[["open", "high", "low", "close"]] *= 1000    # 100000.1234: thousands separators show
    return df


def reference(tmp_path: Path) -> pa.Table:
    d = tmp_path / "ref"
    plain = tmp_path / "plain" / "BTCUSDT.csv"
    plain.parent.mkdir()
    write_text_csv(thousand_bars(), plain)
    import_files([plain], "um_klines_1m", data_dir=d, **QUIET)
    return read_dataset(d, "um_klines_1m", "BTCUSDT")


@pytest.mark.parametrize("sep,name,flag", [(";", "semicolons", "--csv-delimiter ';'"),
                                           ("\t", "tabs", "--csv-delimiter tab"),
                                           ("|", "pipes", "--csv-delimiter '|'")])
def test_another_field_separator_is_named_with_its_flag(raw: Path, tmp_path: Path, sep, name,
                                                         flag):
    path = write_text_csv(bars(), tmp_path / "BTCUSDT.csv", sep=sep)
    err = refused(raw, path)
    assert f"separated by {name}" in err.problem, err.problem
    assert flag in err.hint
    assert "--ignore-columns" not in str(err) and "truncated" not in str(err)


def test_a_semicolon_csv_with_decimal_commas_names_both_flags(raw: Path, tmp_path: Path):
    path = write_text_csv(thousand_bars(), tmp_path / "BTCUSDT.csv", sep=";", decimal=",")
    err = refused(raw, path)
    assert "--csv-delimiter ';'" in err.hint and "--decimal ," in err.hint
    err = refused(raw, path, formats=InputFormat(csv_delimiter=";"))
    assert "decimal comma" in err.problem and "--decimal ," in err.hint and err.row == 1


def test_thousands_separators_are_named_with_the_flag(raw: Path, tmp_path: Path):
    path = write_text_csv(thousand_bars(), tmp_path / "BTCUSDT.csv", thousands=",")
    err = refused(raw, path)
    assert "thousands separator" in err.problem and "--decimal ." in err.hint


def test_unquoted_decimal_commas_in_a_comma_csv_are_named_not_damaged(raw: Path, tmp_path: Path):
    path = tmp_path / "BTCUSDT.csv"
    lines = write_text_csv(thousand_bars(), path).read_text().splitlines()
    lines[3] = lines[3].replace(".", ",")      # one row with decimal commas, unquoted
    path.write_text("\n".join(lines) + "\n")
    err = refused(raw, path)
    assert "truncated" not in err.problem
    assert err.row == 3 and "fields where the header has 6" in err.problem
    assert "decimal comma" in err.problem


@pytest.mark.parametrize("layout", ["semicolon decimal comma", "semicolon decimal comma thousands",
                                    "comma thousands", "tab"])
def test_the_flags_import_the_same_rows_as_a_plain_csv(tmp_path: Path, layout):
    ref = reference(tmp_path)
    kind = {"semicolon decimal comma": (dict(sep=";", decimal=","), InputFormat(";", ",")),
            "semicolon decimal comma thousands": (dict(sep=";", decimal=",", thousands="."),
                                                  InputFormat(";", ",")),
            "comma thousands": (dict(thousands=","), InputFormat(decimal=".")),
            "tab": (dict(sep="\t"), InputFormat(csv_delimiter="\t"))}[layout]
    path = write_text_csv(thousand_bars(), tmp_path / "BTCUSDT.csv", **kind[0])
    import_files([path], "um_klines_1m", data_dir=tmp_path / "r", formats=kind[1], **QUIET)
    assert read_dataset(tmp_path / "r", "um_klines_1m", "BTCUSDT").equals(ref)


def test_the_cli_takes_csv_delimiter_and_decimal(tmp_path: Path, capsys):
    path = write_text_csv(thousand_bars(), tmp_path / "BTCUSDT.csv", sep=";", decimal=",")
    args = ["import", "--dataset", "um_klines_1m", "--data-dir", str(tmp_path / "r")]
    assert cli_main(args + [str(path)]) == 2
    assert "--csv-delimiter" in capsys.readouterr().err
    assert tree_digest(tmp_path / "r") == {}
    assert cli_main(args + ["--csv-delimiter", ";", "--decimal", ",", str(path)]) == 0
    assert read_dataset(tmp_path / "r", "um_klines_1m", "BTCUSDT").num_rows == 20
    assert pd.Timestamp(stored_times(tmp_path / "r")[0], unit="us") == T0
