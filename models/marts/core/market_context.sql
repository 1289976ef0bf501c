-- Market context (SPEC 4): the indicator states per (symbol, minute), joined to events at the
-- event bar. vol_regime from int_context_vol_regimes, carry_state from int_context_carry_states.
-- Both hold one row per minute of the complete grid (int_perp_bars_gridded), so one 1:1 join
-- gives every minute; the grid's in_window comes with the vol regimes.

with vol_regimes as (

    select * from {{ ref('int_context_vol_regimes') }}

),

carry_states as (

    select * from {{ ref('int_context_carry_states') }}

)

select
    vol_regimes.symbol,
    vol_regimes.open_time,
    vol_regimes.in_window,
    vol_regimes.rv_60m,
    vol_regimes.vol_q33,
    vol_regimes.vol_q67,
    vol_regimes.vol_regime,
    carry_states.funding_rate_bps,
    carry_states.funding_time,
    carry_states.carry_state
from vol_regimes
inner join carry_states
    on vol_regimes.symbol = carry_states.symbol
    and vol_regimes.open_time = carry_states.open_time
