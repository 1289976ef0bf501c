"""The dbt project's structure, checked on target/manifest.json (``dbt parse``): the layers read
in one direction, every model is documented and has a primary-key test, names follow dbt Labs'
conventions (docs/architecture.md "Layers"). No data is needed.
"""

from __future__ import annotations

import json
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath

import pytest

from lifthouse.run.dbt import run_dbt

# Marts whose names the SPEC fixes (the tables it names as outputs or steps), so they keep them
# instead of a type prefix (rpt_, dq_, fct_, dim_). Nothing else is exempt from any rule.
SPEC_NAMED_MARTS = {
    "features_v1": "SPEC 3 Features v1",
    "market_context": "SPEC 4 Market context",
    "event_registry": "SPEC 5 the event registry",
    "candidate_plan": "SPEC 6 Candidate plan",
    "phase2_trades": "SPEC 6 Phase 2 backtest",
    "phase2_candidate_results": "SPEC 7, 10 the Phase 2 candidate table",
    "phase2_candidate_daily": "the daily P&L matrix of the data-snooping tests (docs/phase2.md)",
    "phase2_grid_tests": "the grid-level data-snooping tests (docs/phase2.md)",
    "lift_summary": "SPEC 8, 10 lift_summary",
}
MART_PREFIXES = ("rpt_", "dq_", "fct_", "dim_")
PK_TESTS = ("unique", "unique_combination")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("dbt_parse")
    run = run_dbt(["parse", "--no-partial-parse"], warehouse=base / "wh.duckdb",
                  target_dir=base / "target")
    return json.loads((run.target_dir / "manifest.json").read_text())


def models(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items()
            if n["resource_type"] == "model" and n["package_name"] == "lifthouse"}


def layer_path(node: dict) -> PurePosixPath:
    """The model's path below models/, e.g. marts/core/features_v1.sql."""
    return PurePosixPath(node["original_file_path"]).relative_to("models")


def layer(node: dict) -> str:
    return layer_path(node).parts[0]


def mart_folder(node: dict) -> str | None:
    p = layer_path(node)
    return p.parts[1] if p.parts[0] == "marts" else None


def test_sources_are_read_only_in_staging(manifest):
    bad = []
    for uid, node in models(manifest).items():
        reads_source = (any(d.startswith("source.") for d in node["depends_on"]["nodes"])
                        or "macro.lifthouse.raw_source" in node["depends_on"]["macros"])
        if reads_source and layer(node) != "staging":
            bad.append(uid)
    assert not bad, f"models outside models/staging read raw sources: {bad}"


def test_no_mart_reads_staging(manifest):
    nodes = models(manifest)
    bad = [(uid, parent) for uid, node in nodes.items() if layer(node) == "marts"
           for parent in node["depends_on"]["nodes"]
           if parent in nodes and layer(nodes[parent]) == "staging"]
    assert not bad, f"marts read staging models (route them through an intermediate): {bad}"


def mart_folder_edges(manifest: dict) -> dict[str, set[str]]:
    """folder -> the mart folders it reads, through any chain of non-mart models in between
    (phase2 -> intermediate/lift -> phase2 is phase2 reading itself)."""
    nodes = models(manifest)
    edges: dict[str, set[str]] = {}
    for uid, node in nodes.items():
        folder = mart_folder(node)
        if folder is None:
            continue
        edges.setdefault(folder, set())
        stack, seen = list(node["depends_on"]["nodes"]), set()
        while stack:
            parent = stack.pop()
            if parent in seen or parent not in nodes:
                continue
            seen.add(parent)
            parent_folder = mart_folder(nodes[parent])
            if parent_folder is None:
                stack.extend(nodes[parent]["depends_on"]["nodes"])
            elif parent_folder != folder:
                edges[folder].add(parent_folder)
    return edges


def test_mart_folders_depend_one_way(manifest):
    edges = mart_folder_edges(manifest)
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError as exc:
        pytest.fail(f"mart folders depend on each other: {exc.args[1]} (edges {edges})")
    assert {"core", "phase2", "ablation", "reporting"} <= set(order)


def test_every_model_has_a_description_and_a_primary_key_test(manifest):
    nodes = models(manifest)
    keyed = {n.get("attached_node") for n in manifest["nodes"].values()
             if n["resource_type"] == "test"
             and (n.get("test_metadata") or {}).get("name") in PK_TESTS}
    undocumented = [uid for uid, n in nodes.items() if not n["description"].strip()]
    unkeyed = [uid for uid in nodes if uid not in keyed]
    assert not undocumented, f"models without a description: {undocumented}"
    assert not unkeyed, f"models without a primary-key test (unique / unique_combination): {unkeyed}"


