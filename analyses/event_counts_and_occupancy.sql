-- Event counts and indicator-state occupancy per symbol over the analysis window (SPEC 4, 5, 9).
-- `dbt compile --select event_counts_and_occupancy` writes the SQL under target/compiled; run it
-- against the warehouse (e.g. duckdb <warehouse> < compiled.sql).
-- A symbol without open interest and liquidations (SOLUSDT in the real data) has no cascade
-- evidence and so no LIQUIDATION_CASCADE rows: it is listed with n = 0 and
-- note = 'no cascade evidence (no open interest, no liquidations)'.

with context as (

    select symbol, vol_regime, carry_state
    from {{ ref('market_context') }}
    where in_window

),

features as (

    select
        symbol,
        count(oi) as n_bars_with_oi,
        count(liq_long_usd) as n_bars_with_liquidations
    from {{ ref('features_v1') }}
    where in_window
    group by symbol

),

events as (

    select symbol, event_type
    from {{ ref('event_registry') }}
    where in_window

),

event_types as (

    select distinct event_type from {{ ref('event_registry') }}
    union
    select 'LIQUIDATION_CASCADE'
    union
    select 'liquidity_vacuum'

),

event_counts as (

    select
        'events' as section,
        features.symbol,
        event_types.event_type as item,
        count(events.event_type) as n,
        cast(null as double) as share,
        case
            when event_types.event_type = 'LIQUIDATION_CASCADE'
                and features.n_bars_with_oi = 0 and features.n_bars_with_liquidations = 0
            then 'no cascade evidence (no open interest, no liquidations)'
        end as note
    from features
    cross join event_types
    left join events
        on events.symbol = features.symbol
        and events.event_type = event_types.event_type
    group by features.symbol, event_types.event_type, features.n_bars_with_oi, features.n_bars_with_liquidations

),

vol_occupancy as (

    select
        'vol_regime' as section,
        symbol,
        vol_regime as item,
        count(*) as n,
        count(*) * 1.0 / sum(count(*)) over (partition by symbol) as share,
        cast(null as varchar) as note
    from context
    group by symbol, vol_regime

),

carry_occupancy as (

    select
        'carry_state' as section,
        symbol,
        carry_state as item,
        count(*) as n,
        count(*) * 1.0 / sum(count(*)) over (partition by symbol) as share,
        cast(null as varchar) as note
    from context
    group by symbol, carry_state

)

select * from event_counts
union all
select * from vol_occupancy
union all
select * from carry_occupancy
order by section, symbol, item
