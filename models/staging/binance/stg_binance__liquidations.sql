-- Forced orders (liquidations). SELL = a long position was liquidated, BUY = a short.
-- notional_usd is USD: quantity x contract size for COIN-M contracts, price x quantity for USD-M.
-- Exact duplicate orders (same time, side, price and quantity) are kept once.

-- A table, not a view: the Parquet is read once here, not again by each data test and
-- downstream model (docs/benchmarks.md).
{{ config(materialized='table') }}

{#- adapter.quote: "time" on DuckDB, `time` on Spark (docs/spark.md) -#}
{%- set time_col = adapter.quote('time') %}

with source as (

    {{ raw_source('binance', 'um_liquidations', [
        ['symbol', 'varchar'], ['time', 'timestamp'], ['side', 'varchar'],
        ['price', 'double'], ['quantity', 'double'], ['notional_usd', 'double'],
    ]) }}

),

in_run as (

    select *
    from source
    where symbol in {{ symbol_list() }}
      and {{ time_col }} >= {{ load_window_start(1) }}
      and {{ time_col }} < {{ analysis_window_end() }}

),

deduplicated as (

    select distinct
        symbol,
        {{ time_col }} as liquidated_at,
        side,
        price,
        quantity,
        notional_usd
    from in_run

)

select * from deduplicated
