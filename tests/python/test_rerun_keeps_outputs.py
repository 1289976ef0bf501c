"""Reruns of a run id never lose its last complete outputs (issue 35, item 1): whatever can be
checked before the build (the warehouse lock, the environment) is checked before any output is
moved, and a failed attempt never replaces the last complete set in ``previous/<run_id>/``.
Fast: no dbt build (the outputs of a "complete run" are laid out by hand)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lifthouse.run.config import RunConfig
from lifthouse.run.errors import RunError
from lifthouse.run.log import RunLog
from lifthouse.run.stages import run_pipeline


def config(tmp_path: Path) -> RunConfig:
    return RunConfig(run_id="rp", symbols=["BTC"], data_dir=tmp_path / "raw",
                     out_dir=tmp_path / "out", start_date=dt.date(2025, 1, 3),
                     end_date=dt.date(2025, 1, 5), lookback_days=1)


def lay_out_complete_run(cfg: RunConfig) -> None:
    """The files a complete run leaves: exports, tables, manifest (status complete), log, report."""
    lay = cfg.layout
    for folder, name in ((lay.ablation_dir, "lift_summary.csv"), (lay.phase2_dir, "trades.csv"),
                         (cfg.report_dir, "executive_summary.md")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"the good {name}\n")
    lay.run_dir.mkdir(parents=True, exist_ok=True)
    lay.manifest_path.write_text(json.dumps({"status": "complete", "run_id": cfg.run_id}))
    lay.log_path.write_text("the good run's log\n")


def listing(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def held_warehouse(tmp_path: Path):
    """The run's warehouse file held open by another process (as the README's DuckDB CLI does)."""
    cfg = config(tmp_path)
    cfg.warehouse_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(120)", str(cfg.warehouse_path)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield cfg
    holder.kill()
    holder.wait()


def test_reruns_on_a_locked_warehouse_leave_the_complete_outputs_untouched(held_warehouse,
                                                                           tmp_path):
    cfg = held_warehouse
    lay_out_complete_run(cfg)
    before = listing(cfg.out_dir)
    for _ in range(2):
        with pytest.raises(RunError, match="is locked by another process") as exc:
            run_pipeline(cfg, RunLog(io.StringIO()))
        assert f"the outputs of {cfg.run_id} were not touched" in str(exc.value)
    assert listing(cfg.out_dir) == before      # not moved, not overwritten by a failed manifest


@pytest.mark.parametrize("name,value,match", [
    ("LIFTHOUSE_DUCKDB_THREADS", "0", "LIFTHOUSE_DUCKDB_THREADS=0 must be >= 1"),
    ("LIFTHOUSE_DUCKDB_THREADS", "two", "LIFTHOUSE_DUCKDB_THREADS='two' must be a whole number"),
    ("LIFTHOUSE_LIFT_WORKERS", "0", "LIFTHOUSE_LIFT_WORKERS=0 must be >= 1"),
    ("LIFTHOUSE_DUCKDB_MEMORY_LIMIT", "lots", "LIFTHOUSE_DUCKDB_MEMORY_LIMIT='lots' is not a "
                                              "memory size"),
])
def test_a_bad_environment_is_refused_before_the_outputs_are_touched(tmp_path, monkeypatch,
                                                                     name, value, match):
    cfg = config(tmp_path)
    lay_out_complete_run(cfg)
    before = listing(cfg.out_dir)
    monkeypatch.setenv(name, value)
    with pytest.raises(RunError, match=match):
        run_pipeline(cfg, RunLog(io.StringIO()))
    assert listing(cfg.out_dir) == before


def test_failed_reruns_never_replace_the_last_complete_outputs(tmp_path):
    """An empty raw layer: each rerun fails in the preflight, after the outputs were moved."""
    cfg = config(tmp_path)
    lay_out_complete_run(cfg)
    good = listing(cfg.out_dir)
    kept = cfg.out_dir / "previous" / cfg.run_id
    for attempt in range(3):
        with pytest.raises(RunError, match="pre-flight failed"):
            run_pipeline(cfg, RunLog(io.StringIO()))
        # the complete set is in previous/<run_id>/, byte for byte, after every failed attempt
        assert {f"{k}": v for k, v in listing(kept).items()} == {
            _moved_name(cfg, k): v for k, v in good.items()}
        # the failed attempt's own outputs are in place, saying so
        assert json.loads(cfg.layout.manifest_path.read_text())["status"] == "failed"
        if attempt:
            failed = cfg.out_dir / "previous" / f"{cfg.run_id}.incomplete"
            manifest = next(failed.rglob("manifest.json"))
            assert json.loads(manifest.read_text())["status"] == "failed"


def _moved_name(cfg: RunConfig, rel: str) -> str:
    """Where a file of the run id's outputs lands inside ``previous/<run_id>/``."""
    path = cfg.out_dir / rel
    lay = cfg.layout
    for name, folder in (("ablation", lay.ablation_dir), ("phase2", lay.phase2_dir),
                         ("runs", lay.run_dir), ("reports", cfg.report_dir)):
        if path.is_relative_to(folder) or folder in path.parents:
            return str(Path(name) / path.relative_to(folder))
    raise AssertionError(rel)


def test_a_complete_rerun_replaces_the_older_complete_copy(tmp_path):
    cfg = config(tmp_path)
    kept = cfg.out_dir / "previous" / cfg.run_id
    kept.mkdir(parents=True)
    (kept / "stale.txt").write_text("an older complete run\n")
    lay_out_complete_run(cfg)
    with pytest.raises(RunError, match="pre-flight failed"):
        run_pipeline(cfg, RunLog(io.StringIO()))
    assert not (kept / "stale.txt").exists()
    assert (kept / "reports" / "executive_summary.md").read_text() == \
        "the good executive_summary.md\n"
