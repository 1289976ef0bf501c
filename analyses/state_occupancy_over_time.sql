-- Indicator-state occupancy over time: for each symbol and UTC day (or week, month), the share
-- of its in-window bars of market_context in each vol_regime and in each carry_state (shares
-- sum to 1 per symbol, period and dimension). rpt_state_occupancy is the same over the whole
-- window; this shows when the states change (a regime that only occupies the first week, a
-- carry state that starts mid-window, the warm-up at the start).
--
-- The period: var('analysis_occupancy_period'), day (default) | week (starting Monday) | month.
--
-- Run it from the repository root on a finished warehouse (README "Ad-hoc SQL"):
--   LIFTHOUSE_WAREHOUSE=warehouse/demo.duckdb .venv/bin/dbt compile --select state_occupancy_over_time \
--       --vars '{analysis_occupancy_period: week}'
--   .venv/bin/duckdb -readonly warehouse/demo.duckdb < target/compiled/lifthouse/analyses/state_occupancy_over_time.sql

{%- set period = var('analysis_occupancy_period', 'day') %}
{%- if period not in ('day', 'week', 'month') %}
    {{ exceptions.raise_compiler_error("var analysis_occupancy_period must be day, week or month, got '" ~ period ~ "'") }}
{%- endif %}

with context as (

    -- the in-window bars, each with the first day of its period
    select
        symbol,
        cast(date_trunc('{{ period }}', open_time) as date) as period_start,
        vol_regime,
        carry_state
    from {{ ref('market_context') }}
    where in_window

),

vol_regime_bars as (

    select symbol, period_start, 'vol_regime' as dimension, vol_regime as state, count(*) as n_bars
    from context
    group by symbol, period_start, vol_regime

),

carry_state_bars as (

    select symbol, period_start, 'carry_state' as dimension, carry_state as state, count(*) as n_bars
    from context
    group by symbol, period_start, carry_state

),

state_bars as (

    select * from vol_regime_bars
    union all
    select * from carry_state_bars

),

shares as (

    select
        symbol,
        '{{ period }}' as period,
        period_start,
        dimension,
        state,
        n_bars,
        cast(n_bars as double) / sum(n_bars) over (partition by symbol, period_start, dimension) as share
    from state_bars

)

select *
from shares
order by symbol, period_start, dimension, state
