"""End to end: the orchestrator on a small generated sample (3 symbols x 20 days + 7 days of
lookback), twice. Slow (~1 min): it builds the whole warehouse with dbt two times."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pandas as pd
import pytest

from lifthouse import cli

pytestmark = pytest.mark.slow

START, END = "2025-01-08", "2025-01-28"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run twice; keep the first run's files to compare with the second's."""
    tmp = tmp_path_factory.mktemp("e2e")
    results = []
    for i in range(2):
        out, err = io.StringIO(), io.StringIO()
        # the second run builds cold too (--fresh): two cold builds give the same manifest;
        # reusing the stored data layer is tested in test_layer_runs.py
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["run", "--run_id", "e2e", "--start_date", START, "--end_date", END,
                           "--symbols", "BTC,ETHUSDT,SOL", "--lookback-days", "7", "--generate",
                           "--data-dir", str(tmp / "raw"), "--out-dir", str(tmp / "out"),
                           "--var", "n_boot=200", *(["--fresh"] if i else [])])
        files = {p.relative_to(tmp / "out").as_posix(): p.read_bytes()
                 for p in sorted((tmp / "out").rglob("*"))
                 if p.is_file() and ("data/reports" in p.as_posix() or "/reports/" in p.as_posix())}
        results.append((rc, out.getvalue(), err.getvalue(), files))
    return tmp, results


def test_run_succeeds_and_logs_milestones(two_runs):
    _, results = two_runs
    for rc, out, err, _ in results:
        assert rc == 0, err[-3000:]
        assert "Phase 2 complete" in out
        assert "Ablation report written" in out
        for k, stage in enumerate(("preflight", "build", "export", "report", "manifest"), 1):
            assert f"[{k}/5] {stage} done in" in out
        assert "build " in out and " done in " in out  # per-model progress (lifthouse.run.progress)
        assert "START sql" not in out  # ... without dbt's raw lines (--verbose shows them)
    # the first run generated the sample, the second found it
    assert "generate the sample market" in results[0][1]
    assert "generate the sample market" not in results[1][1]


def test_outputs_exist(two_runs):
    tmp, _ = two_runs
    out = tmp / "out"
    for rel in ("warehouse/e2e.duckdb",
                "data/reports/ablation/e2e/lift_summary.csv",
                "data/reports/ablation/e2e/lift_summary.parquet",
                "data/reports/phase2/e2e/phase2_candidate_results.csv",
                "data/reports/phase2/e2e/phase2_candidate_results.parquet",
                "data/reports/phase2/e2e/phase2_trades.parquet",
                "data/reports/runs/e2e/manifest.json",
                "data/reports/runs/e2e/run.log",
                "reports/e2e/executive_summary.md",
                "reports/e2e/figures/lift_by_condition.png",
                "reports/e2e/figures/event_paths.png"):
        assert (out / rel).is_file(), rel
    ls = pd.read_csv(out / "data/reports/ablation/e2e/lift_summary.csv")
    assert {"candidate", "rollup", "fallback_rate", "sanity"} <= set(ls["row_type"])
    md = (out / "reports/e2e/executive_summary.md").read_text()
    for q in ("**Q1.", "**Q2.", "**Q3."):
        assert q in md
    assert "synthetic sample" in md
    m = json.loads((out / "data/reports/runs/e2e/manifest.json").read_text())
    assert m["run_id"] == "e2e" and m["vars"]["n_boot"] == 200
    assert m["vars"]["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert m["data_fingerprint"]["n_files"] > 0
    names = {n["name"]: n for n in m["models"]}
    assert names["lift_summary"]["rows"] == len(ls)
    assert set(m["timing"]["stages_seconds"]) == {"preflight", "build", "export", "report",
                                                   "manifest"}
    assert m["tests"]["fail"] == 0 and m["tests"]["pass"] > 0


def test_second_run_is_byte_identical(two_runs):
    _, results = two_runs
    first, second = results[0][3], results[1][3]
    assert first["data/reports/ablation/e2e/lift_summary.csv"] == \
        second["data/reports/ablation/e2e/lift_summary.csv"]
    # every CSV and the report are identical too; only the run log and the manifest's timing
    # block may differ
    for name, data in first.items():
        if name.endswith((".csv", ".md")):
            assert data == second[name], name
    m1 = json.loads(first["data/reports/runs/e2e/manifest.json"])
    m2 = json.loads(second["data/reports/runs/e2e/manifest.json"])
    m1.pop("timing"), m2.pop("timing")
    # what the run did with the data layer depends on the store too (docs/running.md): both
    # built it cold, with the same fingerprint
    l1, l2 = m1.pop("data_layer"), m2.pop("data_layer")
    assert (l1["mode"], l2["mode"]) == ("cold", "cold")
    assert l1["layer_id"] == l2["layer_id"] and l1["fingerprint"] == l2["fingerprint"]
    differing = sorted(k for k in set(m1["outputs"]) | set(m2["outputs"])
                       if m1["outputs"].get(k) != m2["outputs"].get(k))
    assert not differing, f"outputs differ between the two runs: {differing}"
    assert m1 == m2


# --------------------------------------------------------------------------------------------
# SPEC 9: a broken condition filter is flagged by the report (fault injection)
# --------------------------------------------------------------------------------------------

PROBABLE_BUG_CHECKS = ("partition_bounds", "condition_filter", "zero_lift_event_type")


@pytest.fixture(scope="module")
def fault_run(two_runs):
    """The same sample and window as ``two_runs``, built with the fault-injection var
    ``fault_ignore_condition_filter=true``: every conditioned candidate takes all of its twin's
    events (a condition filter that does nothing)."""
    tmp, _ = two_runs
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["run", "--run_id", "fault", "--start_date", START, "--end_date", END,
                       "--symbols", "BTC,ETHUSDT,SOL", "--lookback-days", "7",
                       "--data-dir", str(tmp / "raw"), "--out-dir", str(tmp / "out"),
                       "--var", "n_boot=200", "--var", "fault_ignore_condition_filter=true"])
    return tmp / "out", rc, out.getvalue(), err.getvalue()


