-- Minute-grid gap report: one row per run of missing 1m perp bars inside the load window,
-- including a missing head (before the first bar) or tail (after the last bar).

with bars as (

    select symbol, open_time
    from {{ ref('stg_binance__perp_klines_1m') }}

),

symbols as (

    select distinct symbol from bars

),

with_previous as (

    select
        symbol,
        open_time,
        lag(open_time) over (partition by symbol order by open_time) as previous_open_time
    from bars

),

interior_gaps as (

    select
        symbol,
        previous_open_time + interval '1 minute' as gap_start,
        open_time - interval '1 minute' as gap_end
    from with_previous
    where previous_open_time is not null
      and open_time > previous_open_time + interval '1 minute'

),

edges as (

    select
        symbol,
        min(open_time) as first_open_time,
        max(open_time) as last_open_time
    from bars
    group by symbol

),

head_gaps as (

    select
        symbol,
        {{ load_start() }} as gap_start,
        first_open_time - interval '1 minute' as gap_end
    from edges
    where first_open_time > {{ load_start() }}

),

tail_gaps as (

    select
        symbol,
        last_open_time + interval '1 minute' as gap_start,
        {{ load_end() }} - interval '1 minute' as gap_end
    from edges
    where last_open_time < {{ load_end() }} - interval '1 minute'

),

all_gaps as (

    select symbol, gap_start, gap_end, 'interior' as gap_kind from interior_gaps
    union all
    select symbol, gap_start, gap_end, 'before_first_bar' as gap_kind from head_gaps
    union all
    select symbol, gap_start, gap_end, 'after_last_bar' as gap_kind from tail_gaps

)

select
    symbol,
    gap_start,
    gap_end,
    gap_kind,
    {{ minutes_between('gap_start', 'gap_end') }} + 1 as missing_minutes
from all_gaps
