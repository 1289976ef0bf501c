"""lifthouse.run.dbt_main: dbt's CLI with a quick exit. Same exit codes and outputs as dbt; the
warehouse is closed (checkpointed) before the process ends."""

from __future__ import annotations

import duckdb
import pytest

from lifthouse.run.dbt import DbtError, dbt_command, dbt_executable, run_dbt
from lifthouse.run.dbt_main import _wal_left


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """One warehouse and target folder for the module: dbt parses the project once, later
    commands reuse its partial parse."""
    d = tmp_path_factory.mktemp("dbt_main")
    return {"warehouse": d / "wh.duckdb", "target_dir": d / "target"}


def test_runs_start_dbt_through_dbt_main(monkeypatch):
    monkeypatch.delenv("LIFTHOUSE_FAST_DBT_EXIT", raising=False)
    assert dbt_command(["build"])[1:] == ["-m", "lifthouse.run.dbt_main", "build"]
    monkeypatch.setenv("LIFTHOUSE_FAST_DBT_EXIT", "0")
    assert dbt_command(["build"]) == [dbt_executable(), "build"]


def test_a_build_leaves_a_closed_readable_warehouse(paths):
    run = run_dbt(["build", "--select", "candidate_horizons"], **paths)
    assert run.returncode == 0 and "Completed successfully" in run.stdout
    wh = paths["warehouse"]
    assert not _wal_left(str(wh)), "the checkpoint was skipped: a write-ahead log is left"
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql("select count(*) from candidate_horizons").fetchone()[0] > 0
    assert (paths["target_dir"] / "run_results.json").exists()


def test_dbt_errors_keep_their_exit_code(paths):
    with pytest.raises(DbtError, match=r"failed \(exit [12]\)(.|\n)*no_such_macro"):
        run_dbt(["run-operation", "no_such_macro"], **paths)


def test_a_command_without_a_warehouse_exits_normally(paths):
    # `dbt parse` opens no DuckDB environment: dbt_main takes the usual exit
    run = run_dbt(["parse"], **paths)
    assert run.returncode == 0
    assert (paths["target_dir"] / "manifest.json").exists()


def test_wal_left(tmp_path):
    wh = tmp_path / "w.duckdb"
    assert not _wal_left(str(wh)) and not _wal_left(None) and not _wal_left("")
    (tmp_path / "w.duckdb.wal").write_bytes(b"")
    assert _wal_left(str(wh))
