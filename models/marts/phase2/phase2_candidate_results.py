"""Phase 2 candidate results (SPEC 6-7): one row per candidate with discovery (disc_) and
holdout (hold_) statistics, BH/BY q-values, gates, the lift CI of int_candidate_lift and the
promotion status.

Thin wrapper: status counts and the traded rows are selected in DuckDB; statistics in
lifthouse.stats, gates and fallback in lifthouse.promotion. Rules in docs/phase2.md.
"""

import pandas as pd

from lifthouse.backtest import Split
from lifthouse.modelio import to_engine, to_pandas
from lifthouse.promotion import Gates, build_candidate_results
from lifthouse.stats import candidate_statistics


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes only the config keys it finds as literal dbt.config.get("...") calls

    plan = to_pandas(dbt.ref("candidate_plan"))
    trades = to_pandas(dbt.ref("phase2_trades"), """
        select candidate_id, event_id, trade_status, block, entry_time, trade_day, net_bps
        from r""")
    lift = to_pandas(dbt.ref("int_candidate_lift"),
                     "select candidate_id, lift_bps, lift_ci_low, lift_ci_high from r")

    split = Split(
        window_start=pd.Timestamp(dbt.config.get("start_date")),
        window_end=pd.Timestamp(dbt.config.get("end_date")),
        discovery_fraction=float(dbt.config.get("phase2_discovery_fraction")),
        embargo_minutes=max(int(dbt.config.get("phase2_embargo_minutes")),
                            int(plan["horizon_min"].max())),
    )
    gates = Gates(min_trades=int(dbt.config.get("phase2_min_trades")),
                  q_max=float(dbt.config.get("phase2_q_max")),
                  q_column=str(dbt.config.get("phase2_q_column")))

    stats = candidate_statistics(plan, trades, split.block_days())
    results = build_candidate_results(plan, stats, lift, gates)
    return to_engine(session, results.sort_values("candidate_id").reset_index(drop=True))
