-- Market context (SPEC 4): the indicator states per (symbol, minute), joined to events at the
-- event bar. vol_regime from int_context_vol_regimes, carry_state from int_context_carry_states.

with bars as (

    select symbol, open_time, in_window
    from {{ ref('int_perp_bars_gridded') }}

),

vol_regimes as (

    select * from {{ ref('int_context_vol_regimes') }}

),

carry_states as (

    select * from {{ ref('int_context_carry_states') }}

)

select
    bars.symbol,
    bars.open_time,
    bars.in_window,
    vol_regimes.rv_60m,
    vol_regimes.vol_q33,
    vol_regimes.vol_q67,
    vol_regimes.vol_regime,
    carry_states.funding_rate_bps,
    carry_states.funding_time,
    carry_states.carry_state
from bars
inner join vol_regimes
    on bars.symbol = vol_regimes.symbol
    and bars.open_time = vol_regimes.open_time
inner join carry_states
    on bars.symbol = carry_states.symbol
    and bars.open_time = carry_states.open_time
