"""lift_summary: the final ablation table (SPEC 0, 8-9). The answers to the pre-registered
questions (seed lift_questions + the fallback rate; Holm-adjusted), candidate rows (lift, BH q,
verdict, phase-2 status), roll-ups per (event_type, condition) by edge rule and per direction
rule, fallback promotion rates (SPEC 7) and sanity checks (SPEC 9), in a deterministic row order.
Thin wrapper: the numerics are lifthouse.lift.lift_summary (docs/lift.md)."""

from lifthouse.lift import LiftParams, lift_summary
from lifthouse.modelio import read_plan, to_engine, to_pandas


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
    plan = read_plan(dbt.ref("candidate_plan"))
    # every considered row: sanity checks count skipped-overlap events too
    trades = to_pandas(dbt.ref("phase2_trades"), """
        select candidate_id, event_id, symbol, vol_regime, carry_state, trade_status,
               net_bps, block, trade_day
        from r""")
    lift = to_pandas(dbt.ref("int_candidate_lift"))
    results = to_pandas(dbt.ref("phase2_candidate_results"), """
        select candidate_id, family_id, event_type, status, status_reason
        from r""")
    questions = to_pandas(dbt.ref("lift_questions"), """
        select question_id, event_type, condition, question
        from r""")
    return to_engine(session, lift_summary(plan, trades, lift, results, params, questions))
