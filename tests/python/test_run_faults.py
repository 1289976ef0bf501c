"""Runs that must fail clearly (before building) or be labelled by what they read
(docs/failure_modes.md). Fast: no full dbt build."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lifthouse import cli
from lifthouse.run.dbt import run_dbt
from lifthouse.data.importer import import_files
from lifthouse.run.config import RunConfig
from lifthouse.run.errors import RunError
from lifthouse.run.log import RunLog
from lifthouse.run.reproduce import reproduce_commands
from lifthouse.run.stages import run_pipeline
from lifthouse.data.sample import generate

WINDOW = dict(start_date=dt.date(2025, 1, 3), end_date=dt.date(2025, 1, 5), lookback_days=1)


def config(tmp_path: Path, **kw) -> RunConfig:
    base = dict(run_id="r1", symbols=["BTC"], data_dir=tmp_path / "raw",
                out_dir=tmp_path / "out", **WINDOW)
    base.update(kw)
    return RunConfig(**base)


def _sample(data_dir: Path, symbols: list[str]) -> None:
    generate(data_dir, symbols=symbols, start="2025-01-03", end="2025-01-05", lookback_days=1)


@pytest.fixture
def real_btc_beside_a_sample(tmp_path: Path) -> Path:
    """A data dir holding a generated sample for SOLUSDT and *imported* (real) BTCUSDT klines
    and funding: the BTCUSDT rows are copied out of another sample and imported, so their
    recorded origin is `import`."""
    data_dir = tmp_path / "raw"
    _sample(data_dir, ["SOLUSDT"])
    other = tmp_path / "other"
    _sample(other, ["BTCUSDT"])
    for ds in ("um_klines_1m", "um_funding_rate"):
        files = sorted((other / ds / "symbol=BTCUSDT").glob("*.parquet"))
        for i, f in enumerate(files):
            dest = tmp_path / "in" / ds / f"BTCUSDT-{i}.parquet"
            dest.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pq.read_table(f).replace_schema_metadata(None), dest)
            import_files([dest], ds, data_dir=data_dir, naive_tz="UTC", log=lambda *_: None)
    return data_dir


def test_a_real_run_beside_a_sample_is_labelled_real(tmp_path: Path, real_btc_beside_a_sample,
                                                     monkeypatch):
    import lifthouse.run.stages as run

    def stop(cfg, log, started=None, plan=None):  # stop after the label is decided: no dbt build needed
        raise RunError("stop here")

    monkeypatch.setattr(run, "stage_build", stop)
    cfg = config(tmp_path, data_dir=real_btc_beside_a_sample)
    with pytest.raises(RunError, match="stop here"):
        run_pipeline(cfg, RunLog(io.StringIO()))
    assert cfg.synthetic is False
    lines = reproduce_commands(cfg)
    assert not any(x.startswith("lifthouse sample") for x in lines)
    assert any(x.startswith("lifthouse ingest") for x in lines)
    # and the sample's own symbol is labelled synthetic
    sol = config(tmp_path, data_dir=real_btc_beside_a_sample, symbols=["SOL"], run_id="r2")
    with pytest.raises(RunError, match="stop here"):
        run_pipeline(sol, RunLog(io.StringIO()))
    assert sol.synthetic is True
    # a run over both would mix them: refused
    both = config(tmp_path, data_dir=real_btc_beside_a_sample, symbols=["BTC", "SOL"],
                  run_id="r3")
    with pytest.raises(RunError, match="generated sample files .* and real files"):
        run_pipeline(both, RunLog(io.StringIO()))


def test_a_failed_stage_is_not_reported_done_and_the_manifest_says_failed(tmp_path: Path):
    log = RunLog(io.StringIO())
    cfg = config(tmp_path)  # empty raw dir: preflight fails
    with pytest.raises(RunError, match="pre-flight failed"):
        run_pipeline(cfg, log)
    text = "\n".join(log.lines)
    assert "[1/5] preflight failed after" in text
    assert "preflight done" not in text and "done in" not in text
    manifest = json.loads(cfg.layout.manifest_path.read_text())
    assert manifest["status"] == "failed" and manifest["stopped_in_stage"] == "preflight"
    assert "pre-flight failed" in manifest["error"]
    assert "failed during preflight" in cfg.layout.log_path.read_text()


@pytest.mark.parametrize("var,match", [
    ("n_boot=abc", r"--var n_boot=abc: n_boot takes an integer \(default 2000"),
    ("n_boot=1.5", r"n_boot takes an integer"),
    ("lift_alpha=x", r"lift_alpha takes a number"),
    ("fault_ignore_condition_filter=1", r"takes true/false"),
    ("no_such_var=1", r"declares no var 'no_such_var'"),
    ("nboot=100", r"declares no var 'nboot'; did you mean n_boot"),
])
def test_vars_are_checked_against_dbt_project_before_anything_runs(tmp_path, capsys, var, match):
    rc = cli.main(["run", "--run-id", "x", "--start-date", "2025-01-01", "--end-date",
                   "2025-01-02", "--data-dir", str(tmp_path / "raw"), "--out-dir",
                   str(tmp_path / "out"), "--var", var])
    assert rc == 2
    captured = capsys.readouterr()
    import re
    assert re.search(match, captured.err), captured.err
    assert not (tmp_path / "out").exists()  # refused before any output


def test_an_unwritable_out_dir_is_a_clear_error(tmp_path: Path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(out, os.W_OK):  # root ignores the mode: use a path below a file instead
        (tmp_path / "a_file").write_text("")
        out = tmp_path / "a_file" / "out"
    try:
        rc = cli.main(["run", "--run-id", "x", "--start-date", "2025-01-01", "--end-date",
                       "2025-01-02", "--data-dir", str(tmp_path / "raw"), "--out-dir", str(out)])
    finally:
        (tmp_path / "ro").chmod(0o755)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "cannot write the run's outputs" in err and "--out-dir" in err


def test_garbage_parquet_anywhere_in_the_raw_layer_is_named_by_preflight(tmp_path: Path, capsys):
    data_dir = tmp_path / "raw"
    _sample(data_dir, ["BTCUSDT"])
    bad = data_dir / "um_klines_1m" / "symbol=ETHUSDT" / "2019-06.parquet"  # outside the window
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 this is not parquet")
    rc = cli.main(["preflight", "--start", "2025-01-03", "--end", "2025-01-05", "--symbols",
                   "BTC", "--lookback-days", "1", "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert str(bad) in err and "move it out of the raw layer" in err


# --------------------------------------------------------------------------------------------
# dbt itself: an empty raw layer fails; a malformed window var is one clear error


def _dbt_build(tmp_path: Path, vars_: dict):
    return run_dbt(["build", "--select", "+assert_window_has_perp_bars", "--exclude-resource-type",
                    "unit_test", "--no-use-colors"], warehouse=tmp_path / "wh.duckdb",
                   target_dir=tmp_path / "target", vars=vars_, check=False)


def test_dbt_on_an_empty_raw_layer_fails_naming_raw_dir_and_window(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = _dbt_build(tmp_path, {"raw_dir": str(empty), "start_date": "2025-01-03",
                                "end_date": "2025-01-05"})
    assert run.returncode != 0, run.stdout[-2000:]
    assert f"no USD-M perp 1m bars in raw_dir {empty}" in run.stdout
    assert "[2025-01-03, 2025-01-05)" in run.stdout


def test_dbt_with_a_malformed_date_var_gives_one_error_naming_it(tmp_path: Path):
    run = _dbt_build(tmp_path, {"raw_dir": str(tmp_path), "start_date": "not-a-date"})
    assert run.returncode != 0
    assert run.stdout.count("var start_date = \"not-a-date\" is not a date") == 1, run.stdout
    assert "Conversion Error" not in run.stdout


# --------------------------------------------------------------------------------------------
# the CLI: --version, a help text for every option, both window spellings everywhere


def test_version_and_a_help_text_for_every_argument(capsys):
    import argparse

    from lifthouse import __version__

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"lifthouse {__version__}"
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [(name, act.option_strings or act.dest) for name, p in sub.choices.items()
               for act in p._actions if not act.help]
    assert not missing, missing


@pytest.mark.parametrize("command", ["preflight", "ingest", "sample", "run"])
def test_both_window_spellings_are_accepted(command):
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {o for act in sub.choices[command]._actions for o in act.option_strings}
    assert {"--start", "--end", "--start-date", "--end-date"} <= options


def test_a_sample_written_before_origins_were_recorded_is_still_labelled_synthetic(
        tmp_path: Path, monkeypatch):
    """Files without a recorded origin count as real, except those an older sample generator
    wrote (its ground truth names their symbols and months)."""
    import lifthouse.run.stages as run
    from lifthouse.data.raw import list_files

    data_dir = tmp_path / "raw"
    _sample(data_dir, ["BTCUSDT"])
    for f in list_files(data_dir, "um_klines_1m", "BTCUSDT"):  # strip the origin
        pq.write_table(pq.read_table(f).replace_schema_metadata(None), f)
    monkeypatch.setattr(run, "stage_build", lambda cfg, log, started=None, plan=None: (_ for _ in ()).throw(
        RunError("stop here")))
    cfg = config(tmp_path, data_dir=data_dir)
    with pytest.raises(RunError, match="stop here"):
        run_pipeline(cfg, RunLog(io.StringIO()))
    assert cfg.synthetic is True