def _run_outputs(out, run_id):
    ls = pd.read_csv(out / f"data/reports/ablation/{run_id}/lift_summary.csv")
    md = (out / f"reports/{run_id}/executive_summary.md").read_text()
    manifest = json.loads((out / f"data/reports/runs/{run_id}/manifest.json").read_text())
    return ls, md, manifest


def test_broken_condition_filter_is_flagged_by_the_report(fault_run):
    out, rc, stdout, err = fault_run
    assert rc == 0, err[-3000:]          # the checks never fail the build: the report must show
    ls, md, manifest = _run_outputs(out, "fault")
    assert manifest["vars"]["fault_ignore_condition_filter"] is True
    # the filter really did nothing: every conditioned lift is exactly 0, n equals the twin's
    cand = ls.loc[ls["row_type"] == "candidate"]
    assert len(cand) and (cand["n_cond"] == cand["n_twin"]).all()
    assert (cand["lift_bps"].dropna() == 0.0).all() and cand["lift_bps"].notna().any()
    # lift_summary's sanity rows fail
    san = ls.loc[ls["row_type"] == "sanity"]
    for check in PROBABLE_BUG_CHECKS:
        rows = san.loc[san["check_name"] == check]
        assert len(rows) and (rows["check_ok"] == False).all(), check  # noqa: E712
    assert manifest["tests"]["warn"] >= 1          # the dbt warn-level test on check_ok
    # the report's top banner flags the probable bug, naming the failed checks
    assert md.startswith("> **WARNING: probable bug.**")
    banner = md.split("\n# ", 1)[0]
    for check in PROBABLE_BUG_CHECKS:
        assert f"**{check}**" in banner, check
    assert "exactly 0" in banner and "ABOVE the bound" in banner
    # the answers do not pretend: Q1 / Q2 are inconclusive because of the probable bug
    q = ls.loc[ls["row_type"] == "question"].set_index("row_key")
    for key in ("Q1", "Q2"):
        assert q.loc[key, "verdict"] == "inconclusive"
        assert str(q.loc[key, "verdict_reason"]).startswith("probable bug"), q.loc[key]
        assert f"**{key}." in md and "— INCONCLUSIVE** (probable bug" in md
    assert "Q1 Does carry_pos improve LIQUIDATION_CASCADE? -> inconclusive (probable bug" \
        in stdout


