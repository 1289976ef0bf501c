-- All features v1 per (symbol, minute): the price / volume features of int_features_bars_computed
-- and the slower series of int_features_series_attached (open interest, funding, liquidations,
-- spot; attached point-in-time there), plus the perp-spot basis of the same minute. Both inputs
-- hold exactly the minutes of the grid, so this is one 1:1 join.

with bars as (

    select * from {{ ref('int_features_bars_computed') }}

),

attached as (

    select * from {{ ref('int_features_series_attached') }}

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
        a.funding_rate_bps,
        a.funding_time,
        a.oi_time,
        a.oi,
        a.oi_value_usd,
        a.oi_chg_5m,
        a.oi_chg_15m,
        a.oi_chg_60m,
        a.liq_long_usd,
        a.liq_short_usd,
        10000 * (b.close / a.spot_close - 1) as basis_bps,
        b.taker_buy_ratio,
        b.illiquidity
    from bars as b
    left join attached as a
        on b.symbol = a.symbol
        and b.open_time = a.open_time

)

select * from joined
