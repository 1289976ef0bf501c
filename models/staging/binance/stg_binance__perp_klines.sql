-- USD-M perpetual klines of the run's grain (um_klines_1m, or um_klines_5m at var('bar_minutes') 5;
-- macros/grain.sql) for the run's symbols and load window.
-- De-duplication rule: the raw layer stores one row per (symbol, open_time); should a file dropped
-- in by hand repeat a bar, the row with the most optional columns filled wins, then the larger
-- volume, then the larger close (deterministic).

-- A table, not a view: the Parquet is read once here, not again by each data test and
-- downstream model (docs/benchmarks.md).
{{ config(materialized='table') }}

{#- adapter.quote: "count" on DuckDB, `count` on Spark (docs/spark.md) -#}
{%- set count_col = adapter.quote('count') %}

with source as (

    {{ raw_source('binance', lifthouse.klines_dataset('um'), [
        ['symbol', 'varchar'], ['open_time', 'timestamp'],
        ['open', 'double'], ['high', 'double'], ['low', 'double'], ['close', 'double'],
        ['volume', 'double'], ['quote_volume', 'double'], ['count', 'bigint'],
        ['taker_buy_volume', 'double'], ['taker_buy_quote_volume', 'double'],
    ]) }}

),

in_run as (

    select *
    from source
    where symbol in {{ symbol_list() }}
      and open_time >= {{ load_window_start() }}
      and open_time < {{ analysis_window_end() }}

),

renamed as (

    select
        symbol,
        open_time,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        {{ count_col }} as trade_count,
        taker_buy_volume,
        taker_buy_quote_volume,
        (case when quote_volume is null then 0 else 1 end
         + case when {{ count_col }} is null then 0 else 1 end
         + case when taker_buy_volume is null then 0 else 1 end
         + case when taker_buy_quote_volume is null then 0 else 1 end) as n_optional_filled
    from in_run

),

deduplicated as (

    {{ keep_first('renamed', ['symbol', 'open_time'], 'n_optional_filled desc, volume desc, close desc') }}

)

select
    symbol,
    open_time,
    open,
    high,
    low,
    close,
    volume,
    quote_volume,
    trade_count,
    taker_buy_volume,
    taker_buy_quote_volume
from deduplicated
