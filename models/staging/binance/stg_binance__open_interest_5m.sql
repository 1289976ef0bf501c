-- Open interest per 5-minute slot. Binance stamps some rows ~1 s late: `oi_time` floors the raw
-- stamp to its 5m slot (the key); `available_at` keeps the raw stamp. A value stamped T is
-- usable from the first bar whose close is at or after T (SPEC 2).
-- If two raw rows land in one slot, the earlier raw stamp wins.

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
      and "timestamp" >= {{ load_window_start(1) }}
      -- a stamp at end_date is still usable by the last bar, whose close is end_date (SPEC 2)
      and "timestamp" < {{ analysis_window_end() }} + interval '1 minute'

),

slotted as (

    select
        symbol,
        {{ floor_minutes('"timestamp"', 5) }} as oi_time,
        "timestamp" as available_at,
        sum_open_interest,
        sum_open_interest_value
    from in_run

),

deduplicated as (

    {{ keep_first('slotted', ['symbol', 'oi_time'], 'available_at asc') }}

)

select
    symbol,
    oi_time,
    available_at,
    sum_open_interest,
    sum_open_interest_value
from deduplicated
