"""Phase 2 candidate results (SPEC 6-7): one row per candidate with discovery (disc_) and
holdout (hold_) statistics, BH/BY q-values, the data-snooping columns (psr, dsr, min_trl_days,
stepm_selected: docs/phase2.md "Data snooping"), gates, the lift CI of int_candidate_lift and the
promotion status.

Thin wrapper: status counts and the traded rows are selected in the engine; statistics in
lifthouse.research.stats, gates and fallback in lifthouse.research.promotion. Rules in docs/phase2.md.
"""

from lifthouse.research.params import from_config
from lifthouse.research.split import split_for_plan
from lifthouse.run.modelio import to_engine, to_pandas
from lifthouse.research.promotion import Gates, build_candidate_results
from lifthouse.research.snooping_grid import SnoopParams, calendar_of, candidate_snooping
from lifthouse.research.stats import candidate_statistics


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes only the config keys it finds as literal dbt.config.get("...") calls

    plan = to_pandas(dbt.ref("candidate_plan"))
    trades = to_pandas(dbt.ref("phase2_trades"), """
        select candidate_id, event_id, trade_status, block, entry_time, trade_day, net_bps
        from r""")
    lift = to_pandas(dbt.ref("int_candidate_lift"), """
        select candidate_id, lift_bps, lift_ci_low, lift_ci_high, disc_lift_bps, disc_lift_ci_low,
               disc_lift_ci_high, hold_lift_bps
        from r""")

    cfg = {"start_date": dbt.config.get("start_date"), "end_date": dbt.config.get("end_date"),
           "phase2_discovery_fraction": dbt.config.get("phase2_discovery_fraction"),
           "phase2_embargo_minutes": dbt.config.get("phase2_embargo_minutes"),
           "phase2_min_trades": dbt.config.get("phase2_min_trades"),
           "phase2_q_max": dbt.config.get("phase2_q_max"),
           "phase2_q_column": dbt.config.get("phase2_q_column"),
           "phase2_holdout_lift_min_bps": dbt.config.get("phase2_holdout_lift_min_bps"),
           "phase2_gate_snooping": dbt.config.get("phase2_gate_snooping"),
           "snoop_alpha": dbt.config.get("snoop_alpha"),
           "snoop_reps": dbt.config.get("snoop_reps"),
           "snoop_block_days": dbt.config.get("snoop_block_days"),
           "snoop_pbo_blocks": dbt.config.get("snoop_pbo_blocks"),
           "bootstrap_seed": dbt.config.get("bootstrap_seed")}
    # the embargo is never shorter than the longest horizon (lifthouse.research.split)
    split = split_for_plan(cfg.get, plan["horizon_min"])
    gates = from_config(Gates, cfg.get)

    stats = candidate_statistics(plan, trades, split.block_days())
    # PSR / DSR / MinTRL and StepM's selection over the whole grid (the snooping gate's input)
    # only the days with P&L (a small fraction at scale) and the calendar of each block
    daily_rel = dbt.ref("phase2_candidate_daily")
    daily = to_pandas(daily_rel, "select candidate_id, block, day, net_bps from r "
                                 "where net_bps <> 0")
    calendar = calendar_of(to_pandas(daily_rel, "select distinct block, day from r"))
    snoop = candidate_snooping(daily, plan, from_config(SnoopParams, cfg.get), calendar)
    stats = stats.merge(snoop, on="candidate_id", how="left", validate="one_to_one")
    results = build_candidate_results(plan, stats, lift, gates)
    return to_engine(session, results.sort_values("candidate_id").reset_index(drop=True))
