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

{#-
    Spark: exact, with the same linear interpolation as DuckDB's quantile_cont (position
    (n - 1) * q), so both engines agree. With dbt-spark's session method the project registers
    lifthouse_quantile_cont (a pandas aggregate, python/lifthouse/run/spark.py): Spark re-evaluates a
    non-invertible aggregate over every sliding frame, and its own percentile() re-sorts each
    24h frame in the JVM (minutes on 3 symbols x 17 days). Other connection methods (thrift,
    Databricks) use percentile(), exact and slower (docs/spark.md).
-#}
{% macro spark__trailing_quantile(expression, quantile, window) -%}
    {%- if lifthouse.spark_function_exists('lifthouse_quantile_cont') -%}
    lifthouse_quantile_cont({{ expression }}, {{ quantile }}) over ({{ window }})
    {%- else -%}
    percentile({{ expression }}, {{ quantile }}) over ({{ window }})
    {%- endif -%}
{%- endmacro %}

{#- Spark: true when the session defines the function (registered by python/lifthouse/run/spark.py) -#}
{% macro spark_function_exists(name) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set result = run_query("show user functions like '" ~ name ~ "'") -%}
    {{ return(result.rows | length > 0) }}
{%- endmacro %}
