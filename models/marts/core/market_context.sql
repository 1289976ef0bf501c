-- Market context (SPEC 4): the indicator states per (symbol, minute), joined to events at the
-- event bar. Both state rules live here, one CTE each; 'warmup' never matches a condition.
--   vol_regime   the bar's rv_60m against the tertiles of its own trailing distribution
--                (int_context_vol_tertiles_sampled, attached by backward as-of join on
--                sampled_at <= open_time): vol_low below the lower tertile, vol_high above the
--                upper, vol_mid between; warmup while rv_60m or the tertile window is not full.
--   carry_state  the funding rate in force (int_features_series_attached, via
--                int_features_joined), bps per 8h. Binance quotes +1 bp as its "no premium"
--                value and caps majors near it, so carry_pos is funding >=
--                var('carry_pos_min_bps') (default +0.5 bp), carry_neg is funding <
--                var('carry_neg_max_bps') (default 0), carry_neutral in between; warmup when no
--                settled rate is in force.
-- One row per minute of the complete grid (int_features_joined), so the states need no 1:1 join.

with bars as (

    select
        symbol,
        open_time,
        in_window,
        rv_60m,
        funding_rate_bps,
        funding_time
    from {{ ref('int_features_joined') }}

),

tertiles as (

    select * from {{ ref('int_context_vol_tertiles_sampled') }}

),

with_tertiles as (

    {{ lifthouse.asof_join_backward('bars', 'tertiles', 'symbol', 'open_time', 'sampled_at',
                                    ['is_warm', 'vol_q33', 'vol_q67']) }}

),

vol_regimes as (

    select
        *,
        case
            when rv_60m is null or is_warm is null or not is_warm then 'warmup'
            when rv_60m < vol_q33 then 'vol_low'
            when rv_60m > vol_q67 then 'vol_high'
            else 'vol_mid'
        end as vol_regime
    from with_tertiles

),

carry_states as (

    select
        *,
        case
            when funding_rate_bps is null then 'warmup'
            when funding_rate_bps >= {{ var('carry_pos_min_bps') | float }} then 'carry_pos'
            when funding_rate_bps < {{ var('carry_neg_max_bps') | float }} then 'carry_neg'
            else 'carry_neutral'
        end as carry_state
    from vol_regimes

)

select
    symbol,
    open_time,
    in_window,
    rv_60m,
    case when is_warm then vol_q33 end as vol_q33,
    case when is_warm then vol_q67 end as vol_q67,
    vol_regime,
    funding_rate_bps,
    funding_time,
    carry_state
from carry_states
