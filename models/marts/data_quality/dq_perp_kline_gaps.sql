-- Bar-grid gap report: one row per run of missing perp bars (of the run's grain, var
-- bar_minutes) inside the load window, including a missing head (before the first bar) or tail
-- (after the last bar). Interior gaps are the runs of is_gap rows of int_perp_bars_gridded (one
-- home for "a slot without a bar"). gap_start and gap_end are the open times of the first and
-- last missing bar; missing_minutes counts the minutes they cover.

{%- set bar = lifthouse.minutes(lifthouse.bar_minutes()) %}

with bars as (

    select symbol, open_time, is_gap
    from {{ ref('int_perp_bars_gridded') }}

),

runs as (

    -- every gap row of one run has the same number of real bars before it
    select
        symbol,
        open_time,
        is_gap,
        sum(case when is_gap then 0 else 1 end) over (
            partition by symbol order by open_time rows between unbounded preceding and current row
        ) as n_bars_before
    from bars

),

interior_gaps as (

    select
        symbol,
        min(open_time) as gap_start,
        max(open_time) as gap_end
    from runs
    where is_gap
    group by symbol, n_bars_before

),

edges as (

    select
        symbol,
        min(open_time) as first_open_time,
        max(open_time) as last_open_time
    from bars
    where not is_gap
    group by symbol

),

head_gaps as (

    select
        symbol,
        {{ load_window_start() }} as gap_start,
        first_open_time - {{ bar }} as gap_end
    from edges
    where first_open_time > {{ load_window_start() }}

),

tail_gaps as (

    select
        symbol,
        last_open_time + {{ bar }} as gap_start,
        {{ analysis_window_end() }} - {{ bar }} as gap_end
    from edges
    where last_open_time < {{ analysis_window_end() }} - {{ bar }}

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
    {{ minutes_between('gap_start', 'gap_end') }} + {{ lifthouse.bar_minutes() }} as missing_minutes
from all_gaps