def test_same_checks_pass_without_the_fault(two_runs):
    tmp, results = two_runs
    assert results[0][0] == 0
    ls, md, manifest = _run_outputs(tmp / "out", "e2e")
    assert manifest["vars"]["fault_ignore_condition_filter"] is False
    san = ls.loc[ls["row_type"] == "sanity"]
    for check in PROBABLE_BUG_CHECKS:
        rows = san.loc[(san["check_name"] == check) & san["check_ok"].notna()]
        assert len(rows) and (rows["check_ok"] == True).all(), check  # noqa: E712
    assert not md.startswith("> **WARNING") and "probable bug" not in md.split("\n# ", 1)[0]
    cand = ls.loc[ls["row_type"] == "candidate"]
    assert (cand["lift_bps"].dropna() != 0.0).any()
    q = ls.loc[ls["row_type"] == "question"].set_index("row_key")
    assert {"Q1", "Q2", "Q3"} <= set(q.index)
    assert not q["verdict_reason"].astype(str).str.startswith("probable bug").any()


def test_dbt_docs_cover_every_model_and_column(two_runs):
    """`dbt docs generate` works on a built warehouse, and every model and every column it
    finds in the warehouse is described in the models' YAML."""
    from lifthouse.run.dbt import run_dbt

    tmp, _ = two_runs
    target = tmp / "docs_target"
    run_dbt(["docs", "generate"], warehouse=tmp / "out" / "warehouse" / "e2e.duckdb",
            target_dir=target, vars={"raw_dir": str(tmp / "raw"), "start_date": START,
                                     "end_date": END, "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]})
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 20
    assert [m["name"] for m in models if not m["description"].strip()] == []
    undocumented = [
        (m["name"], col) for m in models
        for col in catalog["nodes"].get(m["unique_id"], {}).get("columns", {})
        if col.lower() not in {c.lower() for c in m["columns"]}
    ]
    assert undocumented == []
    assert [m["name"] for m in models if m["unique_id"] not in catalog["nodes"]] == []  # all built


# --------------------------------------------------------------------------------------------
# an interrupted rerun never leaves complete-looking old outputs (docs/failure_modes.md)
# --------------------------------------------------------------------------------------------


def test_sigterm_during_build_stops_dbt_and_leaves_no_stale_outputs(two_runs):
    import shutil
    import signal
    import subprocess
    import sys
    import time

    import duckdb

    tmp, results = two_runs
    assert results[1][0] == 0
    out = tmp / "out_interrupted"
    for part in ("data", "reports"):  # a complete earlier run of this run_id
        shutil.copytree(tmp / "out" / part, out / part)
    old_manifest = json.loads((out / "data/reports/runs/e2e/manifest.json").read_text())
    assert old_manifest["status"] == "complete"
    cmd = [sys.executable, "-m", "lifthouse.cli", "run", "--run-id", "e2e", "--start-date", START,
           "--end-date", END, "--symbols", "BTC,ETHUSDT,SOL", "--lookback-days", "7",
           "--data-dir", str(tmp / "raw"), "--out-dir", str(out), "--var", "n_boot=100"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        lines.append(line)
        # the first model has started: the run log's progress line (lifthouse.run.progress)
        if re.search(r"build\s+\d+/\d+\s", line):
            break
        assert time.monotonic() < deadline, "".join(lines)
    # the build is under way, with manifest status running
    assert json.loads((out / "data/reports/runs/e2e/manifest.json").read_text())["status"] \
        == "running"
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=120)
    stdout = "".join(lines) + rest
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "interrupted" in err
    assert "[2/5] build done" not in stdout
    assert "[2/5] build interrupted (SIGTERM)" in stdout
    manifest = json.loads((out / "data/reports/runs/e2e/manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["stopped_in_stage"] == "build"
    assert manifest["vars_passed"]["n_boot"] == 100
    log = (out / "data/reports/runs/e2e/run.log").read_text()
    assert "interrupted by SIGTERM" in log
    # the old exports and report were moved aside, not left beside the new warehouse
    assert not (out / "data/reports/ablation/e2e").exists()
    assert not (out / "reports/e2e").exists()
    assert (out / "previous/e2e/ablation/lift_summary.csv").exists()
    assert json.loads((out / "previous/e2e/runs/manifest.json").read_text())["status"] \
        == "complete"
    # dbt was stopped with it: the warehouse is free for a writer at once
    duckdb.connect(str(out / "warehouse/e2e.duckdb")).close()
