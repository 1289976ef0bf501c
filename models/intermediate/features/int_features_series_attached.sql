-- The slower series attached point-in-time to every minute of the grid, in one narrow table
-- (only keys and the attached columns, so the one 1:1 join in int_features_joined is cheap):
--   open interest  backward as-of join of the bar's close on the snapshot's usable_from (its raw
--                  stamp, or its 5m slot when the stamp is only Binance's +1 s late; SPEC 2);
--                  NULL when older than var('oi_max_age_minutes')
--   funding        the last settlement with funding_time <= the bar's close (a settlement at F is
--                  first used by the bar that closes at F, never earlier); NULL before the first
--                  one or when older than var('funding_max_age_minutes')
--   liquidations   of the bar's own minute: 0 once the symbol's coverage has started, NULL before
--   spot close     of the same minute (NULL without a spot bar)
-- The as-of joins run on the grid's keys only (an as-of join sorts its left side: narrow rows
-- sort and spill far less than the wide feature rows, docs/benchmarks.md "sixth step").

with grid as (

    select
        symbol,
        open_time,
        close_time
    from {{ ref('int_perp_bars_gridded') }}

),

open_interest as (

    select * from {{ ref('int_features_open_interest_computed') }}

),

settlements as (

    select
        symbol,
        funding_time,
        funding_rate_bps
    from {{ ref('stg_binance__funding_rates') }}

),

liquidations as (

    select * from {{ ref('int_features_liquidations_bucketed') }}

),

liquidation_coverage as (

    -- the symbol's first liquidated bar in the load window: from then on, a bar without a row
    -- means zero liquidations
    select symbol, min(open_time) as coverage_start
    from liquidations
    group by symbol

),

spot as (

    select symbol, open_time, close as spot_close
    from {{ ref('stg_binance__spot_klines') }}

),

with_open_interest as (

    {{ lifthouse.asof_join_backward('grid', 'open_interest', 'symbol', 'close_time', 'usable_from',
                                    ['oi_time', 'oi', 'oi_value_usd', 'oi_chg_5m', 'oi_chg_15m', 'oi_chg_60m']) }}

),

with_funding as (

    {{ lifthouse.asof_join_backward('with_open_interest', 'settlements', 'symbol', 'close_time', 'funding_time',
                                    ['funding_time', 'funding_rate_bps']) }}

),

fresh as (

    select
        *,
        oi_time is not null
            and close_time <= oi_time + {{ lifthouse.minutes(var('oi_max_age_minutes')) }}
            as is_oi_fresh,
        funding_time is not null
            and close_time <= funding_time + {{ lifthouse.minutes(var('funding_max_age_minutes')) }}
            as is_funding_fresh
    from with_funding

),

attached as (

    select
        f.symbol,
        f.open_time,
        case when f.is_funding_fresh then f.funding_rate_bps end as funding_rate_bps,
        case when f.is_funding_fresh then f.funding_time end as funding_time,
        case when f.is_oi_fresh then f.oi_time end as oi_time,
        case when f.is_oi_fresh then f.oi end as oi,
        case when f.is_oi_fresh then f.oi_value_usd end as oi_value_usd,
        case when f.is_oi_fresh then f.oi_chg_5m end as oi_chg_5m,
        case when f.is_oi_fresh then f.oi_chg_15m end as oi_chg_15m,
        case when f.is_oi_fresh then f.oi_chg_60m end as oi_chg_60m,
        case when c.coverage_start <= f.open_time then coalesce(l.liq_long_usd, 0) end as liq_long_usd,
        case when c.coverage_start <= f.open_time then coalesce(l.liq_short_usd, 0) end as liq_short_usd,
        s.spot_close
    from fresh as f
    left join liquidations as l
        on f.symbol = l.symbol
        and f.open_time = l.open_time
    left join liquidation_coverage as c
        on f.symbol = c.symbol
    left join spot as s
        on f.symbol = s.symbol
        and f.open_time = s.open_time

)

select * from attached
