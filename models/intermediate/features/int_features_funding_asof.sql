-- The funding rate in force at each bar: the last settlement with funding_time <= the bar's
-- close (backward as-of join), i.e. a settlement at F is first used by the bar that closes at F
-- (open_time = F - 1 minute), never earlier. NULL when there is no settled rate yet or the last
-- one is older than var('funding_max_age_minutes').

with bars as (

    select
        symbol,
        open_time,
        close_time
    from {{ ref('int_perp_bars_gridded') }}

),

settlements as (

    select
        symbol,
        funding_time,
        funding_rate_bps
    from {{ ref('stg_binance__funding_rates') }}

),

joined as (

    {{ lifthouse.asof_join_backward('bars', 'settlements', 'symbol', 'close_time', 'funding_time',
                                    ['funding_time', 'funding_rate_bps']) }}

),

fresh as (

    select
        symbol,
        open_time,
        close_time,
        funding_time,
        funding_rate_bps,
        funding_time is not null
            and close_time <= funding_time + {{ lifthouse.minutes(var('funding_max_age_minutes')) }}
            as is_funding_fresh
    from joined

)

select
    symbol,
    open_time,
    case when is_funding_fresh then funding_time end as funding_time,
    case when is_funding_fresh then funding_rate_bps end as funding_rate_bps
from fresh
