-- Events per symbol and event type over the analysis window (SPEC 5, 10), with the evidence that
-- fired. Every (symbol, event type) pair is listed, with n_events = 0 where none was detected.

with symbols as (

    select distinct symbol from {{ ref('features_v1') }}

),

event_types as (

    select distinct event_type from {{ ref('candidate_plan') }}
    union
    select distinct event_type from {{ ref('event_registry') }}

),

events as (

    select symbol, event_type, event_id, evidence
    from {{ ref('event_registry') }}
    where in_window

),

counted as (

    select
        symbols.symbol,
        event_types.event_type,
        count(events.event_id) as n_events,
        {{ lifthouse.string_agg_sorted('events.evidence', ',', distinct=true) }} as evidence
    from symbols
    cross join event_types
    left join events
        on events.symbol = symbols.symbol
        and events.event_type = event_types.event_type
    group by symbols.symbol, event_types.event_type

)

select * from counted
