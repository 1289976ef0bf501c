"""Phase 2 trades (SPEC 6): one row per (candidate_id, event_id) considered by the backtest.

Thin wrapper: select the needed columns in the engine (DuckDB or Spark), hand Arrow to the pure
pandas/numpy kernel lifthouse.research.backtest.run_backtest, return Arrow. Vars arrive through
the model config of the same name (dbt_project.yml); defaults and rules in docs/phase2.md.
"""

import pyarrow as pa

from lifthouse.research.backtest import Costs, run_backtest
from lifthouse.research.params import from_config
from lifthouse.research.split import split_for_plan
from lifthouse.run.modelio import to_engine, to_pandas


STATE_COLUMNS = {
    "detection": "vol_regime, carry_state",
    "pre_event": "coalesce(vol_regime_pre, 'warmup') as vol_regime, "
                 "coalesce(carry_state_pre, 'warmup') as carry_state",
}


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes only the config keys it finds as literal dbt.config.get("...") calls

    # which state a condition matches (var phase2_condition_state_at, docs/phase2.md): the state
    # at the confirming bar, or the one before the episode started (NULL there = warm-up)
    state_at = str(dbt.config.get("phase2_condition_state_at")).strip()
    if state_at not in STATE_COLUMNS:
        raise ValueError(f"phase2_condition_state_at must be one of {sorted(STATE_COLUMNS)}, "
                         f"got {state_at!r}")
    events = to_pandas(dbt.ref("event_registry"),
                       "select event_id, event_type, symbol, detected_at, direction, "
                       + STATE_COLUMNS[state_at] + ", in_window from r where in_window")
    bars = to_pandas(dbt.ref("features_v1"),
                     "select symbol, open_time, open, close, is_gap from r where in_window")
    funding = to_pandas(dbt.ref("int_funding_rates_settled"),
                        "select symbol, funding_time, funding_rate from r")
    plan_df = to_pandas(dbt.ref("candidate_plan"), """
        select candidate_id, event_type, vol_condition, carry_condition, horizon_min,
               direction_rule, symbol_scope, scope_symbols
        from r""")
    cfg = {"start_date": dbt.config.get("start_date"), "end_date": dbt.config.get("end_date"),
           "phase2_discovery_fraction": dbt.config.get("phase2_discovery_fraction"),
           "phase2_embargo_minutes": dbt.config.get("phase2_embargo_minutes"),
           "phase2_fee_bps_per_side": dbt.config.get("phase2_fee_bps_per_side"),
           "phase2_slippage_bps_per_side": dbt.config.get("phase2_slippage_bps_per_side")}
    # the embargo is never shorter than the longest horizon (lifthouse.research.split)
    split = split_for_plan(cfg.get, plan_df["horizon_min"])
    costs = from_config(Costs, cfg.get)

    # fault injection for the sanity-check tests (var fault_ignore_condition_filter, default
    # false; docs/lift.md): conditioned candidates then take every event of their twin
    fault = str(dbt.config.get("fault_ignore_condition_filter")).strip().lower() in ("true", "1")

    # the bar grain (var bar_minutes): entry at the next bar's open, exit at a bar's close
    bar_minutes = int(dbt.config.get("bar_minutes"))
    trades = run_backtest(events, bars, funding, plan_df, costs, split,
                          ignore_condition_filter=fault, bar_minutes=bar_minutes)
    table = pa.Table.from_pandas(trades, preserve_index=False)
    day_idx = table.schema.get_field_index("trade_day")
    return to_engine(session, table.set_column(day_idx, "trade_day",
                                               table.column("trade_day").cast(pa.date32())))
