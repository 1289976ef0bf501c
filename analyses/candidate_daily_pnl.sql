-- A Phase 2 candidate's daily P&L and equity curve: one row per UTC day of the discovery and
-- holdout blocks (phase2_candidate_daily: the net bps of the traded trades entered that day,
-- 0 on a day without a trade), with the cumulative net, its running peak and the drawdown
-- from that peak. The day holding the discovery end belongs to both blocks and is one row
-- here (block `discovery+holdout`). Embargo trades are in neither block, so not in this curve
-- (candidate_trades lists them).
--
-- The candidate: var('analysis_candidate_id'); without it, the first promoted candidate by id,
-- else the first fallback, else the first candidate that trades at all (the same choice as
-- candidate_trades).
--
-- Run it from the repository root on a finished warehouse (README "Ad-hoc SQL"):
--   LIFTHOUSE_WAREHOUSE=warehouse/demo.duckdb .venv/bin/dbt compile --select candidate_daily_pnl \
--       --vars '{analysis_candidate_id: LIQUIDATION_CASCADE__carry_pos__h60__fade__pooled}'
--   .venv/bin/duckdb -readonly warehouse/demo.duckdb < target/compiled/lifthouse/analyses/candidate_daily_pnl.sql

with candidates as (

    select candidate_id, status, n_trades
    from {{ ref('phase2_candidate_results') }}

),

chosen_candidate as (

    {{ lifthouse.chosen_candidate('candidates', ['candidate_id', 'status']) }}

),

daily_by_block as (

    select daily.candidate_id, daily.block, daily.day, daily.net_bps, daily.n_trades
    from {{ ref('phase2_candidate_daily') }} as daily
    inner join chosen_candidate
        on chosen_candidate.candidate_id = daily.candidate_id

),

daily as (

    -- one row per day: the discovery-end day's two block rows are added up
    select
        candidate_id,
        day,
        case when min(block) = max(block) then min(block) else 'discovery+holdout' end as block,
        cast(sum(n_trades) as bigint) as n_trades,
        sum(net_bps) as net_bps
    from daily_by_block
    group by candidate_id, day

),

cumulative as (

    select
        daily.*,
        sum(net_bps) over (order by day rows between unbounded preceding and current row)
            as cum_net_bps
    from daily

),

drawdown as (

    -- the peak of the curve so far (starting flat at 0) and the distance below it
    select
        cumulative.*,
        greatest(max(cum_net_bps) over (order by day rows between unbounded preceding and current row), 0)
            as peak_cum_net_bps
    from cumulative

)

select
    drawdown.candidate_id,
    chosen_candidate.status as candidate_status,
    drawdown.day,
    drawdown.block,
    drawdown.n_trades,
    drawdown.net_bps,
    drawdown.cum_net_bps,
    drawdown.peak_cum_net_bps,
    drawdown.peak_cum_net_bps - drawdown.cum_net_bps as drawdown_bps
from drawdown
cross join chosen_candidate
order by drawdown.day
