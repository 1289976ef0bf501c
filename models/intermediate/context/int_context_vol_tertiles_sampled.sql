-- Tertiles of rv_60m over its trailing distribution, taken on a sample of the series (every
-- var('vol_regime_sample_minutes') minutes) instead of every bar: a trailing 7-day windowed
-- quantile over every 1m row is by far the most expensive step of the build, and the sampled
-- version is just as point-in-time. The tertiles stamped s use only sampled rows with
-- open_time <= s (whose rv_60m is known at the close of bar s); bars attach them by a backward
-- as-of join on open_time >= s. is_warm: the trailing window holds at least
-- var('feature_min_coverage') of the samples it should hold.

{%- set sample_minutes = var('vol_regime_sample_minutes') | int %}
{%- set window_minutes = (var('vol_regime_window_days') | float * 1440) | round | int %}
{%- set expected_samples = window_minutes // sample_minutes %}
{#- the sample is complete on its own step: a ROWS frame holds the RANGE frame's samples (macros/features/grid_frames.sql) #}
{%- set frame = 'partition by symbol order by open_time ' ~ lifthouse.trailing_minutes_frame(window_minutes, sample_minutes) %}

with sampled as (

    select
        symbol,
        open_time,
        rv_60m
    from {{ ref('int_features_bars_computed') }}
    where extract(minute from open_time) % {{ sample_minutes }} = 0

),

tertiles as (

    select
        symbol,
        open_time,
        count(rv_60m) over ({{ frame }}) as n_samples,
        -- both tertiles from one window (macros/portable/trailing_quantile.sql)
        {{ lifthouse.trailing_quantiles('rv_60m', [1.0 / 3, 2.0 / 3], frame) }} as vol_tertiles
    from sampled

)

select
    symbol,
    open_time as sampled_at,
    n_samples,
    n_samples >= {{ var('feature_min_coverage') | float }} * {{ expected_samples }} as is_warm,
    {{ lifthouse.list_item('vol_tertiles', 1) }} as vol_q33,
    {{ lifthouse.list_item('vol_tertiles', 2) }} as vol_q67
from tertiles
