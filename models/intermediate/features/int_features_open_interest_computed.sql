-- Open interest per 5-minute snapshot with its % change over 5 / 15 / 60 minutes, computed on
-- the snapshot series itself (the snapshot of the slot exactly 5 / 15 / 60 minutes earlier;
-- NULL when that snapshot is missing or was not yet usable when this one became usable).
-- oi_time is the 5m slot the snapshot describes; usable_from (staging, SPEC 2) is when it may
-- first be used: downstream attaches it to the bars whose close is at or after usable_from.

with snapshots as (

    select
        symbol,
        oi_time,
        usable_from,
        sum_open_interest as oi,
        sum_open_interest_value as oi_value_usd
    from {{ ref('stg_binance__open_interest_5m') }}

),

-- the snapshot of the slot exactly 5 / 15 / 60 minutes earlier, by equality join on its slot
-- (a RANGE frame of zero width found the same row, six times slower on DuckDB)
lagged as (

    select
        s.*,
        {%- for m in [5, 15, 60] %}
        ago_{{ m }}m.oi as oi_{{ m }}m_ago,
        ago_{{ m }}m.usable_from as usable_{{ m }}m_ago{{ "," if not loop.last }}
        {%- endfor %}
    from snapshots as s
    {%- for m in [5, 15, 60] %}
    left join snapshots as ago_{{ m }}m
        on s.symbol = ago_{{ m }}m.symbol
        and ago_{{ m }}m.oi_time = s.oi_time - {{ lifthouse.minutes(m) }}
    {%- endfor %}

),

-- a snapshot is superseded when a later slot became usable no later than it did: no bar ever
-- uses it (the later slot is newer and already usable), so it is dropped; what remains has
-- usable_from increasing with oi_time, which the backward as-of join downstream needs
superseded as (

    select
        *,
        min(usable_from) over (partition by symbol order by oi_time
            rows between 1 following and unbounded following) as next_usable_from
    from lagged

),

changes as (

    select
        symbol,
        oi_time,
        usable_from,
        oi,
        oi_value_usd,
        {%- for m in [5, 15, 60] %}
        case when usable_{{ m }}m_ago <= usable_from
            then 100 * (oi / nullif(oi_{{ m }}m_ago, 0) - 1) end as oi_chg_{{ m }}m{{ "," if not loop.last }}
        {%- endfor %}
    from superseded
    where next_usable_from is null or usable_from < next_usable_from

)

select * from changes
