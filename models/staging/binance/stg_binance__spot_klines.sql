-- Spot klines of the run's grain (spot_klines_1m or spot_klines_5m; macros/grain.sql), for the
-- perp-spot basis. Optional: empty when no spot data is loaded.
-- De-duplication rule as for perp klines: larger volume, then larger close wins.

-- A table, not a view: the Parquet is read once here, not again by each data test and
-- downstream model (docs/benchmarks.md).
{{ config(materialized='table') }}

with source as (

    {{ raw_source('binance', lifthouse.klines_dataset('spot'), [
        ['symbol', 'varchar'], ['open_time', 'timestamp'],
        ['open', 'double'], ['high', 'double'], ['low', 'double'], ['close', 'double'],
        ['volume', 'double'],
    ]) }}

),

in_run as (

    select *
    from source
    where symbol in {{ symbol_list() }}
      and open_time >= {{ load_window_start() }}
      and open_time < {{ analysis_window_end() }}

),

deduplicated as (

    {{ keep_first('in_run', ['symbol', 'open_time'], 'volume desc, close desc') }}

)

select
    symbol,
    open_time,
    open,
    high,
    low,
    close,
    volume
from deduplicated
