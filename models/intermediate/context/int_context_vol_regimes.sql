-- vol_regime per (symbol, minute): the bar's rv_60m against the tertiles of its own trailing
-- distribution (sampled, attached by backward as-of join). 'warmup' while rv_60m or the tertile
-- window is not full; warm-up never matches a condition.

with bars as (

    select
        symbol,
        open_time,
        in_window,
        rv_60m
    from {{ ref('int_features_bars_computed') }}

),

tertiles as (

    select * from {{ ref('int_context_vol_tertiles_sampled') }}

),

joined as (

    {{ lifthouse.asof_join_backward('bars', 'tertiles', 'symbol', 'open_time', 'sampled_at',
                                    ['sampled_at', 'is_warm', 'vol_q33', 'vol_q67']) }}

),

classified as (

    select
        symbol,
        open_time,
        in_window,
        rv_60m,
        case when is_warm then vol_q33 end as vol_q33,
        case when is_warm then vol_q67 end as vol_q67,
        case
            when rv_60m is null or is_warm is null or not is_warm then 'warmup'
            when rv_60m < vol_q33 then 'vol_low'
            when rv_60m > vol_q67 then 'vol_high'
            else 'vol_mid'
        end as vol_regime
    from joined

)

select * from classified
