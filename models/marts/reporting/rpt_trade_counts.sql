-- What the Phase 2 backtest did with each symbol's events (SPEC 6, 10): per symbol and event type,
-- the single-symbol unconditioned candidates and their trades by status. Every (symbol, event
-- type) pair of the plan is listed, with zeros where nothing traded.

with symbols as (

    select distinct symbol from {{ ref('features_v1') }}

),

event_types as (

    select distinct event_type from {{ ref('candidate_plan') }}

),

unconditioned as (

    select candidate_id, event_type, symbol_scope
    from {{ ref('candidate_plan') }}
    where condition = 'all' and symbol_scope <> 'pooled'

),

candidates as (

    select event_type, symbol_scope as symbol, count(*) as n_candidates
    from unconditioned
    group by event_type, symbol_scope

),

trades as (

    select
        trades.symbol,
        unconditioned.event_type,
        count(*) filter (where trades.trade_status = 'traded') as n_traded,
        count(*) filter (where trades.trade_status = 'skipped_overlap') as n_skipped_overlap,
        count(*) filter (where trades.trade_status not in ('traded', 'skipped_overlap')) as n_dropped
    from {{ ref('phase2_trades') }} as trades
    inner join unconditioned
        on unconditioned.candidate_id = trades.candidate_id
    group by trades.symbol, unconditioned.event_type

),

pairs as (

    select symbols.symbol, event_types.event_type
    from symbols
    cross join event_types

)

select
    pairs.symbol,
    pairs.event_type,
    coalesce(candidates.n_candidates, 0) as n_candidates,
    coalesce(trades.n_traded, 0) as n_traded,
    coalesce(trades.n_skipped_overlap, 0) as n_skipped_overlap,
    coalesce(trades.n_dropped, 0) as n_dropped
from pairs
left join candidates using (symbol, event_type)
left join trades using (symbol, event_type)
