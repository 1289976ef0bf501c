"""candidate_plan (SPEC 6): the grid seeds expand to the documented candidates in dbt."""

from __future__ import annotations



import duckdb
import pandas as pd
import pytest

from lifthouse.run.dbt import REPO_ROOT, run_dbt

SEEDS = REPO_ROOT / "seeds"


def _seed(name: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS / f"{name}.csv", dtype=str, keep_default_na=False)


def _grid_size(n_symbols: int) -> int:
    scopes = _seed("candidate_symbol_scopes").scope_rule
    n_scopes = n_symbols * int((scopes == "per_symbol").sum()) + int((scopes == "pooled").sum())
    return (len(_seed("candidate_event_types")) * len(_seed("candidate_conditions"))
            * len(_seed("candidate_horizons")) * len(_seed("candidate_direction_rules"))
            * n_scopes)


def _plan(dbt_paths, vars_: dict) -> pd.DataFrame:
    run_dbt(["build", "--select", "+candidate_plan"], vars=vars_, **dbt_paths)
    with duckdb.connect(str(dbt_paths["warehouse"]), read_only=True) as con:
        return con.sql("select * from candidate_plan").df()


@pytest.mark.slow
def test_plan_expands_grid_with_readable_ids(dbt_paths):
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    plan = _plan(dbt_paths, {"symbols": symbols})
    cond = _seed("candidate_conditions")
    assert len(plan) == _grid_size(len(symbols)) >= 500
    assert plan.candidate_id.is_unique
    # ids are readable and built from their parts
    ids = (plan.event_type + "__" + plan.condition + "__h" + plan.horizon_min.astype(str) + "__"
           + plan.direction_rule + "__" + plan.symbol_scope)
    assert (plan.candidate_id == ids).all()
    assert (plan.family_id == plan.event_type + "__h" + plan.horizon_min.astype(str) + "__"
            + plan.direction_rule + "__" + plan.symbol_scope).all()
    # every candidate's twin exists, is unconditioned, and shares the family
    by_id = plan.set_index("candidate_id")
    twins = by_id.loc[plan.twin_candidate_id]
    assert (~twins.is_conditioned).all()
    assert (twins.family_id.to_numpy() == plan.family_id.to_numpy()).all()
    assert ((plan.twin_candidate_id == plan.candidate_id) == ~plan.is_conditioned).all()
    # one unconditioned candidate per family, 15 conditioned ones with the default seeds
    per_family = plan.groupby("family_id").is_conditioned.agg(["size", "sum"])
    assert (per_family["size"] - per_family["sum"] == 1).all()
    assert (per_family["sum"] == len(cond) - 1).all()
    # conditions: NULL means any; the 9 combinations fix both dimensions
    both = plan[plan.vol_condition.notna() & plan.carry_condition.notna()]
    assert both.condition.nunique() == 9
    assert (plan.loc[plan.condition == "all", ["vol_condition", "carry_condition"]]
            .isna().all().all())
    # scopes: each symbol of the var plus pooled, which lists all of them
    assert set(plan.symbol_scope) == {*symbols, "pooled"}
    assert (plan.loc[plan.symbol_scope == "pooled", "scope_symbols"]
            == ",".join(sorted(symbols))).all()
    assert (plan.loc[plan.symbol_scope != "pooled", "scope_symbols"]
            == plan.loc[plan.symbol_scope != "pooled", "symbol_scope"]).all()


@pytest.mark.slow
def test_symbol_scopes_follow_the_symbols_var(dbt_paths):
    plan = _plan(dbt_paths, {"symbols": ["AAAUSDT"]})
    assert set(plan.symbol_scope) == {"AAAUSDT", "pooled"}
    assert len(plan) == _grid_size(1)
