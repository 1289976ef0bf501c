-- Open interest per 5-minute snapshot with its % change over 5 / 15 / 60 minutes, computed on
-- the snapshot series itself (the snapshot stamped exactly 5 / 15 / 60 minutes earlier; NULL
-- when that snapshot is missing). oi_time is the raw stamp floored to its 5m slot (staging); the
-- snapshot describes the state at oi_time and is attached to bars by close time downstream.

with snapshots as (

    select
        symbol,
        oi_time,
        sum_open_interest as oi,
        sum_open_interest_value as oi_value_usd
    from {{ ref('stg_binance__open_interest_5m') }}

),

lagged as (

    select
        *,
        first_value(oi) over (partition by symbol order by oi_time
            range between {{ lifthouse.minutes(5) }} preceding and {{ lifthouse.minutes(5) }} preceding) as oi_5m_ago,
        first_value(oi) over (partition by symbol order by oi_time
            range between {{ lifthouse.minutes(15) }} preceding and {{ lifthouse.minutes(15) }} preceding) as oi_15m_ago,
        first_value(oi) over (partition by symbol order by oi_time
            range between {{ lifthouse.minutes(60) }} preceding and {{ lifthouse.minutes(60) }} preceding) as oi_60m_ago
    from snapshots

)

select
    symbol,
    oi_time,
    oi,
    oi_value_usd,
    100 * (oi / nullif(oi_5m_ago, 0) - 1) as oi_chg_5m,
    100 * (oi / nullif(oi_15m_ago, 0) - 1) as oi_chg_15m,
    100 * (oi / nullif(oi_60m_ago, 0) - 1) as oi_chg_60m
from lagged
