"""Phase 2 candidate daily P&L (docs/phase2.md, "Data snooping"): one row per (candidate,
block, UTC day) over every calendar day of the discovery and holdout blocks, 0 on a day without
a trade; the T x k matrix of the grid-level snooping tests (phase2_grid_tests).

Thin wrapper: the engine selects the traded trades; lifthouse.research.daily.daily_pnl sums them
per (candidate, block, entry day) in time order (a sum in the engine could differ in the last
bit between runs with its thread order) and fills the calendar (the split of
lifthouse.research.split, as for phase2_trades).
"""

import pyarrow as pa

from lifthouse.research.daily import daily_pnl
from lifthouse.research.split import split_for_plan
from lifthouse.run.modelio import to_engine, to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes only the config keys it finds as literal dbt.config.get("...") calls
    plan = to_pandas(dbt.ref("candidate_plan"), "select candidate_id, horizon_min from r")
    traded = to_pandas(dbt.ref("phase2_trades"), """
        select candidate_id, block, trade_day, entry_time, event_id, net_bps
        from r
        where trade_status = 'traded' and block in ('discovery', 'holdout')""")
    cfg = {"start_date": dbt.config.get("start_date"), "end_date": dbt.config.get("end_date"),
           "phase2_discovery_fraction": dbt.config.get("phase2_discovery_fraction"),
           "phase2_embargo_minutes": dbt.config.get("phase2_embargo_minutes")}
    split = split_for_plan(cfg.get, plan["horizon_min"])
    daily = daily_pnl(traded, plan["candidate_id"], split)
    table = pa.Table.from_pandas(daily, preserve_index=False)
    day_idx = table.schema.get_field_index("day")
    return to_engine(session, table.set_column(day_idx, "day",
                                               table.column("day").cast(pa.date32())))
