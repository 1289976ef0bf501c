-- Liquidation notional (USD) per symbol and bar, split by the side that was liquidated.
-- A forced order at time x belongs to the bar with open_time = floor(x to the bar grain,
-- var('bar_minutes')), whose close is the first moment it is known. SELL orders liquidate longs, BUY orders shorts.
-- Only minutes with at least one liquidation have a row (int_features_series_attached takes the
-- symbol's first one as the start of its liquidation coverage). Each row depends only on the
-- orders of its own bar, so the data layer's append can recompute any span of it alone.

with liquidations as (

    select
        symbol,
        {{ lifthouse.floor_minutes('liquidated_at', lifthouse.bar_minutes()) }} as open_time,
        side,
        notional_usd
    from {{ ref('stg_binance__liquidations') }}

),

per_minute as (

    select
        symbol,
        open_time,
        -- summed in whole cents: exact, so the result does not depend on thread order
        {{ cents_to_usd("sum(case when side = 'SELL' then " ~ usd_to_cents('notional_usd') ~ " else 0 end)") }} as liq_long_usd,
        {{ cents_to_usd("sum(case when side = 'BUY' then " ~ usd_to_cents('notional_usd') ~ " else 0 end)") }} as liq_short_usd,
        count(*) as n_liquidations
    from liquidations
    group by symbol, open_time

)

select
    symbol,
    open_time,
    liq_long_usd,
    liq_short_usd,
    n_liquidations
from per_minute
