"""Phase 2 grid tests (docs/phase2.md, "Data snooping"): one row per scope (all candidates, and
each event type) with Hansen's SPA p-values, StepM's selection, the effective number of trials
and the deflated Sharpe benchmark SR0, and the probability of backtest overfitting (CSCV).

Thin wrapper: reads phase2_candidate_daily; the tests are
lifthouse.research.snooping_grid.grid_tests (numerics in lifthouse.research.snooping).
"""

from lifthouse.research.params import from_config
from lifthouse.research.snooping_grid import SnoopParams, calendar_of, grid_tests
from lifthouse.run.modelio import to_engine, to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes only the config keys it finds as literal dbt.config.get("...") calls
    cfg = {"snoop_alpha": dbt.config.get("snoop_alpha"),
           "snoop_reps": dbt.config.get("snoop_reps"),
           "snoop_block_days": dbt.config.get("snoop_block_days"),
           "snoop_pbo_blocks": dbt.config.get("snoop_pbo_blocks"),
           "bootstrap_seed": dbt.config.get("bootstrap_seed")}
    params = from_config(SnoopParams, cfg.get)
    plan = to_pandas(dbt.ref("candidate_plan"), "select candidate_id, event_type from r")
    # only the days with P&L (a small fraction at scale) and the calendar of each block
    daily_rel = dbt.ref("phase2_candidate_daily")
    daily = to_pandas(daily_rel, "select candidate_id, block, day, net_bps from r "
                                 "where net_bps <> 0")
    calendar = calendar_of(to_pandas(daily_rel, "select distinct block, day from r"))
    return to_engine(session, grid_tests(daily, plan, params, calendar))
