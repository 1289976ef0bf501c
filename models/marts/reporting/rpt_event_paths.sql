-- Average path of returns after events, by state (SPEC 10's event-path figure): for each event
-- type, state and minute k = 0..longest horizon of the plan, the mean return in bps (in the
-- event's direction) from the entry (open of the bar after detection, as in phase2_trades) to
-- the close k minutes later. Events are split by the state their question conditions on
-- (carry_state for LIQUIDATION_CASCADE, vol_regime otherwise), taken at the time the run's
-- conditions match (var phase2_condition_state_at, docs/phase2.md "State timing"); a NULL
-- pre-event state counts as warmup. State 'all' pools the states.

{%- set state_at = var('phase2_condition_state_at') %}
{%- set state_columns = {
    'detection': 'vol_regime, carry_state',
    'pre_event': "coalesce(vol_regime_pre, 'warmup') as vol_regime, coalesce(carry_state_pre, 'warmup') as carry_state",
} %}
{%- if state_at not in state_columns %}
    {{ exceptions.raise_compiler_error("phase2_condition_state_at must be one of " ~ (state_columns.keys() | sort) ~ ", got '" ~ state_at ~ "'") }}
{%- endif %}
{#- the state dimension of each event type's question; every other type uses vol_regime #}
{%- set carry_state_event_types = ['LIQUIDATION_CASCADE'] %}
{#- the path is read at every bar: minute k is a multiple of the grain (macros/grain.sql) #}
{%- set step = lifthouse.bar_minutes() %}

with events as (

    select
        event_type,
        symbol,
        event_id,
        direction,
        {{ state_columns[state_at] }},
        detected_at + {{ lifthouse.minutes(step) }} as entry_time
    from {{ ref('event_registry') }}
    where in_window

),

bars as (

    select symbol, open_time, open, close
    from {{ ref('features_v1') }}

),

entries as (

    select events.*, bars.open as entry_open
    from events
    inner join bars
        on bars.symbol = events.symbol
        and bars.open_time = events.entry_time
    where bars.open is not null and bars.open > 0

),

horizon as (

    -- the plan's longest horizon (240 minutes for an empty plan){% if step != 1 %}, in bars{% endif %}
    select 1 as first_minute, {% if step != 1 %}cast({% endif %}coalesce(max(horizon_min), 240){% if step != 1 %} / {{ step }} as bigint){% endif %} as last_minute
    from {{ ref('candidate_plan') }}

),

steps as (

    {{ lifthouse.integer_series('horizon', 'first_minute', 'last_minute', 'k') }}

),

paths as (

    select
        entries.event_type,
        entries.event_id,
        entries.vol_regime,
        entries.carry_state,
        steps.k{% if step != 1 %} * {{ step }}{% endif %} as minute,
        (bars.close / entries.entry_open - 1) * 10000 * entries.direction as ret_bps
    from entries
    cross join steps
    inner join bars
        on bars.symbol = entries.symbol
        and bars.open_time = entries.entry_time + (steps.k - 1) * {{ lifthouse.minutes(step) }}
    union all
    select event_type, event_id, vol_regime, carry_state, 0, 0.0
    from entries

),

labelled as (

    select
        *,
        case when event_type in ('{{ carry_state_event_types | join("', '") }}') then 'carry_state' else 'vol_regime' end
            as state_dimension,
        case when event_type in ('{{ carry_state_event_types | join("', '") }}') then carry_state else vol_regime end
            as state
    from paths

),

by_state as (

    select
        event_type,
        state_dimension,
        state,
        minute,
        count(ret_bps) as n_events,
        avg(ret_bps) as mean_ret_bps,
        stddev_samp(ret_bps) as sd_ret_bps
    from labelled
    group by event_type, state_dimension, state, minute

),

all_states as (

    select
        event_type,
        state_dimension,
        'all' as state,
        minute,
        count(ret_bps) as n_events,
        avg(ret_bps) as mean_ret_bps,
        stddev_samp(ret_bps) as sd_ret_bps
    from labelled
    group by event_type, state_dimension, minute

)

select * from by_state
union all
select * from all_states
