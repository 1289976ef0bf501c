-- Open interest per 5-minute slot. `oi_time` floors the raw stamp to its 5m slot (the key, the
-- state the snapshot describes); `available_at` keeps the raw stamp. SPEC 2: a snapshot is
-- usable from the first bar whose close is at or after its RAW stamp; only Binance's documented
-- jitter (var oi_stamp_jitter_seconds, +1 s) is floored to the slot, so `usable_from` is the slot
-- for a stamp at most that late, else the raw stamp (a snapshot stamped minutes late is still
-- labelled with its slot but not usable before it was published).
-- If two raw rows land in one slot, the earlier raw stamp wins.

{#- adapter.quote: "timestamp" on DuckDB, `timestamp` on Spark (docs/spark.md) -#}
{%- set ts = adapter.quote('timestamp') %}

with source as (

    {{ raw_source('binance', 'um_open_interest_5m', [
        ['symbol', 'varchar'], ['timestamp', 'timestamp'],
        ['sum_open_interest', 'double'], ['sum_open_interest_value', 'double'],
    ]) }}

),

in_run as (

    select *
    from source
    where symbol in {{ symbol_list() }}
      and {{ ts }} >= {{ load_window_start(1) }}
      -- a stamp at end_date is still usable by the last bar, whose close is end_date (SPEC 2)
      and {{ ts }} < {{ analysis_window_end() }} + interval '1 minute'

),

slotted as (

    select
        symbol,
        {{ floor_minutes(ts, 5) }} as oi_time,
        {{ ts }} as available_at,
        sum_open_interest,
        sum_open_interest_value
    from in_run

),

with_usable_from as (

    select
        *,
        case
            when available_at <= oi_time + {{ lifthouse.seconds(var('oi_stamp_jitter_seconds')) }}
                then oi_time
            else available_at
        end as usable_from
    from slotted

),

deduplicated as (

    {{ keep_first('with_usable_from', ['symbol', 'oi_time'], 'available_at asc') }}

)

select
    symbol,
    oi_time,
    available_at,
    usable_from,
    sum_open_interest,
    sum_open_interest_value
from deduplicated
