{#-
    integer_series(bounds, start_column, end_column, as_column): one row per integer from
    `start_column` to `end_column` (both included) of each row of the CTE `bounds`, named
    `as_column`. DuckDB unnests generate_series; the portable version explodes Spark's sequence.
-#}
{% macro integer_series(bounds, start_column, end_column, as_column) -%}
    {{ return(adapter.dispatch('integer_series', 'lifthouse')(bounds, start_column, end_column, as_column)) }}
{%- endmacro %}

{% macro default__integer_series(bounds, start_column, end_column, as_column) -%}
    select explode(sequence({{ start_column }}, {{ end_column }})) as {{ as_column }}
    from {{ bounds }}
{%- endmacro %}

{% macro duckdb__integer_series(bounds, start_column, end_column, as_column) -%}
    select unnest(generate_series({{ start_column }}, {{ end_column }})) as {{ as_column }}
    from {{ bounds }}
{%- endmacro %}
