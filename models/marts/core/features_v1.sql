-- Features v1 (SPEC 3): one row per (symbol, minute) on the complete grid. Every value at
-- open_time t uses only data known at the bar's close (t + 1 minute). See
-- docs/features_and_events.md.
-- A view: the columns of the int_features_joined table in their public order. Materialising it
-- would write every minute a second time (docs/benchmarks.md); reading it costs the same.
-- On Spark a table: a Spark build's tables are copied into the run's DuckDB file for the export
-- and report (lifthouse.run.spark.publish), and a Spark view has no Parquet to copy.
{{ config(materialized=('table' if target.type == 'spark' else 'view')) }}

with features as (

    select * from {{ ref('int_features_joined') }}

)

select
    symbol,
    open_time,
    close_time,
    in_window,
    is_gap,
    open,
    high,
    low,
    close,
    volume,
    log_ret,
    rv_5m,
    rv_60m,
    range_rel,
    vol_rel_24h,
    zmove_5m,
    funding_rate_bps,
    oi,
    oi_chg_5m,
    oi_chg_15m,
    oi_chg_60m,
    liq_long_usd,
    liq_short_usd,
    basis_bps,
    taker_buy_ratio,
    ret_5m,
    ret_std_24h,
    illiquidity,
    funding_time,
    oi_time,
    oi_value_usd
from features