def test_models_are_named_and_placed_by_layer(manifest):
    bad = []
    for uid, node in models(manifest).items():
        name, path = node["name"], layer_path(node)
        if path.parts[0] == "staging":
            ok = name.startswith("stg_") and "__" in name
        elif path.parts[0] == "intermediate":
            # int_<entity>_<verb>, in a concept subfolder: intermediate/<concept>/<model>
            ok = name.startswith("int_") and len(path.parts) == 3
        elif path.parts[0] == "marts":
            ok = len(path.parts) == 3 and (name.startswith(MART_PREFIXES) or name in SPEC_NAMED_MARTS)
        else:
            ok = False
        if not ok:
            bad.append(str(path))
    assert not bad, f"models named or placed against the layer conventions: {bad}"


def test_a_yaml_beside_each_intermediate_and_report_model(manifest):
    """One properties file per intermediate and report model, in the model's own folder."""
    bad = []
    for uid, node in models(manifest).items():
        path = layer_path(node)
        if path.parts[0] == "intermediate" or path.parts[:2] == ("marts", "reporting"):
            patch = node.get("patch_path") or ""
            expected = f"lifthouse://{node['original_file_path'].rsplit('/', 1)[0]}/_{node['name']}.yml"
            if patch != expected:
                bad.append((uid, patch))
    assert not bad, bad


def test_python_models_read_vars_under_their_own_names(manifest):
    """Every dbt.config.get key of a Python model is a var of dbt_project.yml or a dbt config:
    the var reaches Python under the name it has in dbt_project.yml (macros/python_model_config.sql)."""
    from lifthouse.run.config import project_vars

    vars_ = set(project_vars())
    python_models = {uid: n for uid, n in models(manifest).items() if n["language"] == "python"}
    assert len(python_models) >= 4
    bad = []
    for uid, node in python_models.items():
        keys = node["config"].get("config_keys_used") or []
        assert keys, f"{uid}: no dbt.config.get keys found (manifest layout changed?)"
        for key in keys:
            if key not in vars_ and key not in ("materialized",):
                bad.append((uid, key))
    assert not bad, f"config keys that are not vars of dbt_project.yml: {bad}"


def test_every_macro_is_documented_with_its_arguments(manifest):
    """macros/_macros.yml documents each macro and each of its arguments (dispatch
    implementations default__ / duckdb__ / spark__ share their dispatcher's entry)."""
    bad, checked = [], 0
    for uid, macro in manifest["macros"].items():
        if macro["package_name"] != "lifthouse" or macro["name"].startswith(("default__", "duckdb__", "spark__")):
            continue
        checked += 1
        m = re.search(r"{%-?\s*(?:macro|test)\s+\w+\s*\(([^)]*)\)", macro["macro_sql"])
        args = [a.split("=")[0].strip() for a in m.group(1).split(",") if a.strip()] if m else []
        documented = [a["name"] for a in macro.get("arguments") or []]
        if not macro["description"].strip() or documented != args:
            bad.append((macro["name"], args, documented))
    assert checked >= 20
    assert not bad, f"macros missing from macros/_macros.yml or with other arguments: {bad}"


def test_python_models_get_the_var_values(tmp_path):
    """A Python model's dbt.config.get("<var>") holds the var: the default of dbt_project.yml,
    or the --vars override (compiled config_dict of the model)."""
    run = run_dbt(["compile", "--select", "phase2_trades", "int_candidate_lift"],
                  warehouse=tmp_path / "wh.duckdb", target_dir=tmp_path / "target",
                  vars={"phase2_fee_bps_per_side": 9.25, "n_boot": 123})
    compiled = run.target_dir / "compiled" / "lifthouse" / "models"
    trades = (compiled / "marts" / "phase2" / "phase2_trades.py").read_text()
    lift = (compiled / "intermediate" / "lift" / "int_candidate_lift.py").read_text()
    assert "'phase2_fee_bps_per_side': 9.25" in trades          # override
    assert "'phase2_slippage_bps_per_side': 1.5" in trades      # default
    assert "'phase2_condition_state_at': 'detection'" in trades
    assert "'n_boot': 123" in lift and "'bootstrap_seed': 20250101" in lift


def test_models_quote_identifiers_through_the_adapter():
    """No double-quoted identifier in model or macro SQL: a raw column named like a keyword is
    quoted with adapter.quote() (docs/spark.md). Inside dbt's Spark session "timestamp" read as a
    string literal and open interest came back empty."""
    from lifthouse.run.dbt import REPO_ROOT

    quoted = re.compile(r'"[A-Za-z_][A-Za-z0-9_]*"')
    bad = []
    for folder in ("models", "macros"):
        for path in sorted((REPO_ROOT / folder).rglob("*.sql")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = re.sub(r"\{#.*?#\}|--.*$|'[^']*'|\{\{.*?\}\}", "", line)
                if quoted.search(code):
                    bad.append(f"{path.relative_to(REPO_ROOT)}:{n}: {line.strip()}")
    assert not bad, "quote identifiers with {{ adapter.quote('name') }}:\n" + "\n".join(bad)
