"""lifthouse.run.gate: a dbt build started ahead of time parses, then waits before it opens the
warehouse; released it builds, aborted it exits having opened nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from lifthouse.run import gate
from lifthouse.run.dbt import dbt_env, start_dbt


def _parsed(target_dir: Path, since: float, timeout: float = 120.0) -> None:
    """Wait until dbt has written the manifest of its parse (it reaches its gate right after)."""
    manifest = target_dir / "manifest.json"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if manifest.exists() and manifest.stat().st_mtime >= since:
            return
        time.sleep(0.05)
    raise AssertionError(f"dbt wrote no manifest in {timeout} s")


def _start(tmp_path: Path, gated: bool = True):
    paths = {"warehouse": tmp_path / "wh.duckdb", "target_dir": tmp_path / "target"}
    since = time.time() - 1
    started = start_dbt(["build", "--select", "candidate_horizons"], gated=gated, **paths)
    return started, paths, since


def test_a_gated_build_parses_then_waits_until_released(tmp_path: Path):
    started, paths, since = _start(tmp_path)
    _parsed(paths["target_dir"], since)
    time.sleep(1.0)                       # time enough to open the warehouse, were it not held
    assert started.returncode is None and started.pending
    assert not paths["warehouse"].exists(), "dbt opened the warehouse before it was released"
    run = started.finish()
    assert run.returncode == 0 and "Completed successfully" in run.stdout
    assert "Found" in run.stdout          # the parse's lines, said while it waited, are kept
    with duckdb.connect(str(paths["warehouse"]), read_only=True) as con:
        assert con.sql("select count(*) from candidate_horizons").fetchone()[0] > 0


def test_an_aborted_build_exits_at_its_gate_having_opened_nothing(tmp_path: Path):
    started, paths, since = _start(tmp_path)
    _parsed(paths["target_dir"], since)
    time.sleep(0.5)
    started.abort()
    assert started.returncode == gate.CLOSED_EXIT     # its own exit, not a signal
    assert not started.pending
    assert not paths["warehouse"].exists()
    assert not (paths["target_dir"] / "run_results.json").exists()


def test_a_build_stopped_while_parsing_leaves_no_process(tmp_path: Path):
    started, paths, _ = _start(tmp_path)
    started.abort(wait_seconds=0.0)       # long before its parse is done
    assert started.returncode is not None
    assert not paths["warehouse"].exists()


def test_an_ungated_start_builds_at_once(tmp_path: Path):
    started, paths, _ = _start(tmp_path, gated=False)
    assert not started.pending
    assert started.finish().returncode == 0


def test_the_plain_dbt_executable_starts_only_when_released(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LIFTHOUSE_FAST_DBT_EXIT", "0")    # no dbt_main, so no gate
    started, paths, _ = _start(tmp_path)
    assert started.pending and started.returncode is None
    time.sleep(0.5)
    assert not (paths["target_dir"] / "manifest.json").exists()
    assert started.finish().returncode == 0


def test_no_child_inherits_a_gate(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(gate.GATE_ENV, "99")
    assert gate.GATE_ENV not in dbt_env(tmp_path / "w.duckdb", tmp_path / "t")


def test_install_without_a_gate_changes_nothing():
    from dbt.task.runnable import GraphRunnableTask

    before = GraphRunnableTask.execute_with_hooks
    assert gate.install({}) is False
    assert GraphRunnableTask.execute_with_hooks is before


@pytest.mark.parametrize("released", [True, False])
def test_wait_reads_the_parents_word(released: bool):
    read_end, write_end = gate.open_gate()
    if released:
        gate.release(write_end)
    else:
        os.close(write_end)
    assert gate.wait(read_end) is released


def test_runs_names_the_command_it_would_start(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LIFTHOUSE_FAST_DBT_EXIT", "0")    # nothing is spawned before release
    paths = {"warehouse": tmp_path / "wh.duckdb", "target_dir": tmp_path / "target"}
    started = start_dbt(["build", "--select", "x"], vars={"run_id": "a"}, gated=True, **paths)
    assert started.runs(["build", "--select", "x"], {"run_id": "a"}, None, **paths)
    assert not started.runs(["build", "--select", "y"], {"run_id": "a"}, None, **paths)
    assert not started.runs(["build", "--select", "x"], {"run_id": "b"}, None, **paths)
    assert not started.runs(["build", "--select", "x"], {"run_id": "a"}, {"K": "v"}, **paths)
    assert not started.runs(["build", "--select", "x"], {"run_id": "a"}, None,
                            warehouse=tmp_path / "other.duckdb", target_dir=paths["target_dir"])
    started.abort()


def test_a_run_whose_preflight_fails_stops_its_early_dbt(tmp_path: Path, monkeypatch):
    import datetime as dt
    import io

    import lifthouse.run.stages as stages
    from lifthouse.run.config import RunConfig
    from lifthouse.run.errors import RunError
    from lifthouse.run.log import RunLog

    seen = []
    real = stages.start_build
    monkeypatch.setattr(stages, "start_build",
                        lambda cfg, plan=None: seen.append(real(cfg, plan)) or seen[-1])
    cfg = RunConfig(run_id="r1", symbols=["BTC"], data_dir=tmp_path / "raw",
                    out_dir=tmp_path / "out", start_date=dt.date(2025, 1, 3),
                    end_date=dt.date(2025, 1, 5), lookback_days=1)   # no raw data: preflight fails
    with pytest.raises(RunError, match="pre-flight failed"):
        stages.run_pipeline(cfg, RunLog(io.StringIO()))
    assert len(seen) == 1 and seen[0] is not None
    assert seen[0].returncode is not None and not seen[0].pending   # stopped, not left waiting
    assert not cfg.warehouse_path.exists()


def test_an_aborted_build_leaves_no_warehouse_folder(tmp_path: Path):
    paths = {"warehouse": tmp_path / "out" / "warehouse" / "wh.duckdb",
             "target_dir": tmp_path / "target"}
    started = start_dbt(["build", "--select", "candidate_horizons"], gated=True, **paths)
    started.abort(wait_seconds=0.0)
    assert not (tmp_path / "out").exists()


def test_the_early_start_is_the_build_the_build_stage_runs(tmp_path: Path):
    """Otherwise stage_build would stop it and start another: correct, but the gain is gone."""
    import datetime as dt

    import lifthouse.run.stages as stages
    from lifthouse.run.config import RunConfig

    cfg = RunConfig(run_id="r1", symbols=["BTC"], data_dir=tmp_path / "raw",
                    out_dir=tmp_path / "out", start_date=dt.date(2025, 1, 3),
                    end_date=dt.date(2025, 1, 5), lookback_days=1)
    started = stages.start_build(cfg)
    try:
        assert started is not None and started.pending
        assert started.runs(**stages._dbt_call(cfg, *stages.build_command(cfg)))
    finally:
        started.abort(wait_seconds=0.0)
