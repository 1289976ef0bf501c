{#-
    The run window. The analysis window is [start_date, end_date) in UTC; staging loads
    `lookback_days` before it so trailing windows are warm when the analysis starts.
-#}

{% macro load_window_start(extra_days=0) -%}
    (cast('{{ var("start_date") }}' as timestamp) - interval '{{ var("lookback_days") | int + extra_days | int }} days')
{%- endmacro %}

{% macro analysis_window_end() -%}
    cast('{{ var("end_date") }}' as timestamp)
{%- endmacro %}

{#- true when `ts_column` lies in the analysis window [start_date, end_date) -#}
{% macro in_analysis_window(ts_column) -%}
    ({{ ts_column }} >= cast('{{ var("start_date") }}' as timestamp) and {{ ts_column }} < {{ lifthouse.analysis_window_end() }})
{%- endmacro %}

{#- the run's symbols as a SQL list: ('BTCUSDT', 'ETHUSDT') -#}
{% macro symbol_list() -%}
    {%- set symbols = var('symbols') -%}
    {%- if symbols is string -%}{%- set symbols = symbols.split(',') -%}{%- endif -%}
    ({% for s in symbols %}{{ lifthouse.sql_string(s | trim) }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
