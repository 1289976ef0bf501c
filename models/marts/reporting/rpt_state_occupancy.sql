-- Indicator-state occupancy per symbol over the analysis window (SPEC 4, 10): minutes in each
-- vol_regime and carry_state and their share of the symbol's window. One bar of the grid counts
-- var('bar_minutes') minutes.
{%- set step = lifthouse.bar_minutes() %}

with context as (

    select symbol, vol_regime, carry_state
    from {{ ref('market_context') }}
    where in_window

),

vol_regime_minutes as (

    select symbol, 'vol_regime' as dimension, vol_regime as state, count(*){% if step != 1 %} * {{ step }}{% endif %} as n_minutes
    from context
    group by symbol, vol_regime

),

carry_state_minutes as (

    select symbol, 'carry_state' as dimension, carry_state as state, count(*){% if step != 1 %} * {{ step }}{% endif %} as n_minutes
    from context
    group by symbol, carry_state

),

state_minutes as (

    select * from vol_regime_minutes
    union all
    select * from carry_state_minutes

)

select
    symbol,
    dimension,
    state,
    n_minutes,
    n_minutes / sum(n_minutes) over (partition by symbol, dimension) as share
from state_minutes
