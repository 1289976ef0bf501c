{#-
    string_agg_sorted(expression, separator, distinct=false): the values of `expression` in a
    group joined by `separator` in ascending order (NULL for a group with no non-NULL value), as
    DuckDB's string_agg(... order by ...). Spark has no ordered string_agg: it sorts the
    collected list.
-#}
{% macro string_agg_sorted(expression, separator, distinct=false) -%}
    {{ return(adapter.dispatch('string_agg_sorted', 'lifthouse')(expression, separator, distinct)) }}
{%- endmacro %}

{% macro default__string_agg_sorted(expression, separator, distinct) -%}
    case when count({{ expression }}) > 0 then
        array_join(array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ expression }})), '{{ separator }}')
    end
{%- endmacro %}

{% macro duckdb__string_agg_sorted(expression, separator, distinct) -%}
    string_agg({{ 'distinct ' if distinct }}{{ expression }}, '{{ separator }}' order by {{ expression }})
{%- endmacro %}
