-- liquidity_vacuum (SPEC 5): a volatility shock followed by var('vacuum_thin_minutes') thin
-- minutes, confirmed at the last of them.
--   shock at bar s:  |log_ret| >= var('vacuum_shock_sigma') x the trailing 24h std of the bar's
--                    returns (ret_std_24h x sqrt(bar_minutes): ret_std_24h is per minute)
--   thin bar:        range_rel above its trailing var('vacuum_range_quantile') quantile (the range
--                    stays wide) and illiquidity (range per sqrt of USD traded) above its trailing
--                    var('vacuum_illiq_quantile') quantile (volume is low for that range).
-- On 1m bars range and volume move together (corr 0.75-0.84), so "range above median while
-- volume below median" never fires; thinness is relative illiquidity against its own trailing
-- distribution. Percentiles use the var('vacuum_baseline_minutes') before the bar (the bar itself
-- excluded), sampled every var('vacuum_sample_minutes') minutes. The event is stamped at bar s + vacuum_thin_minutes (the last thin bar);
-- episode_start = s; direction = sign of the shock. Episodes de-duplicated with a cooldown.

{%- set baseline = var('vacuum_baseline_minutes') | int %}
{%- set sample_minutes = var('vacuum_sample_minutes') | int %}
{%- set thin_minutes = lifthouse.grain_var('vacuum_thin_minutes') | int %}
{%- set shock_sigma = var('vacuum_shock_sigma') | float %}
{%- set step = lifthouse.bar_minutes() %}
{#- the trailing std of the bar's own returns: ret_std_24h is per minute (x sqrt(bar_minutes) at 5m) #}
{%- set bar_std = 'ret_std_24h' if step == 1 else '(ret_std_24h * sqrt(' ~ step ~ '))' %}
{#- the sample is complete on its own step: a ROWS frame holds the RANGE frame's samples (macros/features/grid_frames.sql) #}
{%- set frame = 'partition by symbol order by open_time ' ~ lifthouse.trailing_minutes_frame(baseline, sample_minutes) %}

with bars as (

    select
        symbol,
        open_time,
        log_ret,
        ret_std_24h,
        range_rel,
        illiquidity
    from {{ ref('int_features_bars_computed') }}

),

-- the trailing percentiles are taken on a sample every var('vacuum_sample_minutes') minutes
-- (as for vol_regime: a windowed quantile over every 1m row is the expensive step)
sampled as (

    select symbol, open_time, range_rel, illiquidity
    from bars
    where extract(minute from open_time) % {{ sample_minutes }} = 0

),

sampled_thresholds as (

    select
        symbol,
        -- a sample at s covers bars up to s: first usable by the bar after it, so a bar never
        -- enters its own threshold
        open_time + {{ lifthouse.minutes(step) }} as usable_from,
        count(illiquidity) over ({{ frame }}) as n_baseline,
        {{ lifthouse.trailing_quantile('range_rel', var('vacuum_range_quantile'), frame) }} as range_rel_threshold,
        {{ lifthouse.trailing_quantile('illiquidity', var('vacuum_illiq_quantile'), frame) }} as illiq_threshold
    from sampled

),

baselines as (

    {{ lifthouse.asof_join_backward('bars', 'sampled_thresholds', 'symbol', 'open_time', 'usable_from',
                                    ['n_baseline', 'range_rel_threshold', 'illiq_threshold']) }}

),

flagged as (

    select
        symbol,
        open_time,
        case when abs(log_ret) >= {{ shock_sigma }} * {{ bar_std }} then log_ret end as shock_ret,
        abs(log_ret) / {{ bar_std }} as shock_sigma,
        case
            when n_baseline >= {{ var('feature_min_coverage') | float }} * {{ baseline // sample_minutes }}
                and range_rel > range_rel_threshold
                and illiquidity > illiq_threshold
            then 1 else 0
        end as is_thin,
        illiquidity / nullif(illiq_threshold, 0) as illiq_ratio
    from baselines

),

-- per bar: the thin run ending at it, and the shock bar var('vacuum_thin_minutes') minutes
-- before its first bar (the grid is complete, so that bar is that many minutes / bar_minutes
-- rows back)
thin_runs as (

    select
        *,
        sum(is_thin) over w_thin_run as n_thin,
        min(illiq_ratio) over w_thin_run as min_illiq_ratio,
        lag(shock_ret, {{ lifthouse.bars(thin_minutes, 'vacuum_thin_minutes') }}) over (partition by symbol order by open_time) as shock_ret_before,
        lag(shock_sigma, {{ lifthouse.bars(thin_minutes, 'vacuum_thin_minutes') }}) over (partition by symbol order by open_time) as shock_sigma_before
    from flagged
    window w_thin_run as (partition by symbol order by open_time {{ lifthouse.trailing_minutes_frame(thin_minutes) }})

),

-- a full thin run whose first bar directly follows a shock bar
qualifying as (

    select
        symbol,
        open_time,
        min_illiq_ratio,
        shock_ret_before,
        shock_sigma_before
    from thin_runs
    where n_thin = {{ lifthouse.bars(thin_minutes, 'vacuum_thin_minutes') }}
      and shock_ret_before is not null

),

episodes as (

    {{ lifthouse.episode_starts('qualifying', 'symbol', 'open_time', var('vacuum_cooldown_minutes')) }}

)

select
    'liquidity_vacuum' as event_type,
    symbol,
    open_time - {{ lifthouse.minutes(thin_minutes) }} as episode_start,
    open_time as detected_at,
    cast(sign(shock_ret_before) as integer) as direction,
    'illiquidity' as evidence,
    'shock_sigma' as trigger_name,
    shock_sigma_before as trigger_value,
    {{ shock_sigma }} as trigger_threshold,
    'min_illiq_over_trailing_quantile' as evidence_name,
    min_illiq_ratio as evidence_value,
    1.0 as evidence_threshold
from episodes
