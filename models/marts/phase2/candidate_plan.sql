-- One row per Phase 2 candidate (SPEC 6): the cross product of the grid seeds
-- (event type x condition x horizon x direction rule x symbol scope).
-- `per_symbol` expands to each symbol of the `symbols` var; `pooled` is one scope over all of them.

with

event_types as (

    select event_type from {{ ref('candidate_event_types') }}

),

conditions as (

    select
        condition,
        vol_condition,
        carry_condition,
        (vol_condition is not null or carry_condition is not null) as is_conditioned
    from {{ ref('candidate_conditions') }}

),

horizons as (

    select horizon_min from {{ ref('candidate_horizons') }}

),

direction_rules as (

    select direction_rule, direction_multiplier from {{ ref('candidate_direction_rules') }}

),

symbols as (

    {%- for s in var('symbols') %}
    select {{ lifthouse.sql_string(s) }} as symbol{% if not loop.last %} union all{% endif %}
    {%- endfor %}

),

symbol_scopes as (

    select
        symbols.symbol as symbol_scope,
        symbols.symbol as scope_symbols
    from {{ ref('candidate_symbol_scopes') }} as scopes
    cross join symbols
    where scopes.scope_rule = 'per_symbol'

    union all

    select
        'pooled' as symbol_scope,
        (select {{ lifthouse.string_agg_sorted('symbol', ',') }} from symbols) as scope_symbols
    from {{ ref('candidate_symbol_scopes') }} as scopes
    where scopes.scope_rule = 'pooled'

),

grid as (

    select
        event_types.event_type,
        conditions.condition,
        conditions.vol_condition,
        conditions.carry_condition,
        conditions.is_conditioned,
        horizons.horizon_min,
        direction_rules.direction_rule,
        direction_rules.direction_multiplier,
        symbol_scopes.symbol_scope,
        symbol_scopes.scope_symbols
    from event_types
    cross join conditions
    cross join horizons
    cross join direction_rules
    cross join symbol_scopes

),

final as (

    select
        event_type || '__' || condition || '__h' || cast(horizon_min as {{ dbt.type_string() }})
            || '__' || direction_rule || '__' || symbol_scope as candidate_id,
        event_type || '__h' || cast(horizon_min as {{ dbt.type_string() }})
            || '__' || direction_rule || '__' || symbol_scope as family_id,
        event_type || '__all__h' || cast(horizon_min as {{ dbt.type_string() }})
            || '__' || direction_rule || '__' || symbol_scope as twin_candidate_id,
        event_type,
        condition,
        vol_condition,
        carry_condition,
        is_conditioned,
        horizon_min,
        direction_rule,
        direction_multiplier,
        symbol_scope,
        scope_symbols
    from grid

)

select * from final
order by candidate_id
