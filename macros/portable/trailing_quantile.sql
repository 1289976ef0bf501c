{#-
    trailing_quantile(expression, quantile, window)

    A quantile of `expression` over a window (pass the whole `over` clause body, e.g.
    "partition by symbol order by open_time range between ... and ..."). DuckDB computes it
    exactly (quantile_cont, linear interpolation); the portable version uses Spark's
    percentile_approx with a high accuracy. NULLs are ignored.
-#}
{% macro trailing_quantile(expression, quantile, window) -%}
    {{ return(adapter.dispatch('trailing_quantile', 'lifthouse')(expression, quantile, window)) }}
{%- endmacro %}

{% macro default__trailing_quantile(expression, quantile, window) -%}
    percentile_approx({{ expression }}, {{ quantile }}, 100000) over ({{ window }})
{%- endmacro %}

{% macro duckdb__trailing_quantile(expression, quantile, window) -%}
    quantile_cont({{ expression }}, {{ quantile }}) over ({{ window }})
{%- endmacro %}
