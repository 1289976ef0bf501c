-- The trades of one Phase 2 candidate, leg by leg: every event it considered (phase2_trades,
-- one row per event, also the skipped and dropped ones), with the entry (time, price), the
-- scheduled and the actual exit, the holding time, the costs (fee, slippage, funding; bps of
-- the round trip), the gross and net return in bps and the cumulative net over its traded
-- trades in entry order. Rules: docs/phase2.md.
--
-- The candidate: var('analysis_candidate_id'); without it, the first promoted candidate by id,
-- else the first fallback, else the first candidate that trades at all (the same choice as
-- candidate_daily_pnl). An id the run does not have returns no rows
-- (`select candidate_id, status from phase2_candidate_results` lists them).
--
-- Run it from the repository root on a finished warehouse (README "Ad-hoc SQL"):
--   LIFTHOUSE_WAREHOUSE=warehouse/demo.duckdb .venv/bin/dbt compile --select candidate_trades \
--       --vars '{analysis_candidate_id: LIQUIDATION_CASCADE__carry_pos__h60__fade__pooled}'
--   .venv/bin/duckdb -readonly warehouse/demo.duckdb < target/compiled/lifthouse/analyses/candidate_trades.sql

with candidates as (

    select candidate_id, status, status_reason, n_trades
    from {{ ref('phase2_candidate_results') }}

),

chosen_candidate as (

    {{ lifthouse.chosen_candidate('candidates', ['candidate_id', 'status', 'status_reason']) }}

),

trades as (

    select phase2_trades.*
    from {{ ref('phase2_trades') }} as phase2_trades
    inner join chosen_candidate
        on chosen_candidate.candidate_id = phase2_trades.candidate_id

),

legs as (

    -- one row per considered event: entry leg, exit leg, costs and returns
    select
        trades.candidate_id,
        chosen_candidate.status as candidate_status,
        trades.event_id,
        trades.symbol,
        trades.block,
        trades.trade_status,
        trades.detected_at,
        trades.vol_regime,
        trades.carry_state,
        trades.direction,
        trades.side,
        trades.entry_time,
        trades.entry_price,
        trades.exit_time as exit_time_scheduled,
        trades.exit_time_used,
        trades.exit_price,
        {{ lifthouse.minutes_between('trades.entry_time', 'trades.exit_time_used') }} as holding_minutes,
        trades.gross_bps,
        trades.fee_bps,
        trades.slippage_bps,
        trades.funding_bps,
        trades.n_settlements,
        trades.fee_bps + trades.slippage_bps + trades.funding_bps as cost_bps,
        trades.net_bps
    from trades
    cross join chosen_candidate

),

with_cumulative as (

    -- running net of the traded trades in entry order (NULL on untraded rows)
    select
        legs.*,
        case when trade_status = 'traded' then
            sum(net_bps) over (
                partition by trade_status
                order by entry_time, event_id
                rows between unbounded preceding and current row
            )
        end as cum_net_bps
    from legs

)

select *
from with_cumulative
order by entry_time, event_id
