"""The raw layer's one writer: concurrent writers never lose rows, generated data never replaces
imported data, implausible times are refused, symbols are never guessed (docs/failure_modes.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.data.importer import import_files
from lifthouse.data.raw import read_dataset
from lifthouse.data.schema import RawDataError

N_TRIALS = 10
HALF = 20_000  # bars per half: ~14 days each, so both halves fall in January 2025


def bars(n: int, start: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[100.0, close[:-1]]
    t = pd.date_range(start, periods=n, freq="1min")
    return pd.DataFrame({
        "open_time": t.as_unit("ms").asi8.astype("int64"),
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.uniform(1, 5, n),
    })


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


# Each writer imports its modules, then spins until the go file appears, so both merge the
# stored month at the same moment.
WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from lifthouse.data.importer import import_files
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.001)
    import_files([Path(sys.argv[2])], "um_klines_1m", data_dir=Path(sys.argv[3]),
                 log=lambda *_: None)
""")


def test_two_concurrent_imports_of_one_month_keep_every_row(tmp_path: Path):
    a = write_parquet(bars(HALF, "2025-01-01", seed=1), tmp_path / "in_a" / "BTCUSDT.parquet")
    b = write_parquet(bars(HALF, "2025-01-01") .assign(
        open_time=lambda d: d.open_time + HALF * 60_000), tmp_path / "in_b" / "BTCUSDT.parquet")
    lost = []
    for trial in range(N_TRIALS):
        data_dir = tmp_path / f"raw{trial}"
        go = tmp_path / f"go{trial}"
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(go), str(f), str(data_dir)],
                                  stderr=subprocess.PIPE, text=True) for f in (a, b)]
        time.sleep(1.5)  # both have imported pandas/pyarrow and are spinning
        go.touch()
        errs = [p.communicate(timeout=120)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errs
        n = read_dataset(data_dir, "um_klines_1m", "BTCUSDT").num_rows
        if n != 2 * HALF:
            lost.append((trial, n))
    assert not lost, f"rows lost in {len(lost)} of {N_TRIALS} trials (trial, rows kept): {lost}"


def test_a_second_writer_waits_with_a_message_then_fails_after_the_timeout(tmp_path: Path):
    from lifthouse.data.lock import partition_lock
    from lifthouse.data.raw import partition_dir

    folder = partition_dir(tmp_path, "um_klines_1m", "BTCUSDT")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from lifthouse.data.lock import partition_lock
        with partition_lock(Path({str(folder)!r})):
            print("locked", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(RawDataError, match=r"another lifthouse writer still holds the lock "
                                               r".* nothing was written"):
            with partition_lock(folder, timeout=0.5):
                pass
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.kill()
        holder.wait()
    with partition_lock(folder, timeout=0.5):  # released when its holder died
        pass


# --------------------------------------------------------------------------------------------
# generated and real data are told apart: `sample --force` never deletes real data


def _sample_args(data_dir: Path, *extra: str) -> list[str]:
    return ["sample", "--data-dir", str(data_dir), "--symbols", "BTCUSDT", "--start",
            "2025-01-02", "--end", "2025-01-03", "--lookback-days", "1", *extra]


def test_sample_force_never_deletes_imported_data(tmp_path: Path, capsys):
    from lifthouse.cli import main

    data_dir = tmp_path / "raw"
    real = write_parquet(bars(3000, "2025-01-01"), tmp_path / "in" / "BTCUSDT.parquet")
    import_files([real], "um_klines_1m", data_dir=data_dir, log=lambda *_: None)
    before = {p: p.read_bytes() for p in data_dir.rglob("*.parquet")}
    assert main(_sample_args(data_dir)) == 2
    err = capsys.readouterr().err
    assert "real data" in err and "--force" not in err
    assert main(_sample_args(data_dir, "--force")) == 2
    err = capsys.readouterr().err
    assert "real data" in err and "never deletes" in err and "--force" not in err
    assert {p: p.read_bytes() for p in data_dir.rglob("*.parquet")} == before


def test_sample_force_replaces_only_generated_files(tmp_path: Path, capsys):
    from lifthouse.cli import main
    from lifthouse.data.origins import file_origins
    from lifthouse.data.raw import list_files

    data_dir = tmp_path / "raw"
    assert main(_sample_args(data_dir)) == 0
    assert main(_sample_args(data_dir, "--seed", "8")) == 2  # another generation: needs --force
    assert "--force" in capsys.readouterr().err
    assert main(_sample_args(data_dir, "--seed", "8", "--force")) == 0
    files = list_files(data_dir, "um_klines_1m", "BTCUSDT")
    assert files and all(file_origins(f) == {"sample"} for f in files)


def test_real_rows_are_not_mixed_into_a_generated_month(tmp_path: Path):
    from lifthouse.cli import main

    data_dir = tmp_path / "raw"
    assert main(_sample_args(data_dir)) == 0
    real = write_parquet(bars(10, "2025-01-02 05:00"), tmp_path / "in" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError, match=r"(?s)generated sample data.*own folder"):
        import_files([real], "um_klines_1m", data_dir=data_dir, log=lambda *_: None)


# --------------------------------------------------------------------------------------------
# implausible times are refused, each with the flag that accepts it


def _import(tmp_path: Path, df: pd.DataFrame, *, name: str = "BTCUSDT.parquet", **kw):
    src = write_parquet(df, tmp_path / "in" / name)
    return import_files([src], kw.pop("dataset", "um_klines_1m"), data_dir=tmp_path / "raw",
                        log=kw.pop("log", lambda *_: None), **kw)


@pytest.mark.parametrize("unit,match", [
    ("s", r"(?s)open_time 56971-.* outside the plausible years .*--time-unit ms.*--allow-any-year"),
    ("us", r"(?s)open_time 1970-01-.* outside the plausible years .*--allow-any-year"),
])
def test_a_wrong_time_unit_is_refused(tmp_path: Path, unit: str, match: str):
    with pytest.raises(RawDataError, match=match) as err:
        _import(tmp_path, bars(50, "2025-01-01"), time_unit=unit)
    assert "BTCUSDT.parquet, row 1" in str(err.value)
    assert not (tmp_path / "raw").exists() or not list((tmp_path / "raw").rglob("*.parquet"))


def test_open_times_off_the_minute_are_refused_unless_allowed(tmp_path: Path):
    df = bars(50, "2025-01-01 00:00:30")
    with pytest.raises(RawDataError, match=r"(?s)row 1: open_time 2025-01-01 00:00:30.* is not on the "
                                           r"60 s grain.*--allow-off-grain"):
        _import(tmp_path, df)
    rep = _import(tmp_path, df, waive={"off-grain"})
    assert rep[0].rows_added == 50


def test_bars_spaced_unlike_the_grain_are_refused_unless_allowed(tmp_path: Path):
    df = bars(50, "2025-01-01")
    df["open_time"] = df.open_time.iloc[0] + np.arange(50) * 300_000  # 5m bars as 1m klines
    with pytest.raises(RawDataError, match=r"typically 5 min apart(.|\n)*--allow-any-spacing"):
        _import(tmp_path, df)
    assert _import(tmp_path, df, waive={"any-spacing"})[0].rows_added == 50


def test_the_cli_flags_accept_the_ambiguity(tmp_path: Path):
    from lifthouse.cli import main

    src = write_parquet(bars(50, "2025-01-01 00:00:30"), tmp_path / "in" / "BTCUSDT.parquet")
    args = ["import", "--dataset", "um_klines_1m", "--data-dir", str(tmp_path / "raw"), str(src)]
    assert main(args) == 2
    assert main([*args, "--allow-off-grain"]) == 0


# --------------------------------------------------------------------------------------------
# symbols come from known name patterns only, else --symbol


@pytest.mark.parametrize("name", ["mydata.parquet", "klines_2025.parquet", "funding.parquet"])
def test_a_file_name_without_a_symbol_asks_for_symbol(tmp_path: Path, name: str):
    with pytest.raises(RawDataError, match=r"does not state a symbol(.|\n)*--symbol"):
        _import(tmp_path, bars(5, "2025-01-01"), name=name)
    assert _import(tmp_path, bars(5, "2025-01-01"), name=name, symbol="BTC")[0].symbol == "BTCUSDT"


@pytest.mark.parametrize("name,symbol", [
    ("BTCUSDT.parquet", "BTCUSDT"), ("btcusdt-1m-2025-01.parquet", "BTCUSDT"),
    ("BTC_USDT_USDT-1m-futures.parquet", "BTCUSDT"), ("ETH-USDT.parquet", "ETHUSDT"),
    ("SOL_USDT-1m.parquet", "SOLUSDT"), ("1000PEPEUSDT.parquet", "1000PEPEUSDT"),
])
def test_known_symbol_patterns(name: str, symbol: str):
    from lifthouse.data.importer import symbol_from_filename

    assert symbol_from_filename(Path(name)) == symbol


def test_coin_m_liquidations_are_stored_under_the_usd_m_twin_with_a_note(tmp_path: Path):
    notes = []
    liq = pd.DataFrame({"time": pd.date_range("2025-01-01", periods=3, freq="7min", tz="UTC"),
                        "side": ["SELL", "BUY", "SELL"], "price": [1.0e5, 1.01e5, 1.02e5],
                        "qty_contracts": [3.0, 5.0, 7.0]})
    rep = _import(tmp_path, liq, name="BTCUSD_PERP_liquidations.parquet",
                  dataset="um_liquidations", contract_usd=100.0, log=notes.append)
    assert rep[0].symbol == "BTCUSDT"
    assert any("USD-M twin BTCUSDT" in n for n in notes)


def test_a_symbol_that_contradicts_the_file_name_warns(tmp_path: Path):
    notes = []
    rep = _import(tmp_path, bars(5, "2025-01-01"), symbol="ETH", log=notes.append)
    assert rep[0].symbol == "ETHUSDT"
    assert any(n.startswith("warning:") and "BTCUSDT" in n and "ETHUSDT" in n for n in notes)


# --------------------------------------------------------------------------------------------
# small things


def test_atomically_written_files_honour_the_umask(tmp_path: Path):
    from lifthouse.data.atomic import atomic_write_bytes

    old = os.umask(0o022)
    try:
        _import(tmp_path, bars(5, "2025-01-01"))
        atomic_write_bytes(b"x", tmp_path / "out" / "f.txt")
    finally:
        os.umask(old)
    for p in [*(tmp_path / "raw").rglob("*.parquet"), tmp_path / "out" / "f.txt"]:
        assert (p.stat().st_mode & 0o777) == 0o644, p


def test_an_unknown_naive_tz_is_a_clear_error(tmp_path: Path):
    df = bars(5, "2025-01-01")
    df["open_time"] = pd.to_datetime(df.open_time, unit="ms")
    with pytest.raises(RawDataError, match=r"--naive-tz 'Mars/Olympus' is not a known time zone"):
        _import(tmp_path, df, naive_tz="Mars/Olympus")
