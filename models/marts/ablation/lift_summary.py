"""lift_summary: the final ablation table (SPEC 0, 8-9). The answers to the pre-registered
questions (seed lift_questions + the fallback rate; Holm-adjusted), candidate rows (lift, BH q,
verdict, phase-2 status), roll-ups per (event_type, condition) by edge rule and per direction
rule, fallback promotion rates (SPEC 7) and sanity checks (SPEC 9), in a deterministic row order.
Thin wrapper: the numerics are lifthouse.research.summary.lift_summary (docs/lift.md)."""

from lifthouse.research.lift_samples import TRADE_COLUMNS
from lifthouse.research.params import LiftParams, from_config
from lifthouse.research.questions import QUESTION_COLUMNS
from lifthouse.research.summary import lift_summary
from lifthouse.run.modelio import read_plan, to_engine, to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    # literal dbt.config.get calls: dbt only ships the config keys it finds this way
    cfg = {"bootstrap_seed": dbt.config.get("bootstrap_seed"), "n_boot": dbt.config.get("n_boot"),
           "lift_alpha": dbt.config.get("lift_alpha"), "lift_q_max": dbt.config.get("lift_q_max"),
           "lift_min_n": dbt.config.get("lift_min_n"),
           "lift_min_days": dbt.config.get("lift_min_days")}
    params = from_config(LiftParams, cfg.get)
    # every considered row: sanity checks count skipped-overlap events too
    trades = to_pandas(dbt.ref("phase2_trades"), f"select {', '.join(TRADE_COLUMNS)} from r")
    lift = to_pandas(dbt.ref("int_candidate_lift"))
    results = to_pandas(dbt.ref("phase2_candidate_results"),
                        "select candidate_id, family_id, event_type, status, status_reason from r")
    questions = to_pandas(dbt.ref("lift_questions"), f"select {', '.join(QUESTION_COLUMNS)} from r")
    return to_engine(session, lift_summary(read_plan(dbt.ref("candidate_plan")), trades, lift,
                                           results, params, questions))
