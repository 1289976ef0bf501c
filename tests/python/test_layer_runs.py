"""The data layer in real runs on the generated sample: a reused layer and an extended one give
the same exports, byte for byte, and the same layer tables as cold builds of the same data and
vars; two runs over one data version at once build it once and agree; the layer's models do not
read the vars of the later models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lifthouse.run.dbt import REPO_ROOT, run_dbt
from lifthouse.run.layer import LAYER_MODELS, LAYER_TABLES, is_downstream_var

LIFTHOUSE = str(Path(sys.executable).parent / "lifthouse")
START, END_FIRST, END = "2025-01-01", "2025-01-20", "2025-01-25"
FAST = ["--var", "n_boot=200", "--var", "snoop_reps=100"]


def _run(raw: Path, out: Path, run_id: str, end: str, *extra: str,
         env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [LIFTHOUSE, "run", "--run-id", run_id, "--start-date", START, "--end-date", end,
           "--symbols", "BTC,SOL", "--data-dir", str(raw), "--out-dir", str(out), *FAST, *extra]
    return subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **(env or {})})


def _done(proc: subprocess.Popen) -> str:
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, output[-4000:]
    return output


def _layer(out: Path, run_id: str) -> dict:
    manifest = out / "data" / "reports" / "runs" / run_id / "manifest.json"
    return json.loads(manifest.read_text())["data_layer"]


def _exports(out: Path, run_id: str) -> dict[str, bytes]:
    root = out / "data" / "reports"
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted(root.rglob("*")) if p.is_file() and f"/{run_id}/" in f"/{p.relative_to(root).as_posix()}"
             and p.name not in ("manifest.json", "run.log")}
    assert len(files) >= 10, f"the exports of {run_id} are missing"
    return files


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layer")
    raw = tmp / "raw"
    subprocess.run([LIFTHOUSE, "sample", "--data-dir", str(raw), "--symbols", "BTC,SOL",
                    "--start", START, "--end", END], cwd=REPO_ROOT, check=True,
                   capture_output=True)
    shared, ref = tmp / "shared", tmp / "ref"
    logs = {
        "cold": _done(_run(raw, shared, "first", END_FIRST)),
        # a new run id and another event threshold: the same data layer
        "reuse": _done(_run(raw, shared, "zmove", END_FIRST, "--var", "cascade_zmove_min=3.5")),
        # five more days: the layer is extended
        "append": _done(_run(raw, shared, "later", END)),
        # cold builds of the same data and vars
        "reuse_ref": _done(_run(raw, ref, "zmove", END_FIRST, "--var", "cascade_zmove_min=3.5",
                                "--fresh")),
        "append_ref": _done(_run(raw, ref, "later", END, "--fresh")),
    }
    return raw, shared, ref, logs


def test_the_runs_cold_reuse_and_extend_the_layer(runs):
    _, shared, ref, logs = runs
    cold, reuse, append = (_layer(shared, r) for r in ("first", "zmove", "later"))
    assert cold["mode"] == "cold" and reuse["mode"] == "reuse" and append["mode"] == "append"
    assert reuse["layer_id"] == cold["layer_id"] and reuse["source_layer"] == cold["layer_id"]
    assert append["source_layer"] == cold["layer_id"] and append["layer_id"] != cold["layer_id"]
    assert append["cut"] == f"{END_FIRST} 00:00:00" and append["fell_back"] is None
    assert "seams equal" in logs["append"]
    assert _layer(ref, "later")["mode"] == "cold"
    assert _layer(ref, "later")["layer_id"] == append["layer_id"], \
        "an extended layer has the fingerprint of a cold build of the same data"
    # the reusing run built no layer model
    nodes = json.loads((shared / "data/reports/runs/zmove/manifest.json").read_text())
    built = set(nodes["timing"]["dbt_nodes_seconds"])
    assert not [m for m in LAYER_MODELS if f"model.lifthouse.{m}" in built]
    assert "model.lifthouse.event_registry" in built


def test_the_manifest_lists_the_reused_models_with_their_rows(runs):
    _, shared, ref, _ = runs
    def models(out):
        doc = json.loads((out / "data/reports/runs/zmove/manifest.json").read_text())
        return {m["name"]: (m["status"], m["rows"]) for m in doc["models"]}
    reused, cold = models(shared), models(ref)
    assert set(reused) == set(cold)
    for name in LAYER_MODELS:
        assert reused[name] == ("reused", cold[name][1]) and cold[name][0] == "success", name
    assert reused["event_registry"] == cold["event_registry"]


@pytest.mark.parametrize("run_id", ["zmove", "later"])
def test_reused_and_extended_runs_export_what_cold_builds_export(runs, run_id):
    _, shared, ref, _ = runs
    a, b = _exports(shared, run_id), _exports(ref, run_id)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_an_extended_layer_holds_the_tables_of_a_cold_build(runs):
    _, shared, ref, _ = runs
    con = duckdb.connect()
    con.execute(f"attach '{shared}/warehouse/later.duckdb' as a (read_only)")
    con.execute(f"attach '{ref}/warehouse/later.duckdb' as b (read_only)")
    for table in LAYER_MODELS:
        n = con.execute(f"select count(*) from a.main.{table}").fetchone()[0]
        diff = con.execute(f"select count(*) from ((from a.main.{table} except all from "
                           f"b.main.{table}) union all (from b.main.{table} except all from "
                           f"a.main.{table}))").fetchone()[0]
        assert n > 0 and diff == 0, f"{table}: {diff} rows differ"
    con.close()


def test_two_concurrent_runs_over_one_data_version_build_it_once(runs, tmp_path):
    raw, shared, _, _ = runs
    env = {"LIFTHOUSE_LAYER_DIR": str(tmp_path / "store")}
    procs = [_run(raw, tmp_path / f"out{i}", "twin", END_FIRST, env=env) for i in (1, 2)]
    logs = [_done(p) for p in procs]
    modes = sorted(_layer(tmp_path / f"out{i}", "twin")["mode"] for i in (1, 2))
    assert modes == ["cold", "reuse"]
    assert any("another run is building the data layer" in log for log in logs)
    a, b = _exports(tmp_path / "out1", "twin"), _exports(tmp_path / "out2", "twin")
    assert a == b
    first = _exports(shared, "first")
    assert {k.replace("/first/", "/"): v for k, v in first.items()} == \
        {k.replace("/twin/", "/"): v for k, v in a.items()}


def _downstream_values() -> dict:
    """Every downstream var set to another valid value."""
    import yaml

    declared = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
    out = {}
    for key, value in declared.items():
        if not is_downstream_var(key) or key in ("run_id", "end_date", "append_load_from"):
            continue
        if isinstance(value, bool):
            out[key] = not value
        elif isinstance(value, (int, float)) and value:
            out[key] = value * 2 if key.endswith("_minutes") else value / 2 \
                if isinstance(value, float) and value < 1 else value + 1
        elif key == "phase2_q_column":
            out[key] = "q_by"
        elif key == "phase2_condition_state_at":
            out[key] = "pre_event"
    return out


def test_the_layer_models_compile_the_same_whatever_the_downstream_vars(tmp_path):
    """The compiled SQL of every layer model is the same when every var outside the layer's
    fingerprint changes: those vars cannot change the layer a run reuses."""
    changed = _downstream_values()
    assert len(changed) > 20
    sqls = []
    for i, extra in enumerate(({}, changed)):
        target = tmp_path / f"target{i}"
        run_dbt(["compile", "--select", *LAYER_MODELS, "--no-use-colors"],
                warehouse=tmp_path / f"wh{i}.duckdb", target_dir=target,
                vars={"end_date": "2025-03-01", "vacuum_thin_minutes": 3, **extra})
        files = sorted((target / "compiled").rglob("*.sql"))
        sqls.append({p.name: p.read_text() for p in files})
    assert set(sqls[0]) == {f"{m}.sql" for m in LAYER_MODELS} | set(sqls[0]) and sqls[0]
    assert {f"{m}.sql" for m in LAYER_MODELS} <= set(sqls[0])
    assert sqls[0] == sqls[1]
    assert LAYER_TABLES


def test_at_5_minute_bars_an_extended_layer_exports_what_a_cold_build_exports(tmp_path):
    """The append at the 5-minute grain: whole blocks of 4,096 five-minute bars."""
    raw = tmp_path / "raw"
    subprocess.run([LIFTHOUSE, "sample", "--data-dir", str(raw), "--symbols", "BTC,SOL",
                    "--start", START, "--end", END, "--bar-minutes", "5"], cwd=REPO_ROOT,
                   check=True, capture_output=True)
    five = ("--bar-minutes", "5")
    _done(_run(raw, tmp_path / "shared", "first", END_FIRST, *five))
    log = _done(_run(raw, tmp_path / "shared", "later", END, *five))
    _done(_run(raw, tmp_path / "ref", "later", END, *five, "--fresh"))
    layer = _layer(tmp_path / "shared", "later")
    assert layer["mode"] == "append" and layer["fell_back"] is None, log[-3000:]
    assert layer["fingerprint"]["base"]["vars"]["bar_minutes"] == 5
    assert _layer(tmp_path / "ref", "later")["layer_id"] == layer["layer_id"]
    a, b = _exports(tmp_path / "shared", "later"), _exports(tmp_path / "ref", "later")
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
