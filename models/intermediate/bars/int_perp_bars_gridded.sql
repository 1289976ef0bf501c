-- The complete bar grid per symbol, stepping by var('bar_minutes') (1 or 5; macros/grain.sql),
-- from its first to its last loaded perp bar. A slot without a bar is kept with is_gap = true and NULL prices / volumes: nothing is
-- forward-filled, so every return that touches a gap is NULL downstream.

with bars as (

    select * from {{ ref('stg_binance__perp_klines') }}

),

bounds as (

    select
        symbol,
        min(open_time) as first_open_time,
        max(open_time) as last_open_time
    from bars
    group by symbol

),

grid as (

    {{ lifthouse.minute_grid('bounds', 'symbol', 'first_open_time', 'last_open_time', lifthouse.bar_minutes()) }}

),

gridded as (

    select
        grid.symbol,
        grid.open_time,
        bars.open_time is null as is_gap,
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        bars.quote_volume,
        bars.trade_count,
        bars.taker_buy_volume,
        bars.taker_buy_quote_volume
    from grid
    left join bars
        on grid.symbol = bars.symbol
        and grid.open_time = bars.open_time

)

select
    symbol,
    open_time,
    open_time + {{ lifthouse.minutes(lifthouse.bar_minutes()) }} as close_time,
    {{ lifthouse.in_analysis_window('open_time') }} as in_window,
    is_gap,
    open,
    high,
    low,
    close,
    volume,
    quote_volume,
    trade_count,
    taker_buy_volume,
    taker_buy_quote_volume
from gridded
