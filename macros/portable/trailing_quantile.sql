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

{#-
    trailing_quantiles(expression, quantiles, window)

    Several quantiles of `expression` over one window, as a list (read them with list_item,
    1-based), each equal to trailing_quantile(expression, q, window). DuckDB computes them from
    one sorted window structure (quantile_cont with a list: the tertiles in 12.6 s against
    20.4 s as two calls at 20 x 365, identical values, docs/benchmarks.md "sixth step"); the
    portable version is an array of trailing_quantile calls.
-#}
{% macro trailing_quantiles(expression, quantiles, window) -%}
    {{ return(adapter.dispatch('trailing_quantiles', 'lifthouse')(expression, quantiles, window)) }}
{%- endmacro %}

{% macro default__trailing_quantiles(expression, quantiles, window) -%}
    array(
        {%- for q in quantiles %}
        {{ lifthouse.trailing_quantile(expression, q, window) }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__trailing_quantiles(expression, quantiles, window) -%}
    quantile_cont({{ expression }}, [{{ quantiles | join(', ') }}]) over ({{ window }})
{%- endmacro %}

{#- list_item(list_expression, n): the n-th element (1-based) of a list / array -#}
{% macro list_item(list_expression, n) -%}
    {{ return(adapter.dispatch('list_item', 'lifthouse')(list_expression, n)) }}
{%- endmacro %}

{% macro default__list_item(list_expression, n) -%}
    element_at({{ list_expression }}, {{ n }})
{%- endmacro %}

{% macro duckdb__list_item(list_expression, n) -%}
    {{ list_expression }}[{{ n }}]
{%- endmacro %}
