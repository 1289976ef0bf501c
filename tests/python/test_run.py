"""The orchestrator's CLI and its fast failure paths (no dbt build)."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from lifthouse import cli
from lifthouse.run.command import add_run_arguments
from lifthouse.run.config import RunConfig, effective_vars, parse_var
from lifthouse.run.errors import RunError
from lifthouse.run.stages import dbt_failure_message


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_run_arguments(p)
    return p.parse_args(argv)


def config(tmp_path: Path, **kw) -> RunConfig:
    base = dict(run_id="r1", start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 3),
                symbols=["BTC"], data_dir=tmp_path / "raw", out_dir=tmp_path / "out")
    base.update(kw)
    return RunConfig(**base)


def test_both_spellings_and_defaults():
    a = parse(["--run_id", "x", "--start_date", "2025-01-01", "--end_date", "2025-03-01"])
    b = parse(["--run-id", "x", "--start-date", "2025-01-01", "--end-date", "2025-03-01",
               "--lookback_days", "7", "--data_dir", "d"])
    assert a.run_id == b.run_id == "x"
    assert a.start_date == b.start_date == dt.date(2025, 1, 1)
    assert a.symbols == "BTC,ETH,SOL" and a.lookback_days == 7 and a.fill is None
    assert b.data_dir == "d"
    assert parse(["--run-id", "x", "--start-date", "2025-01-01", "--end-date", "2025-01-02",
                  "--generate"]).fill == "generate"
    with pytest.raises(SystemExit):
        parse(["--run-id", "x", "--start-date", "2025-01-01", "--end-date", "2025-01-02",
               "--generate", "--ingest"])


def test_config_vars_and_isolation(tmp_path):
    cfg = config(tmp_path, symbols=["BTC", "ethusdt", "SOL"], extra_vars={"n_boot": 50})
    assert cfg.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    v = cfg.dbt_vars()
    assert v["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"] and v["n_boot"] == 50
    assert v["start_date"] == "2025-01-01" and v["end_date"] == "2025-01-03"
    assert Path(v["raw_dir"]).is_absolute()
    assert list(v) == sorted(v)  # stable JSON for dbt
    other = config(tmp_path, run_id="r2")
    # two run_ids never share a warehouse, a dbt target or an output folder
    assert cfg.warehouse_path != other.warehouse_path
    assert cfg.target_dir != other.target_dir
    assert cfg.layout.ablation_dir != other.layout.ablation_dir
    assert cfg.report_dir != other.report_dir
    eff = effective_vars(cfg)
    assert eff["n_boot"] == 50 and eff["run_id"] == "r1"
    assert "lift_min_n" in eff  # project defaults are part of the effective vars


@pytest.mark.parametrize("text,expected", [
    ("n_boot=500", ("n_boot", 500)), ("lift_alpha=0.1", ("lift_alpha", 0.1)),
    ("phase2_q_column=q_by", ("phase2_q_column", "q_by")), ("flag=true", ("flag", True)),
])
def test_parse_var(text, expected):
    assert parse_var(text) == expected


@pytest.mark.parametrize("kw,match", [
    (dict(run_id="../evil"), "run_id"),
    (dict(end_date=dt.date(2025, 1, 1)), "after start_date"),
    (dict(extra_vars={"symbols": ["X"]}), "dedicated option"),
    (dict(lookback_days=-1), "lookback"),
])
def test_bad_config(tmp_path, kw, match):
    with pytest.raises(RunError, match=match):
        config(tmp_path, **kw)
    with pytest.raises(RunError):
        parse_var("novalue")


def test_preflight_fails_fast_with_ingest_command(tmp_path, capsys):
    rc = cli.main(["run", "--run_id", "pf", "--start_date", "2025-01-01", "--end_date",
                   "2025-01-03", "--symbols", "BTC", "--data-dir", str(tmp_path / "raw"),
                   "--out-dir", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "pre-flight failed" in err and "lifthouse ingest --symbols BTCUSDT" in err
    assert "--ingest" in err and "--generate" in err
    assert "[1/5] preflight" in out
    assert not (tmp_path / "out" / "warehouse").exists()  # nothing was built
    assert (tmp_path / "out" / "data" / "reports" / "runs" / "pf" / "run.log").exists()


def test_dbt_failure_message_is_short_and_names_the_failure(tmp_path):
    out = "\n".join(["x"] * 100 + [
        "04:32:25  Completed with 1 error, 0 partial successes, and 0 warnings:",
        "04:32:25  Failure in test row_rules_foo (models/x.yml)",
        "04:32:25    Got 2 results, configured to fail if != 0",
        "04:32:25  Done. PASS=190 WARN=0 ERROR=1 SKIP=6 NO-OP=0 TOTAL=197"])
    msg = dbt_failure_message(out, 1, tmp_path / "w.duckdb")
    assert "Failure in test row_rules_foo" in msg and "Got 2 results" in msg
    assert "PASS=190" not in msg and msg.count("\n") < 10
    # with the failing rows of the failed tests (lifthouse.run.dbt.failed_test_rows)
    rows = ["row_rules_foo: failing rows", "  rule_name=bar, failing_rows=3, rule=x > 0"]
    with_rows = dbt_failure_message(out, 1, tmp_path / "w.duckdb", rows)
    assert "\n  row_rules_foo: failing rows\n    rule_name=bar, failing_rows=3" in with_rows
    locked = dbt_failure_message('IO Error: Could not set lock on file "w.duckdb"', 1,
                                 tmp_path / "w.duckdb")
    assert "locked by another process" in locked


def test_locked_warehouse_fails_before_building(tmp_path, capsys):
    from lifthouse.data.sample import generate

    raw = tmp_path / "raw"
    generate(raw, symbols=["BTCUSDT"], start="2025-01-02", end="2025-01-03", lookback_days=1)
    wh = tmp_path / "out" / "warehouse" / "lk.duckdb"
    wh.parent.mkdir(parents=True)
    duckdb.connect(str(wh)).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(wh)!r})
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = cli.main(["run", "--run-id", "lk", "--start-date", "2025-01-02", "--end-date",
                       "2025-01-03", "--symbols", "BTC", "--lookback-days", "1",
                       "--data-dir", str(raw), "--out-dir", str(tmp_path / "out")])
    finally:
        holder.kill()
        holder.wait()
    out, err = capsys.readouterr()
    assert rc == 1
    assert "locked by another process" in err and "exported Parquet" in err
    assert "dbt build" not in out  # failed before dbt started


def test_reproduce_commands_name_the_fill_and_the_run(tmp_path):
    import datetime as dt

    from lifthouse.data.raw import write_dataset
    from lifthouse.run.config import RunConfig
    from lifthouse.run.reproduce import reproduce_commands

    import pyarrow as pa

    raw = tmp_path / "raw"
    t = pa.array([dt.datetime(2025, 1, 1)], type=pa.timestamp("us"))
    write_dataset(raw, "um_funding_rate", "BTCUSDT", pa.table({"funding_time": t, "funding_rate": [1e-4]}))
    cfg = RunConfig(run_id="r1", start_date=dt.date(2025, 1, 8), end_date=dt.date(2025, 2, 1),
                    symbols=["BTC"], data_dir=raw, out_dir=tmp_path / "out", lookback_days=7,
                    extra_vars={"n_boot": 500})
    lines = reproduce_commands(cfg)
    ingest = next(x for x in lines if x.startswith("lifthouse ingest"))
    # the window plus lookback, and exactly the datasets the raw layout holds
    assert "--start 2025-01-01 --end 2025-02-01" in ingest
    assert "--datasets um_funding_rate " in ingest and "BTCUSDT" in ingest
    run = next(x for x in lines if x.startswith("lifthouse run"))
    assert "--run-id r1" in run and "--var n_boot=500" in run
    synthetic = RunConfig(run_id="r2", start_date=dt.date(2025, 1, 8), end_date=dt.date(2025, 2, 1),
                          symbols=["BTC"], data_dir=raw, out_dir=tmp_path / "out", lookback_days=7,
                          synthetic=True, sample_seed=7)
    assert any(x.startswith("lifthouse sample") and "--seed 7" in x
               for x in reproduce_commands(synthetic))


def test_reproduce_commands_say_an_ohlcv_only_run_imported_local_files(tmp_path):
    """OHLCV-only klines (the shared real data) cannot be reproduced by an archive ingest,
    whose 12-column klines carry quote volume (used by `illiquidity`): the commands import the
    local files and say why."""
    import datetime as dt

    import pyarrow as pa

    from lifthouse.data.raw import write_dataset
    from lifthouse.run.config import RunConfig
    from lifthouse.run.reproduce import klines_ohlcv_only, reproduce_commands

    raw = tmp_path / "raw"
    t = pa.array([dt.datetime(2025, 1, 1, 0, m) for m in range(3)], type=pa.timestamp("us"))
    px = pa.array([100.0, 101.0, 102.0])
    write_dataset(raw, "um_klines_1m", "BTCUSDT", pa.table(
        {"open_time": t, "open": px, "high": px, "low": px, "close": px, "volume": px}))
    cfg = RunConfig(run_id="r1", start_date=dt.date(2025, 1, 8), end_date=dt.date(2025, 2, 1),
                    symbols=["BTC"], data_dir=raw, out_dir=tmp_path / "out", lookback_days=7)
    assert klines_ohlcv_only(raw)
    lines = reproduce_commands(cfg)
    imp = [x for x in lines if x.startswith("lifthouse import")]
    assert imp == [f'lifthouse import --dataset um_klines_1m --data-dir {raw} '
                   '"$LOCAL/um_klines_1m"/*.parquet']
    assert not any(x.startswith("lifthouse ingest") for x in lines)   # only as a comment
    text = "\n".join(lines)
    assert "OHLCV only" in text and "quote volume" in text and "illiquidity" in text
    assert lines[-1].startswith("lifthouse run --run-id r1")
    # with quote volume the archive ingest is the fill again
    raw2 = tmp_path / "raw2"
    write_dataset(raw2, "um_klines_1m", "BTCUSDT", pa.table(
        {"open_time": t, "open": px, "high": px, "low": px, "close": px, "volume": px,
         "quote_volume": px}))
    assert not klines_ohlcv_only(raw2)
    cfg2 = RunConfig(**{**cfg.__dict__, "data_dir": raw2})
    assert any(x.startswith("lifthouse ingest") for x in reproduce_commands(cfg2))
