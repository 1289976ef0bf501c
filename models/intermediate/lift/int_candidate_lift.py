"""int_candidate_lift: one row per conditioned candidate; lift over the unconditioned twin and
over the complement, with paired day-block bootstrap CIs and p-values (SPEC 8).
Thin wrapper: the numerics are lifthouse.research.lift.candidate_lift (docs/lift.md)."""

from lifthouse.research.lift import candidate_lift
from lifthouse.research.lift_samples import TRADE_COLUMNS
from lifthouse.research.params import LiftParams, from_config
from lifthouse.run.modelio import read_plan, to_engine, to_pandas
from lifthouse.run.resources import lift_workers


def model(dbt, session):
    dbt.config(materialized="table")
    # literal dbt.config.get calls: dbt only ships the config keys it finds this way
    cfg = {"bootstrap_seed": dbt.config.get("bootstrap_seed"), "n_boot": dbt.config.get("n_boot"),
           "lift_alpha": dbt.config.get("lift_alpha"), "lift_q_max": dbt.config.get("lift_q_max"),
           "lift_min_n": dbt.config.get("lift_min_n"),
           "lift_min_days": dbt.config.get("lift_min_days")}
    trades = to_pandas(dbt.ref("phase2_trades"),
                       f"select {', '.join(TRADE_COLUMNS)} from r where trade_status = 'traded'")
    return to_engine(session, candidate_lift(read_plan(dbt.ref("candidate_plan")), trades,
                                             from_config(LiftParams, cfg.get),
                                             workers=lift_workers()))
