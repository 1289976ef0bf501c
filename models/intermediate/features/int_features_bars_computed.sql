-- Price and volume features per (symbol, bar) from the complete grid. Every window is a
-- trailing window in minutes ending at the current bar (values known at its close), written as a
-- ROWS frame over the complete bar grid (macros/features/grid_frames.sql: the same bars as a
-- RANGE frame over open_time; a window of m minutes is m / bar_minutes rows, macros/grain.sql).
-- A statistic is NULL (warm-up) unless its window holds at least var('feature_min_coverage') of
-- the inputs it should hold. Features keep their meaning in minutes at either grain
-- (docs/features_and_events.md "Bar grain").

{%- set coverage = var('feature_min_coverage') | float %}
{%- set baseline = var('baseline_minutes') | int %}
{%- set by_symbol = 'partition by symbol order by open_time' %}
{%- set step = lifthouse.bar_minutes() %}

with bars as (

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
        quote_volume,
        taker_buy_volume
    from {{ ref('int_perp_bars_gridded') }}

),

-- the grid is complete, so the previous row is the previous bar; a gap on either side
-- gives a NULL close and so a NULL return
returns as (

    select
        *,
        ln(close / lag(close) over (partition by symbol order by open_time)) as log_ret,
        (high - low) / close as range_rel,
        coalesce(quote_volume, volume * close) as notional_usd
    from bars

),

with_illiquidity as (

    select
        *,
        -- bar range in bps per square root of the USD millions traded. The square root follows
        -- the square-root law of market impact: on 1m bars range grows roughly with sqrt(volume),
        -- so this ratio does not collapse on busy bars the way range / volume does. High = the
        -- price moved a lot for the volume that traded (thin book).
        (range_rel * 10000) / sqrt(nullif(notional_usd / 1000000, 0)) as illiquidity
    from returns

),

-- running counts of the inputs: the trailing counts below are differences of them
-- (macros/features/grid_frames.sql: exact, and far cheaper than a count over a 24h frame)
running as (

    select
        *,
        {{ lifthouse.running_count('log_ret', by_symbol) }} as n_ret_running,
        {{ lifthouse.running_count('volume', by_symbol) }} as n_volume_running
    from with_illiquidity

),

windowed as (

    select
        *,
        {{ lifthouse.trailing_count('n_ret_running', 5, by_symbol) }} as n_ret_5m,
        sum(log_ret * log_ret) over w_5m as sum_sq_ret_5m,
        {{ lifthouse.trailing_count('n_ret_running', 60, by_symbol) }} as n_ret_60m,
        sum(log_ret * log_ret) over w_60m as sum_sq_ret_60m,
        {{ lifthouse.trailing_count('n_ret_running', baseline, by_symbol) }} as n_ret_base,
        stddev_samp(log_ret) over w_base as std_ret_base,
        {{ lifthouse.trailing_count('n_volume_running', baseline, by_symbol) }} as n_volume_base,
        {{ lifthouse.trailing_quantile('volume', 0.5, 'partition by symbol order by open_time ' ~ lifthouse.trailing_minutes_frame(baseline)) }} as volume_median_base,
        -- the close exactly 5 minutes earlier (the grid is complete: 5 / bar_minutes rows back)
        lag(close, {{ lifthouse.bars(5) }}) over (partition by symbol order by open_time) as close_5m_ago
    from running
    window
        w_5m as (partition by symbol order by open_time {{ lifthouse.trailing_minutes_frame(5) }}),
        w_60m as (partition by symbol order by open_time {{ lifthouse.trailing_minutes_frame(60) }}),
        w_base as (partition by symbol order by open_time {{ lifthouse.trailing_minutes_frame(baseline) }})

),

features as (

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
        -- realised vol = sqrt(sum of squared bar returns), rescaled to the full window when a
        -- few returns are missing (at 5m, rv_5m is one bar's |log_ret|)
        case when n_ret_5m >= {{ coverage }} * {{ lifthouse.bars(5) }}
            then sqrt(sum_sq_ret_5m * {{ lifthouse.bars(5) }} / n_ret_5m) end as rv_5m,
        case when n_ret_60m >= {{ coverage }} * {{ lifthouse.bars(60) }}
            then sqrt(sum_sq_ret_60m * {{ lifthouse.bars(60) }} / n_ret_60m) end as rv_60m,
        range_rel,
        case when n_volume_base >= {{ coverage }} * {{ lifthouse.bars(baseline, 'baseline_minutes') }}
            then volume / nullif(volume_median_base, 0) end as vol_rel_24h,
        -- the trailing standard deviation per minute: of the bar returns, over sqrt(bar_minutes)
        case when n_ret_base >= {{ coverage }} * {{ lifthouse.bars(baseline, 'baseline_minutes') }}
            then nullif(std_ret_base, 0){% if step != 1 %} / sqrt({{ step }}){% endif %} end as ret_std_24h,
        ln(close / close_5m_ago) as ret_5m,
        illiquidity,
        taker_buy_volume / nullif(volume, 0) as taker_buy_ratio
    from windowed

)

select
    *,
    ret_5m / (ret_std_24h * sqrt(5)) as zmove_5m
from features
