{#-
    validate_run_vars(): run once at the start of every dbt invocation (on-run-start in
    dbt_project.yml), before any model is built. A malformed window var is one clear error naming
    the var, instead of a cast error from every model that reads it.
-#}
{% macro validate_run_vars() -%}
    {#- a date, or a UTC timestamp (the truncation tests end a window inside a day) -#}
    {%- set date_re = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
                      ~ '([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]+)?)?)?$' -%}
    {%- for name in ['start_date', 'end_date'] -%}
        {%- set value = var(name) | string -%}
        {%- if not modules.re.match(date_re, value) -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " = " ~ tojson(var(name)) ~ " is not a date like 2025-01-01 "
                ~ "(or a UTC timestamp like 2025-01-01 12:00) "
                ~ "(the analysis window is [start_date, end_date), UTC)") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if (var('end_date') | string) <= (var('start_date') | string) -%}
        {{ exceptions.raise_compiler_error(
            "var end_date " ~ var('end_date') ~ " must be after start_date " ~ var('start_date')
            ~ " (the window is [start_date, end_date))") }}
    {%- endif -%}
    {%- for name in ['lookback_days', 'funding_lookback_days'] -%}
        {%- set value = var(name) -%}
        {%- if value is not number or (value | int) != value or value < 0 -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " = " ~ tojson(value) ~ " must be a whole number of days >= 0") }}
        {%- endif -%}
    {%- endfor -%}
    {%- do lifthouse.check_grain_vars() -%}
    select 1
{%- endmacro %}

{#-
    check_grain_vars(): bar_minutes is 1 or 5 and every window var a whole multiple of it, else one
    compile error naming the var and the value to pass. Called by validate_run_vars and by the
    frame macros before their own, less specific error (a model is parsed before the hook runs).
-#}
{% macro check_grain_vars() -%}
    {%- set step = var('bar_minutes') -%}
    {%- if step not in [1, 5] -%}
        {{ exceptions.raise_compiler_error(
            "var bar_minutes = " ~ tojson(step) ~ " must be 1 or 5 (the bar grain in minutes)") }}
    {%- endif -%}
    {%- for name in lifthouse.grain_window_vars() -%}
        {%- set value = lifthouse.grain_var(name) -%}
        {%- if value is not number or (value | int) != value or value <= 0
              or (value | int) % step != 0 -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " = " ~ tojson(value) ~ " minutes must be a whole multiple of "
                ~ "bar_minutes " ~ step ~ " (windows stay in minutes; the grid steps by "
                ~ step ~ "): pass --vars '{" ~ name ~ ": "
                ~ ((((value | int) // step) + 1) * step if value is number else step) ~ "}' or another multiple") }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- the window vars, in minutes, that the grid turns into rows: each a multiple of bar_minutes -#}
{% macro grain_window_vars() -%}
    {{- return(['baseline_minutes', 'vol_regime_sample_minutes', 'cascade_cooldown_minutes',
                'vacuum_thin_minutes', 'vacuum_baseline_minutes', 'vacuum_sample_minutes',
                'vacuum_cooldown_minutes', 'phase2_embargo_minutes']) -}}
{%- endmacro %}
