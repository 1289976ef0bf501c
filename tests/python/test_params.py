"""One home per parameter: every Python field named like a dbt var has the dbt_project.yml
default, and every dbt Python model asks dbt for each var it passes on (dbt ships only the
config keys written as literal ``dbt.config.get("<key>")`` calls)."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from lifthouse import defaults
from lifthouse.research.backtest import Costs
from lifthouse.research.params import LiftParams, from_config
from lifthouse.research.promotion import Gates
from lifthouse.research.snooping_grid import SnoopParams
from lifthouse.research.split import Split, split_for_plan
from lifthouse.run.config import project_vars
from lifthouse.run.dbt import REPO_ROOT

VARS = project_vars()
PARAMS = (LiftParams, Gates, Costs, Split, SnoopParams)
# model -> the params classes it builds from its config
MODELS = {
    "models/intermediate/lift/int_candidate_lift.py": (LiftParams,),
    "models/marts/ablation/lift_summary.py": (LiftParams,),
    "models/marts/phase2/phase2_trades.py": (Costs, Split),
    "models/marts/phase2/phase2_candidate_results.py": (Gates, Split, SnoopParams),
    "models/marts/phase2/phase2_candidate_daily.py": (Split,),
    "models/marts/phase2/phase2_grid_tests.py": (SnoopParams,),
}


def config_keys_dbt_ships(path: Path) -> set[str]:
    """The config keys dbt finds in a Python model, with dbt's own parser (only literal
    ``dbt.config.get("<key>")`` calls it reaches count: one inside ``f({...}.get)`` does not)."""
    from dbt.parser.models import PythonParseVisitor

    visitor = PythonParseVisitor(None)
    visitor.visit(ast.parse(path.read_text()))
    return {args[0] for func, args, _ in visitor.dbt_function_calls if func == "get" and args}


@pytest.mark.parametrize("cls", PARAMS, ids=lambda c: c.__name__)
def test_python_defaults_equal_dbt_project_defaults(cls):
    named = [f for f in dataclasses.fields(cls) if f.name in VARS]
    assert named, f"{cls.__name__} has no field named like a var"
    for f in named:
        if f.default is dataclasses.MISSING:
            continue
        assert f.default == VARS[f.name], (cls.__name__, f.name, f.default, VARS[f.name])
    others = [f.name for f in dataclasses.fields(cls) if f.name not in VARS]
    assert others in ([], ["min_valid_share"]), f"fields not named like a var: {others}"


def test_run_defaults_equal_dbt_project_defaults():
    assert list(defaults.SYMBOLS) == VARS["symbols"]
    assert (defaults.START_DATE, defaults.END_DATE) == (VARS["start_date"], VARS["end_date"])
    assert defaults.LOOKBACK_DAYS == VARS["lookback_days"]


@pytest.mark.parametrize("path", sorted(MODELS))
def test_models_request_every_var_they_pass_literally(path):
    asked = config_keys_dbt_ships(REPO_ROOT / path)
    for cls in MODELS[path]:
        for f in dataclasses.fields(cls):
            if f.name in VARS:
                assert f.name in asked, (path, f.name)
    assert asked <= set(VARS), asked - set(VARS)


def test_from_config_casts_and_keeps_defaults():
    got = from_config(Gates, {"phase2_min_trades": "12", "phase2_q_max": "0.2"}.get)
    assert got == Gates(phase2_min_trades=12, phase2_q_max=0.2)
    assert from_config(LiftParams, {}.get) == LiftParams()


def test_embargo_is_never_shorter_than_the_longest_horizon():
    cfg = {"start_date": "2025-01-01", "end_date": "2025-03-01",
           "phase2_discovery_fraction": 0.7, "phase2_embargo_minutes": 240}
    assert split_for_plan(cfg.get, [5, 60]).phase2_embargo_minutes == 240
    long = split_for_plan(cfg.get, pd.Series([60, 480]))
    assert long.phase2_embargo_minutes == 480
    assert long.start_date == pd.Timestamp("2025-01-01")


def test_state_timing_is_the_same_rule_in_python_and_sql():
    """Which state a condition matches (var phase2_condition_state_at) is mapped to columns in
    phase2_trades.py (Python) and rpt_event_paths.sql (Jinja): dbt Python models cannot call
    macros, so the two mappings are compared here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "phase2_trades_model", REPO_ROOT / "models/marts/phase2/phase2_trades.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sql = (REPO_ROOT / "models/marts/reporting/rpt_event_paths.sql").read_text()
    block = sql[sql.index("set state_columns = {"):sql.index("} %}")]
    pairs = re.findall(r"""'([a-z_]+)':\s*(?:"([^"]*)"|'([^']*)')""", block)
    in_sql = {k: a or b for k, a, b in pairs}
    assert in_sql == mod.STATE_COLUMNS
    assert VARS["phase2_condition_state_at"] in in_sql
