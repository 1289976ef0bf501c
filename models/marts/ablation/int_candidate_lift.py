"""int_candidate_lift: one row per conditioned candidate; lift over the unconditioned twin and
over the complement, with paired day-block bootstrap CIs and p-values (SPEC 8).
Thin wrapper: the numerics are lifthouse.lift.candidate_lift (docs/lift.md)."""

import pyarrow as pa

from lifthouse.lift import LiftParams, candidate_lift


def _arrow(rel) -> pa.Table:
    out = rel.arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def model(dbt, session):
    dbt.config(materialized="table")
    # literal dbt.config.get calls: dbt only ships the config keys it finds this way
    cfg = {
        "bootstrap_seed": dbt.config.get("bootstrap_seed"),
        "n_boot": dbt.config.get("n_boot"),
        "lift_alpha": dbt.config.get("lift_alpha"),
        "lift_q_max": dbt.config.get("lift_q_max"),
        "lift_min_n": dbt.config.get("lift_min_n"),
        "lift_min_days": dbt.config.get("lift_min_days"),
    }
    params = LiftParams.from_config(cfg.get)
    plan = _arrow(dbt.ref("candidate_plan").query("p", """
        select candidate_id, family_id, twin_candidate_id, event_type, condition,
               vol_condition, carry_condition, is_conditioned, horizon_min, direction_rule,
               symbol_scope
        from p""")).to_pandas()
    trades = _arrow(dbt.ref("phase2_trades").query("t", """
        select candidate_id, event_id, symbol, vol_regime, carry_state, trade_status,
               net_bps, block, trade_day
        from t
        where trade_status = 'traded'""")).to_pandas()
    return candidate_lift(plan, trades, params)
