{#-
    keep_first(cte, partition_by, order_by): one row per `partition_by` key, the first by
    `order_by`. DuckDB uses QUALIFY; the portable version filters a row_number() subquery
    (and so carries an extra `_keep_rank` column: select columns explicitly after it).
-#}
{% macro keep_first(cte, partition_by, order_by) -%}
    {{ return(adapter.dispatch('keep_first', 'lifthouse')(cte, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__keep_first(cte, partition_by, order_by) -%}
    select *
    from (
        select *, row_number() over (partition by {{ partition_by | join(', ') }} order by {{ order_by }}) as _keep_rank
        from {{ cte }}
    ) ranked
    where _keep_rank = 1
{%- endmacro %}

{% macro duckdb__keep_first(cte, partition_by, order_by) -%}
    select *
    from {{ cte }}
    qualify row_number() over (partition by {{ partition_by | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}

{#- floor a timestamp to a slot of `minutes` minutes -#}
{% macro floor_minutes(ts, minutes) -%}
    {{ return(adapter.dispatch('floor_minutes', 'lifthouse')(ts, minutes)) }}
{%- endmacro %}

{% macro default__floor_minutes(ts, minutes) -%}
    timestamp_seconds(cast(floor(unix_timestamp({{ ts }}) / ({{ minutes }} * 60)) * ({{ minutes }} * 60) as bigint))
{%- endmacro %}

{% macro duckdb__floor_minutes(ts, minutes) -%}
    time_bucket(interval '{{ minutes }} minutes', {{ ts }})
{%- endmacro %}

{#- whole minutes from timestamp `a` to timestamp `b` -#}
{% macro minutes_between(a, b) -%}
    {{ return(adapter.dispatch('minutes_between', 'lifthouse')(a, b)) }}
{%- endmacro %}

{% macro default__minutes_between(a, b) -%}
    cast((unix_timestamp({{ b }}) - unix_timestamp({{ a }})) / 60 as bigint)
{%- endmacro %}

{% macro duckdb__minutes_between(a, b) -%}
    cast(date_diff('minute', {{ a }}, {{ b }}) as bigint)
{%- endmacro %}
