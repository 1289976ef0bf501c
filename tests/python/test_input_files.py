"""Input that must not change an answer unseen (issue 35, items 5, 7, 9, 10, 11 and part of 18):
stray files in the raw layout, duplicates across files, corrupted content inside a valid
Parquet file, batches that conflict with themselves, disk full and Ctrl-C, paths that SQL must
quote, a data dir that is a file, OHLCV-only rows completed later, and the sample's fix message.
Every refused write leaves the raw layer byte-identical (``tree_digest``)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import lifthouse.data.raw as raw
from lifthouse.cli import main as cli_main
from lifthouse.data.checksum import CHECKSUM_KEY, rows_checksum
from lifthouse.data.importer import import_files
from lifthouse.data.preflight import check_coverage
from lifthouse.data.origins import ORIGIN_KEY
from lifthouse.data.raw import list_files, write_dataset
from lifthouse.data.sample import generate
from lifthouse.data.schema import RawDataError

QUIET = dict(log=lambda *_: None)


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under root (to prove nothing changed)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def bars(n: int, start: str, seed: int = 0, extras: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[100.0, close[:-1]]
    df = pd.DataFrame({
        "open_time": pd.date_range(start, periods=n, freq="1min").as_unit("ms").asi8,
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.uniform(1, 5, n)})
    if extras:
        df["quote_volume"] = df["volume"] * df["close"]
        df["count"] = rng.integers(10, 100, n)
        df["taker_buy_volume"] = df["volume"] / 2
        df["taker_buy_quote_volume"] = df["quote_volume"] / 2
    return df


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


def as_raw(df: pd.DataFrame) -> pa.Table:
    """A frame of ``bars`` as the writer takes it (naive UTC microseconds)."""
    df = df.copy()
    df["open_time"] = pd.to_datetime(df["open_time"], unit="ms").astype("datetime64[us]")
    return pa.Table.from_pandas(df, preserve_index=False)


def _sample(data_dir: Path, symbols=("BTCUSDT",)) -> None:
    generate(data_dir, symbols=list(symbols), start="2025-01-03", end="2025-01-05",
             lookback_days=1)


def _preflight(data_dir: Path, capsys, *extra: str) -> tuple[int, str]:
    rc = cli_main(["preflight", "--start", "2025-01-03", "--end", "2025-01-05", "--symbols",
                   "BTC", "--lookback-days", "1", "--data-dir", str(data_dir), *extra])
    out = capsys.readouterr()
    return rc, out.out + out.err


# --------------------------------------------------------------------------------------------
# 5. stray files; duplicates across files


def test_stray_files_in_the_raw_layout_fail_preflight_naming_each(tmp_path: Path, capsys):
    data_dir = tmp_path / "raw"
    _sample(data_dir)
    folder = data_dir / "um_klines_1m" / "symbol=BTCUSDT"
    month = folder / "2025-01.parquet"
    rc, text = _preflight(data_dir, capsys)
    assert rc == 0 and "preflight: OK" in text
    # a backup copy with other values beside the month file, a file dropped in by hand, a
    # sub-folder, a symbol folder the writer never makes, an impossible month
    old = pq.read_table(month)
    old = old.set_column(old.column_names.index("close"), "close",
                         pc.multiply(old.column("close"), 1.01))
    strays = [folder / "2025-01 (old copy).parquet", folder / "BTCUSDT.parquet",
              folder / "2025-13.parquet"]
    for p in strays:
        pq.write_table(old, p)
    (folder / "old").mkdir()
    lower = data_dir / "um_klines_1m" / "symbol=btcusdt"
    lower.mkdir()
    shutil.copy(month, lower / "2025-01.parquet")
    (folder / ".2025-01.parquet.abc123.tmp").write_bytes(b"")  # a writer's temp file: a note
    before = tree_digest(data_dir)
    rc, text = _preflight(data_dir, capsys)
    assert rc == 2 and "Traceback" not in text
    for p in [*strays, folder / "old", lower]:
        assert str(p) in text, (p, text)
    assert "lifthouse does not write" in text and "move it out of the raw layer" in text
    assert "symbol=BTCUSDT" in text  # the normalized name of symbol=btcusdt
    assert tree_digest(data_dir) == before  # preflight changed nothing
    # the writer's temp file alone is a note, not an error
    for p in strays:
        p.unlink()
    (folder / "old").rmdir()
    shutil.rmtree(lower)
    rc, text = _preflight(data_dir, capsys)
    assert rc == 0 and ".2025-01.parquet.abc123.tmp: a writer's temp file" in text


def test_the_dbt_sources_read_only_the_writers_month_files(tmp_path: Path, dbt_paths):
    """A backup copy with other values beside the month file: the build reads the month."""
    from lifthouse.run.dbt import run_dbt

    data_dir = tmp_path / "raw"
    _sample(data_dir)
    month = data_dir / "um_klines_1m" / "symbol=BTCUSDT" / "2025-01.parquet"
    t = pq.read_table(month)
    # larger volume and close: the staging de-duplication would keep these rows
    for name in ("close", "high", "volume"):
        t = t.set_column(t.column_names.index(name), name,
                         pc.multiply(t.column(name), 2.0))
    pq.write_table(t, month.with_name("2025-01 (old copy).parquet"))
    vars_ = {"raw_dir": str(data_dir), "symbols": ["BTCUSDT"], "start_date": "2025-01-03",
             "end_date": "2025-01-05", "lookback_days": 1}
    run_dbt(["build", "--select", "stg_binance__perp_klines", "--exclude-resource-type",
             "unit_test"], vars=vars_, **dbt_paths)
    import duckdb

    with duckdb.connect(str(dbt_paths["warehouse"]), read_only=True) as con:
        staged = con.sql("select open_time, close from stg_binance__perp_klines "
                         "order by open_time").df()
    stored = pq.read_table(month).to_pandas()[["open_time", "close"]]
    stored = stored[(stored.open_time >= "2025-01-02") & (stored.open_time < "2025-01-05")]
    assert len(staged) == len(stored) > 0
    assert np.array_equal(staged["close"].to_numpy(), stored["close"].to_numpy())


def _two_months(data_dir: Path) -> list[Path]:
    """Klines 2025-01-30 .. 2025-02-01 (two month files) and funding 2025-01-20 .. 02-05."""
    t = as_raw(bars(60 * 24 * 3, "2025-01-30"))
    write_dataset(data_dir, "um_klines_1m", "BTCUSDT", t)
    ft = pd.date_range("2025-01-20", "2025-02-05", freq="8h")
    write_dataset(data_dir, "um_funding_rate", "BTCUSDT", pa.table(
        {"funding_time": pa.array(ft.values.astype("datetime64[us]")),
         "funding_rate": np.full(len(ft), 1e-4)}))
    return list_files(data_dir, "um_klines_1m", "BTCUSDT")


def test_rows_outside_their_month_are_duplicates_across_files_naming_both(tmp_path: Path,
                                                                           capsys):
    data_dir = tmp_path / "raw"
    jan, feb = _two_months(data_dir)
    copy = feb.with_name("2025-03.parquet")  # a month file copied under another month's name
    shutil.copy(feb, copy)
    before = tree_digest(data_dir)
    with pytest.raises(RawDataError) as err:
        check_coverage(data_dir, ["BTC"], "2025-01-31", "2025-02-02", 1)
    text = str(err.value)
    assert str(copy) in text and str(feb) in text  # both files
    assert "outside its month 2025-03" in text and "duplicates across files" in text
    assert "1440 key(s) in both files" in text
    assert "lifthouse import it" in text
    assert tree_digest(data_dir) == before


def test_the_same_month_under_two_symbols_is_noted(tmp_path: Path):
    data_dir = tmp_path / "raw"
    jan, _ = _two_months(data_dir)
    eth = data_dir / "um_klines_1m" / "symbol=ETHUSDT" / jan.name
    eth.parent.mkdir()
    shutil.copy(jan, eth)
    rep = check_coverage(data_dir, ["BTC", "ETH"], "2025-01-31", "2025-02-02", 1)
    assert any("um_klines_1m 2025-01 holds the same rows under BTCUSDT and ETHUSDT" in n
               and str(eth) in n for n in rep.notes), rep.notes


# --------------------------------------------------------------------------------------------
# 9. content corruption inside a valid Parquet file


def _flip_silently(path: Path) -> tuple[int, int]:
    """Flip the first bit (in the data pages, so the footer stays valid) after which the file
    still reads without error but holds other rows. Returns (byte, bit)."""
    data = path.read_bytes()
    orig = pq.read_table(path)
    footer = int.from_bytes(data[-8:-4], "little")
    for pos in range(4, len(data) - 8 - footer):
        for bit in range(8):
            b = bytearray(data)
            b[pos] ^= 1 << bit
            path.write_bytes(bytes(b))
            try:
                t = pq.read_table(path)
            except Exception:  # noqa: BLE001 - a flip that breaks decoding: not silent
                continue
            if not t.equals(orig):
                return pos, bit
    raise AssertionError("no silent bit flip found")


def test_a_silent_bit_flip_is_named_by_preflight_and_never_merged(tmp_path: Path, capsys):
    data_dir = tmp_path / "raw"
    jan, feb = _two_months(data_dir)
    meta = pq.read_schema(jan).metadata
    assert meta[ORIGIN_KEY] == b"import" and meta[CHECKSUM_KEY] == rows_checksum(
        pq.read_table(jan)).encode()
    _flip_silently(jan)
    before = tree_digest(data_dir)
    rc = cli_main(["preflight", "--start", "2025-01-31", "--end", "2025-02-02", "--symbols",
                   "BTC", "--lookback-days", "1", "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert str(jan) in err and "do not match the checksum" in err
    assert "import or ingest that month again" in err
    # a later write into that month refuses to carry the corrupted rows into a new file
    more = as_raw(bars(10, "2025-01-20"))
    with pytest.raises(RawDataError, match="do not match the checksum"):
        write_dataset(data_dir, "um_klines_1m", "BTCUSDT", more)
    assert tree_digest(data_dir) == before


def test_files_without_a_checksum_are_accepted_with_a_note_and_can_get_one(tmp_path: Path,
                                                                          capsys):
    data_dir = tmp_path / "raw"
    files = _two_months(data_dir)
    for f in files:  # as written before checksums were recorded: the origin only
        t = pq.read_table(f)
        pq.write_table(t.replace_schema_metadata({ORIGIN_KEY: b"import"}), f)
    rows = {f: pq.read_table(f).replace_schema_metadata(None) for f in files}
    rc = cli_main(["preflight", "--start", "2025-01-31", "--end", "2025-02-02", "--symbols",
                   "BTC", "--lookback-days", "1", "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert rc == 0 and "preflight: OK" in out
    assert "2 of 4 file(s) read record no checksum" in out
    assert "lifthouse preflight --record-checksums" in out
    rc = cli_main(["preflight", "--record-checksums", "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert rc == 0 and "recorded the rows checksum of 2 file(s)" in out
    for f in files:
        meta = pq.read_schema(f).metadata
        assert meta[ORIGIN_KEY] == b"import"
        assert meta[CHECKSUM_KEY] == rows_checksum(pq.read_table(f)).encode()
        assert pq.read_table(f).replace_schema_metadata(None).equals(rows[f])
    digest = tree_digest(data_dir)
    rc = cli_main(["preflight", "--record-checksums", "--data-dir", str(data_dir)])
    assert rc == 0 and tree_digest(data_dir) == digest  # nothing left to record: no rewrite
    rep = check_coverage(data_dir, ["BTC"], "2025-01-31", "2025-02-02", 1)
    assert rep.ok and not rep.notes


def test_the_checksum_is_of_the_rows_not_of_the_bytes(tmp_path: Path):
    write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", as_raw(bars(500, "2025-01-01",
                                                                  extras=True)))
    t = pq.read_table(list_files(tmp_path, "um_klines_1m", "BTCUSDT")[0])
    again = tmp_path / "again.parquet"
    pq.write_table(t, again, compression="snappy", row_group_size=100)  # other bytes
    assert rows_checksum(pq.read_table(again)) == rows_checksum(t)
    changed = t.set_column(1, "open", pa.array([t.column("open")[0].as_py() + 1e-9]
                                               + t.column("open").to_pylist()[1:]))
    assert rows_checksum(changed) != rows_checksum(t)


# --------------------------------------------------------------------------------------------
# 7. a batch that conflicts with itself or with the store writes nothing


def test_two_files_of_one_import_that_disagree_write_nothing(tmp_path: Path):
    data_dir = tmp_path / "raw"
    write_dataset(data_dir, "um_klines_1m", "ETHUSDT", as_raw(bars(30, "2025-01-10")))
    a = bars(40, "2025-01-31 23:30")
    b = bars(40, "2025-01-31 23:50", seed=1)  # 20 bars in common with a, other values
    fa = write_parquet(a, tmp_path / "in" / "BTCUSDT-a.parquet")
    fb = write_parquet(b, tmp_path / "in" / "BTCUSDT-b.parquet")
    before = tree_digest(data_dir)
    with pytest.raises(RawDataError) as err:
        import_files([fa, fb], "um_klines_1m", data_dir=data_dir, **QUIET)
    text = str(err.value)
    assert str(fa) in text and str(fb) in text and "20 BTCUSDT row(s) differ" in text
    assert "nothing was written" in text
    assert tree_digest(data_dir) == before
    # files that agree where they overlap are one batch
    c = a.iloc[20:].copy()
    fc = write_parquet(c, tmp_path / "in" / "BTCUSDT-c.parquet")
    reps = import_files([fa, fc], "um_klines_1m", data_dir=data_dir, **QUIET)
    assert sum(r.rows_added for r in reps) == 40


def test_a_batch_whose_later_file_conflicts_with_the_store_writes_nothing(tmp_path: Path):
    data_dir = tmp_path / "raw"
    write_dataset(data_dir, "um_klines_1m", "BTCUSDT", as_raw(bars(30, "2025-01-10")))
    good = write_parquet(bars(30, "2025-03-01", seed=2), tmp_path / "in" / "ETHUSDT.parquet")
    bad = write_parquet(bars(30, "2025-01-10", seed=3), tmp_path / "in" / "BTCUSDT.parquet")
    before = tree_digest(data_dir)
    with pytest.raises(RawDataError, match="conflict with rows already stored.*nothing was "
                                           "written"):
        import_files([good, bad], "um_klines_1m", data_dir=data_dir, **QUIET)
    assert tree_digest(data_dir) == before  # ETHUSDT was not written either


# --------------------------------------------------------------------------------------------
# 10. disk full and Ctrl-C during an import; disk full during a run


def _fail_second_write(monkeypatch, exc: BaseException) -> list[Path]:
    real = raw.atomic_write_parquet
    calls: list[Path] = []

    def write(table, path, metadata=None):
        calls.append(Path(path))
        if len(calls) == 2:
            raise exc
        return real(table, path, metadata=metadata)

    monkeypatch.setattr(raw, "atomic_write_parquet", write)
    return calls


def _three_files(tmp_path: Path) -> list[Path]:
    return [write_parquet(bars(30, "2025-01-10", seed=i), tmp_path / "in" / f"{s}USDT.parquet")
            for i, s in enumerate(("BTC", "ETH", "SOL"))]


def _import_cli(files: list[Path], data_dir: Path) -> int:
    return cli_main(["import", "--dataset", "um_klines_1m", "--data-dir", str(data_dir),
                     *map(str, files)])


@pytest.mark.parametrize("fault", ["disk_full", "ctrl_c"])
def test_an_import_stopped_midway_says_what_was_written_and_a_rerun_completes_it(
        tmp_path: Path, monkeypatch, capsys, fault):
    files = _three_files(tmp_path)
    clean = tmp_path / "clean"
    assert _import_cli(files, clean) == 0
    data_dir = tmp_path / "raw"
    exc = (OSError(errno.ENOSPC, "No space left on device") if fault == "disk_full"
           else KeyboardInterrupt())
    calls = _fail_second_write(monkeypatch, exc)
    rc = _import_cli(files, data_dir)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = data_dir / "um_klines_1m" / "symbol=BTCUSDT" / "2025-01.parquet"
    second = data_dir / "um_klines_1m" / "symbol=ETHUSDT" / "2025-01.parquet"
    if fault == "disk_full":
        assert rc == 2
        assert "no space left on device while writing" in err and "fix: free disk space" in err
    else:
        assert rc == 130 and "interrupted (Ctrl-C) while writing" in err
    assert f"1 of 3 month file(s) of this import were written, each complete: {first}" in err
    assert str(second) in err and "A rerun of the same command completes it" in err
    assert len(calls) == 2 and first.exists() and not second.exists()
    assert not list((data_dir / "um_klines_1m").rglob(".*.tmp"))  # no temp file left
    monkeypatch.undo()
    assert _import_cli(files, data_dir) == 0
    assert tree_digest(data_dir) == tree_digest(clean)


class _FakeExport:
    files: dict = {}
    rows: dict = {}


@pytest.mark.parametrize("stage", ["export", "report", "manifest", "build"])
def test_disk_full_during_a_run_is_named_and_the_manifest_does_not_stay_running(
        tmp_path: Path, monkeypatch, stage):
    import lifthouse.data.atomic as atomic
    import lifthouse.run.stages as run
    from lifthouse.run.config import RunConfig
    from lifthouse.run.errors import RunError
    from lifthouse.run.log import RunLog

    data_dir = tmp_path / "raw"
    _sample(data_dir)
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "x"))
    monkeypatch.setattr(run, "start_build", lambda cfg, plan=None: None)
    if stage == "build":
        out = ("Runtime Error in model stg_binance__perp_klines\n  IO Error: Could not write "
               "file \"wh.duckdb.tmp/duckdb_temp_storage-0.tmp\": No space left on device\n"
               "Completed with 1 error, 0 partial successes, and 0 warnings:\n"
               "  Runtime Error in model x (models/x.sql)\n  IO Error: ... No space left on "
               "device\nDone. PASS=3 WARN=0 ERROR=1 SKIP=9 TOTAL=13")

        def build(cfg, log, started=None, plan=None):
            raise RunError(run.dbt_failure_message(out, 1, cfg.warehouse_path), 1)

        monkeypatch.setattr(run, "stage_build", build)
    else:
        monkeypatch.setattr(run, "stage_build", lambda cfg, log, started=None, plan=None: {})
    if stage == "export":
        monkeypatch.setattr(run, "stage_export", lambda cfg, log: (_ for _ in ()).throw(full))
    else:
        monkeypatch.setattr(run, "stage_export", lambda cfg, log: _FakeExport())
    if stage == "report":
        monkeypatch.setattr(run, "stage_report", lambda cfg, log: (_ for _ in ()).throw(full))
    else:
        monkeypatch.setattr(run, "stage_report", lambda cfg, log: {})
    monkeypatch.setattr(run, "stage_manifest", lambda *a, **k: {"timing": {}})
    # the disk is full from the moment the first manifest ("running") is written
    real, n = atomic.atomic_write_bytes, [0]

    def write_bytes(data, path):
        n[0] += 1
        if n[0] > 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(data, path)

    monkeypatch.setattr(atomic, "atomic_write_bytes", write_bytes)
    cfg = RunConfig(run_id="r1", symbols=["BTC"], data_dir=data_dir, out_dir=tmp_path / "out",
                    start_date=dt.date(2025, 1, 3), end_date=dt.date(2025, 1, 5),
                    lookback_days=1)
    with pytest.raises(RunError) as err:
        run.run_pipeline(cfg, RunLog(io.StringIO()))
    text = str(err.value)
    assert text.startswith("no space left on device")
    assert f"during {stage}" in text and "not a problem of dbt" in text
    last = text.splitlines()[-1]
    assert last.startswith("  fix: free disk space") and "dbt" not in last
    manifest = json.loads(cfg.layout.manifest_path.read_text())
    assert manifest["status"] == "failed" and manifest["stopped_in_stage"] == stage


# --------------------------------------------------------------------------------------------
# 11. paths with quotes, spaces, unicode and glob characters reach SQL quoted


def test_a_data_dir_with_a_quote_spaces_unicode_and_glob_characters(tmp_path: Path, capsys,
                                                            dbt_paths):
    from lifthouse.run.dbt import run_dbt

    data_dir = tmp_path / "it's a [raw] {dir} ünïcødé *?"
    _sample(data_dir)
    rc, text = _preflight(data_dir, capsys)
    assert rc == 0 and "preflight: OK" in text, text
    vars_ = {"raw_dir": str(data_dir), "symbols": ["BTCUSDT"], "start_date": "2025-01-03",
             "end_date": "2025-01-05", "lookback_days": 1}
    run = run_dbt(["build", "--select", "+stg_binance__perp_klines",
                   "stg_binance__liquidations", "--exclude-resource-type", "unit_test"],
                  vars=vars_, **dbt_paths)
    results = run.run_results()["results"]
    assert results and all(r["status"] in ("success", "pass") for r in results)
    import duckdb

    with duckdb.connect(str(dbt_paths["warehouse"]), read_only=True) as con:
        n = con.sql("select count(*) from stg_binance__perp_klines").fetchone()[0]
        n_liq = con.sql("select count(*) from stg_binance__liquidations").fetchone()[0]
    t = pa.concat_tables(pq.read_table(f) for f in list_files(data_dir, "um_klines_1m"))
    times = pd.Series(t.column("open_time").to_pandas())
    assert n == int(((times >= "2025-01-02") & (times < "2025-01-05")).sum()) > 0
    assert n_liq > 0  # raw_files_exist found the liquidations under the same path


# --------------------------------------------------------------------------------------------
# 18 (part): a data dir that is a file; OHLCV-only rows completed; the sample's fix message


@pytest.mark.parametrize("command", ["import", "ingest", "sample", "preflight", "run"])
def test_a_data_dir_that_is_a_file_is_a_clear_error(tmp_path: Path, capsys, command):
    a_file = tmp_path / "raw.parquet"
    a_file.write_bytes(b"not a folder")
    (tmp_path / "mirror").mkdir()
    args = {
        "import": ["import", "--dataset", "um_klines_1m",
                   str(write_parquet(bars(5, "2025-01-01"), tmp_path / "BTCUSDT.parquet"))],
        "ingest": ["ingest", "--symbols", "BTC", "--start", "2025-01-01", "--end",
                   "2025-01-02", "--datasets", "klines", "--mirror", str(tmp_path / "mirror")],
        "sample": ["sample", "--symbols", "BTC", "--start", "2025-01-03", "--end",
                   "2025-01-05", "--lookback-days", "1"],
        "preflight": ["preflight", "--start", "2025-01-03", "--end", "2025-01-05"],
        "run": ["run", "--run-id", "x", "--start-date", "2025-01-03", "--end-date",
                "2025-01-05", "--out-dir", str(tmp_path / "out")],
    }[command]
    rc = cli_main([*args, "--data-dir", str(a_file)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert rc == 2 and "Traceback" not in text
    assert f"{a_file}: the data directory is a file, not a folder" in text
    assert a_file.read_bytes() == b"not a folder"


def test_ohlcv_only_rows_are_completed_by_later_rows_with_the_optional_columns(tmp_path: Path):
    df = bars(60, "2025-01-31 23:30", extras=True)
    ohlcv = df[["open_time", "open", "high", "low", "close", "volume"]]
    rep = write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", as_raw(ohlcv), origin="import")
    assert rep.rows_added == 60
    # an ingest of the same bars with every column: the NULLs are filled, no conflict
    rep = write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", as_raw(df), origin="ingest")
    assert rep.rows_added == 0 and rep.rows_filled == 60 and len(rep.files_written) == 2
    assert "60 stored row(s) completed" in rep.summary()
    stored = raw.read_dataset(tmp_path, "um_klines_1m", "BTCUSDT").to_pandas()
    assert stored["count"].tolist() == df["count"].tolist()
    assert np.allclose(stored["quote_volume"], df["quote_volume"])
    for f in list_files(tmp_path, "um_klines_1m", "BTCUSDT"):
        assert pq.read_schema(f).metadata[ORIGIN_KEY] == b"import,ingest"
    # OHLCV-only rows again: the stored values stay, nothing is written
    digest = tree_digest(tmp_path)
    rep = write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", as_raw(ohlcv), origin="import")
    assert rep.files_written == [] and rep.rows_filled == 0
    assert tree_digest(tmp_path) == digest
    # a value that differs is still a conflict
    other = df.copy()
    other.loc[5, "count"] += 1
    with pytest.raises(RawDataError, match="1 row\\(s\\) conflict"):
        write_dataset(tmp_path, "um_klines_1m", "BTCUSDT", as_raw(other), origin="ingest")
    assert tree_digest(tmp_path) == digest


def test_the_fix_for_real_rows_into_a_generated_month_names_only_generated_files(
        tmp_path: Path):
    data_dir = tmp_path / "raw"
    _sample(data_dir)
    folder = data_dir / "um_klines_1m" / "symbol=BTCUSDT"
    real = write_parquet(bars(30, "2025-03-01"), tmp_path / "in" / "BTCUSDT-mar.parquet")
    import_files([real], "um_klines_1m", data_dir=data_dir, **QUIET)  # a real month beside
    before = tree_digest(data_dir)
    into = write_parquet(bars(30, "2025-01-20", seed=5), tmp_path / "in" / "BTCUSDT.parquet")
    with pytest.raises(RawDataError) as err:
        import_files([into], "um_klines_1m", data_dir=data_dir, **QUIET)
    hint = err.value.hint
    assert "2025-01.parquet" in hint and "2025-03.parquet" not in hint
    assert "delete only these 1 generated file(s)" in hint and str(folder) in hint
    assert "delete the sample's folder" not in str(err.value)
    assert tree_digest(data_dir) == before
