-- Event study by hour of day: when (UTC hour of the confirming bar) do the events of
-- event_registry happen, and how does the price move after them? One row per (event_type,
-- hour_utc) with at least one event: the counts (all events; those in the analysis window), the
-- hour's share of its type, and the forward return of the in-window events over
-- var('analysis_horizon_min') minutes (default 60, a multiple of the run's bar_minutes), gross
-- of costs, signed by the event's direction (a `follow` trade; a `fade` earns the negative).
-- Entry and exit are those of phase2_trades: the open of the bar after detection, the close of
-- the bar ending horizon minutes later. An event whose entry or exit bar is missing (a gap, the
-- data end) has no return: n_with_return counts the events that do.
--
-- Run it from the repository root on a finished warehouse (README "Ad-hoc SQL"):
--   LIFTHOUSE_WAREHOUSE=warehouse/demo.duckdb .venv/bin/dbt compile --select event_study_by_hour \
--       --vars '{analysis_horizon_min: 15}'
--   .venv/bin/duckdb -readonly warehouse/demo.duckdb < target/compiled/lifthouse/analyses/event_study_by_hour.sql

{%- set horizon_min = var('analysis_horizon_min', 60) | int %}

with events as (

    -- every event of the registry, with the UTC hour of its confirming bar
    select
        event_id,
        event_type,
        symbol,
        direction,
        in_window,
        detected_at,
        extract(hour from detected_at) as hour_utc
    from {{ ref('event_registry') }}

),

bars as (

    select symbol, open_time, close_time, open, close
    from {{ ref('features_v1') }}

),

entries as (

    -- in-window events enter at the open of the bar that opens at the detection bar's close
    select
        events.event_id,
        events.symbol,
        events.direction,
        entry_bar.open_time as entry_time,
        entry_bar.open as entry_price
    from events
    inner join bars as detection_bar
        on detection_bar.symbol = events.symbol
        and detection_bar.open_time = events.detected_at
    inner join bars as entry_bar
        on entry_bar.symbol = events.symbol
        and entry_bar.open_time = detection_bar.close_time
    where events.in_window
        and entry_bar.open > 0

),

exits as (

    -- the close of the bar that ends horizon minutes after the entry
    select
        entries.event_id,
        exit_bar.close as exit_price
    from entries
    inner join bars as exit_bar
        on exit_bar.symbol = entries.symbol
        and exit_bar.close_time = entries.entry_time + {{ lifthouse.minutes(horizon_min) }}
    where exit_bar.close is not null

),

forward_returns as (

    -- bps in the event's direction, before fees, slippage and funding
    select
        entries.event_id,
        (exits.exit_price / entries.entry_price - 1) * 10000 * entries.direction as fwd_ret_bps
    from entries
    inner join exits
        on exits.event_id = entries.event_id

),

by_hour as (

    select
        events.event_type,
        events.hour_utc,
        count(*) as n_events,
        count(case when events.in_window then 1 end) as n_in_window,
        count(forward_returns.fwd_ret_bps) as n_with_return,
        avg(forward_returns.fwd_ret_bps) as mean_fwd_ret_bps,
        stddev_samp(forward_returns.fwd_ret_bps) as sd_fwd_ret_bps,
        avg(case when forward_returns.fwd_ret_bps > 0 then 1.0
                 when forward_returns.fwd_ret_bps <= 0 then 0.0 end) as hit_rate
    from events
    left join forward_returns
        on forward_returns.event_id = events.event_id
    group by events.event_type, events.hour_utc

),

with_share as (

    -- the hour's share of all events of its type (sums to 1 per event type)
    select
        event_type,
        hour_utc,
        n_events,
        cast(n_events as double) / sum(n_events) over (partition by event_type) as share_of_type,
        n_in_window,
        n_with_return,
        {{ horizon_min }} as horizon_min,
        mean_fwd_ret_bps,
        sd_fwd_ret_bps,
        hit_rate
    from by_hour

)

select *
from with_share
order by event_type, hour_utc
