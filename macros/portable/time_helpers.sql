{#-
    Portable time helpers for the features / context / events models (SPEC 3-5).

    minutes(n)                 an interval literal of n minutes, ANSI form (DuckDB and Spark).
    seconds(n)                 an interval literal of n seconds, ANSI form.
    minute_stamp(ts)           'YYYYMMDDTHHMM' text of a timestamp (readable event ids).
    minute_grid(bounds, ...)   one row per (partition, minute) between two timestamp columns of a
                               CTE, both ends included: the complete bar grid.
-#}

{% macro minutes(n) -%}
    interval '{{ n | int }}' minute
{%- endmacro %}

{% macro seconds(n) -%}
    interval '{{ n | int }}' second
{%- endmacro %}


{% macro minute_stamp(ts) -%}
    {{ return(adapter.dispatch('minute_stamp', 'lifthouse')(ts)) }}
{%- endmacro %}

{#- Spark SQL: the pattern's quotes are escaped (a double-quoted string would be an identifier
    under ANSI double-quoted identifiers) -#}
{% macro default__minute_stamp(ts) -%}
    date_format({{ ts }}, 'yyyyMMdd\'T\'HHmm')
{%- endmacro %}

{% macro duckdb__minute_stamp(ts) -%}
    strftime({{ ts }}, '%Y%m%dT%H%M')
{%- endmacro %}


{% macro minute_grid(bounds, partition_by, start_column, end_column, step_minutes=1) -%}
    {{ return(adapter.dispatch('minute_grid', 'lifthouse')(bounds, partition_by, start_column, end_column, step_minutes)) }}
{%- endmacro %}

{% macro default__minute_grid(bounds, partition_by, start_column, end_column, step_minutes) -%}
    select
        {{ partition_by }},
        explode(sequence({{ start_column }}, {{ end_column }}, {{ lifthouse.minutes(step_minutes) }})) as open_time
    from {{ bounds }}
{%- endmacro %}

{% macro duckdb__minute_grid(bounds, partition_by, start_column, end_column, step_minutes) -%}
    select
        {{ partition_by }},
        unnest(generate_series({{ start_column }}, {{ end_column }}, {{ lifthouse.minutes(step_minutes) }})) as open_time
    from {{ bounds }}
{%- endmacro %}

