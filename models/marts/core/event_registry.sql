-- The event registry (SPEC 5): every detector's episodes in one table, with the market context
-- at the detection bar. Adding an event family = one int_events_<family>_detected model
-- emitting the columns below + one entry in `detectors` + one row in seeds/candidate_event_types.

{%- set detectors = [
    'int_events_cascades_detected',
    'int_events_vacuums_detected',
] %}
{%- set event_columns = [
    'event_type', 'symbol', 'episode_start', 'detected_at', 'direction', 'evidence',
    'trigger_name', 'trigger_value', 'trigger_threshold',
    'evidence_name', 'evidence_value', 'evidence_threshold',
] %}

with detected as (

    {% for detector in detectors %}
    select {{ event_columns | join(', ') }}
    from {{ ref(detector) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

context as (

    select symbol, open_time, in_window, vol_regime, carry_state
    from {{ ref('market_context') }}

),

registered as (

    select
        detected.event_type || ':' || detected.symbol || ':' || {{ lifthouse.minute_stamp('detected.detected_at') }} as event_id,
        detected.event_type,
        detected.symbol,
        detected.episode_start,
        detected.detected_at,
        detected.direction,
        context.vol_regime,
        context.carry_state,
        pre.vol_regime as vol_regime_pre,
        pre.carry_state as carry_state_pre,
        detected.evidence,
        detected.trigger_name,
        detected.trigger_value,
        detected.trigger_threshold,
        detected.evidence_name,
        detected.evidence_value,
        detected.evidence_threshold,
        {{ lifthouse.in_analysis_window('detected.detected_at') }} as in_window
    from detected
    left join context
        on detected.symbol = context.symbol
        and detected.detected_at = context.open_time
    -- states at the bar before the episode started (not yet moved by the event itself)
    left join context as pre
        on detected.symbol = pre.symbol
        and detected.episode_start - {{ lifthouse.minutes(lifthouse.bar_minutes()) }} = pre.open_time

)

select * from registered
