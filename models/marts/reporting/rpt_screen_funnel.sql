-- The screen funnel per event type (SPEC 7, 9): how many candidates of the plan survive each
-- promotion gate in order - enough discovery trades, discovery mean > 0, q, holdout, then the
-- lift (conditioned) or the fallback (unconditioned). Each count is cumulative: a candidate
-- counts at a stage only if it passed every earlier gate. It also says what n the first gate
-- needs and how close the plan came (largest discovery n).

with results as (

    select * from {{ ref('phase2_candidate_results') }}

),

stages as (

    select
        event_type,
        is_conditioned,
        disc_n,
        disc_mean_bps,
        status,
        gate_min_n as s_enough_n,
        gate_min_n and gate_mean_pos as s_mean_pos,
        gate_min_n and gate_mean_pos and gate_q as s_q,
        passes_gates as s_holdout
    from results

),

funnel as (

    select
        event_type,
        count(*) as n_planned,
        count(*) filter (where is_conditioned) as n_planned_conditioned,
        count(*) filter (where s_enough_n) as n_enough_disc_trades,
        count(*) filter (where s_mean_pos) as n_disc_mean_pos,
        count(*) filter (where s_q) as n_q_pass,
        count(*) filter (where s_holdout) as n_holdout_pass,
        count(*) filter (where s_holdout and is_conditioned) as n_holdout_pass_conditioned,
        count(*) filter (where s_holdout and not is_conditioned) as n_holdout_pass_unconditioned,
        count(*) filter (where status = 'promoted') as n_lift_pass,
        count(*) filter (where status = 'promoted') as n_promoted,
        count(*) filter (where status = 'fallback') as n_fallback,
        count(*) filter (where status = 'rejected') as n_rejected,
        count(*) filter (where status = 'insufficient_data') as n_insufficient_data,
        count(*) filter (where not is_conditioned and not s_enough_n and disc_mean_bps > 0)
            as n_unconditioned_mean_pos_below_min_n,
        max(disc_n) as max_disc_n,
        max(disc_n) filter (where not is_conditioned) as max_disc_n_unconditioned
    from stages
    group by event_type

)

select
    event_type,
    n_planned,
    n_planned_conditioned,
    n_enough_disc_trades,
    n_disc_mean_pos,
    n_q_pass,
    n_holdout_pass,
    n_holdout_pass_conditioned,
    n_holdout_pass_unconditioned,
    n_lift_pass,
    n_promoted,
    n_fallback,
    n_rejected,
    n_insufficient_data,
    n_unconditioned_mean_pos_below_min_n,
    cast({{ var('phase2_min_trades') }} as bigint) as min_disc_trades_required,
    max_disc_n,
    max_disc_n_unconditioned
from funnel
