-- All features v1 per (symbol, minute): price / volume features, plus the slower series attached
-- point-in-time: open interest by backward as-of join of the bar's close on the snapshot's
-- usable_from (its raw stamp, or its 5m slot when the stamp is only Binance's +1 s late;
-- SPEC 2), liquidations of the bar's own minute, the funding rate in force, and the perp-spot
-- basis of the same minute.

with bars as (

    select * from {{ ref('int_features_bars_computed') }}

),

open_interest as (

    select * from {{ ref('int_features_open_interest_computed') }}

),

liquidations as (

    select * from {{ ref('int_features_liquidations_bucketed') }}

),

liquidation_coverage as (

    select distinct symbol, coverage_start
    from liquidations

),

funding as (

    select * from {{ ref('int_features_funding_asof') }}

),

spot as (

    select symbol, open_time, close as spot_close
    from {{ ref('stg_binance__spot_klines_1m') }}

),

with_open_interest as (

    {{ lifthouse.asof_join_backward('bars', 'open_interest', 'symbol', 'close_time', 'usable_from',
                                    ['oi_time', 'oi', 'oi_value_usd', 'oi_chg_5m', 'oi_chg_15m', 'oi_chg_60m']) }}

),

open_interest_fresh as (

    select
        *,
        oi_time is not null
            and close_time <= oi_time + {{ lifthouse.minutes(var('oi_max_age_minutes')) }}
            as is_oi_fresh
    from with_open_interest

),

joined as (

    select
        b.symbol,
        b.open_time,
        b.close_time,
        b.in_window,
        b.is_gap,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        b.log_ret,
        b.rv_5m,
        b.rv_60m,
        b.range_rel,
        b.vol_rel_24h,
        b.ret_5m,
        b.ret_std_24h,
        b.zmove_5m,
        f.funding_rate_bps,
        f.funding_time,
        case when b.is_oi_fresh then b.oi_time end as oi_time,
        case when b.is_oi_fresh then b.oi end as oi,
        case when b.is_oi_fresh then b.oi_value_usd end as oi_value_usd,
        case when b.is_oi_fresh then b.oi_chg_5m end as oi_chg_5m,
        case when b.is_oi_fresh then b.oi_chg_15m end as oi_chg_15m,
        case when b.is_oi_fresh then b.oi_chg_60m end as oi_chg_60m,
        case when c.coverage_start <= b.open_time then coalesce(l.liq_long_usd, 0) end as liq_long_usd,
        case when c.coverage_start <= b.open_time then coalesce(l.liq_short_usd, 0) end as liq_short_usd,
        10000 * (b.close / s.spot_close - 1) as basis_bps,
        b.taker_buy_ratio,
        b.illiquidity
    from open_interest_fresh as b
    left join funding as f
        on b.symbol = f.symbol
        and b.open_time = f.open_time
    left join liquidations as l
        on b.symbol = l.symbol
        and b.open_time = l.open_time
    left join liquidation_coverage as c
        on b.symbol = c.symbol
    left join spot as s
        on b.symbol = s.symbol
        and b.open_time = s.open_time

)

select * from joined
