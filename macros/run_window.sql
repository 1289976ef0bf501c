{#-
    The run window. The analysis window is [start_date, end_date) in UTC; staging loads
    `lookback_days` before it so trailing windows are warm when the analysis starts.
-#}

{#-
    `append_load_from` (internal: set only by the data layer's append, python/lifthouse/run/
    layer_append.py) starts the load later, at a timestamp, so an append recomputes only the new
    bars plus the history they read; null (always, in any other build) leaves the window as is.
-#}
{% macro load_window_start(extra_days=0) -%}
    {%- set load_from = var('append_load_from', none) -%}
    {%- if load_from -%}
    (cast({{ lifthouse.sql_string(load_from) }} as timestamp) - interval '{{ extra_days | int }} days')
    {%- else -%}
    (cast('{{ var("start_date") }}' as timestamp) - interval '{{ var("lookback_days") | int + extra_days | int }} days')
    {%- endif -%}
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
