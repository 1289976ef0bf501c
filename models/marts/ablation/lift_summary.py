"""lift_summary: the final ablation table (SPEC 0, 8-9). The answers to the pre-registered
questions (seed lift_questions + the fallback rate; Holm-adjusted), candidate rows (lift, BH q,
verdict, phase-2 status), roll-ups per (event_type, condition) by edge rule and per direction
rule, fallback promotion rates (SPEC 7) and sanity checks (SPEC 9), in a deterministic row order.
Thin wrapper: the numerics are lifthouse.lift.lift_summary (docs/lift.md)."""

import pyarrow as pa

from lifthouse.lift import LiftParams, lift_summary


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
    # every considered row: sanity checks count skipped-overlap events too
    trades = _arrow(dbt.ref("phase2_trades").query("t", """
        select candidate_id, event_id, symbol, vol_regime, carry_state, trade_status,
               net_bps, block, trade_day
        from t""")).to_pandas()
    lift = _arrow(dbt.ref("int_candidate_lift")).to_pandas()
    results = _arrow(dbt.ref("phase2_candidate_results").query("r", """
        select candidate_id, family_id, event_type, status, status_reason
        from r""")).to_pandas()
    questions = _arrow(dbt.ref("lift_questions").query("q", """
        select question_id, event_type, condition, question
        from q""")).to_pandas()
    return lift_summary(plan, trades, lift, results, params, questions)
