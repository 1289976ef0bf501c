-- A view: a CASE over the int_features_funding_asof table, read once by market_context; its
-- data tests cost the same on the view as on a table, and no second copy of every minute is written.
{{ config(materialized='view') }}

-- carry_state per (symbol, minute) from the last settled funding rate (bps per 8h).
-- Binance quotes +1 bp as its "no premium" value and caps majors near it, so positive carry is
-- funding >= var('carry_pos_min_bps') (default +0.5 bp), negative is funding <
-- var('carry_neg_max_bps') (default 0), neutral in between; 'warmup' when no settled rate is in
-- force.

with funding as (

    select * from {{ ref('int_features_funding_asof') }}

)

select
    symbol,
    open_time,
    funding_time,
    funding_rate_bps,
    case
        when funding_rate_bps is null then 'warmup'
        when funding_rate_bps >= {{ var('carry_pos_min_bps') | float }} then 'carry_pos'
        when funding_rate_bps < {{ var('carry_neg_max_bps') | float }} then 'carry_neg'
        else 'carry_neutral'
    end as carry_state
from funding
