{#-
    The bar grain of a run (var bar_minutes: 1 or 5; docs/features_and_events.md "Bar grain").
    Every window, cooldown, horizon and embargo is a var in minutes; the grid steps by the grain,
    so a window of m minutes is m / bar_minutes rows of it.

    bar_minutes()          the grain, an integer.
    bars(minutes, name)    `minutes` as a number of bars; a compile error naming the var `name`
                           (and the value to pass) when it is not a multiple of the grain.
    grain_var(name)        var(name), or, when that is null, its grain's default from
                           var('grain_defaults') (the vars whose 1m default is not a multiple of 5).
    klines_dataset(kind)   the raw dataset of the run's klines: 'um' -> um_klines_<grain>m,
                           'spot' -> spot_klines_<grain>m.
-#}
{% macro bar_minutes() -%}
    {{- return(var('bar_minutes') | int) -}}
{%- endmacro %}

{% macro bars(minutes, name=none) -%}
    {%- set step = lifthouse.bar_minutes() -%}
    {%- if (minutes | int) % step != 0 -%}
        {%- do lifthouse.check_grain_vars() -%}
        {%- set what = ("var " ~ name ~ " = " ~ minutes) if name else ("a window of " ~ minutes) -%}
        {{ exceptions.raise_compiler_error(what ~ " minutes must be a whole multiple of bar_minutes " ~ step
            ~ " (windows stay in minutes; the grid steps by " ~ step ~ ")"
            ~ (": pass --vars '{" ~ name ~ ": " ~ (((minutes | int) // step + 1) * step) ~ "}' or another multiple" if name else "")) }}
    {%- endif -%}
    {{- return((minutes | int) // step) -}}
{%- endmacro %}

{% macro grain_var(name) -%}
    {%- set value = var(name) -%}
    {%- if value is none -%}
        {%- set by_grain = var('grain_defaults') -%}
        {%- set step = lifthouse.bar_minutes() -%}
        {%- set defaults = by_grain.get(step, by_grain.get(step | string, {})) -%}
        {%- if name not in defaults -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " is null and grain_defaults has no default for it at bar_minutes " ~ step ~ ": pass --vars '{" ~ name ~ ": <minutes>}'") }}
        {%- endif -%}
        {%- set value = defaults[name] -%}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{% macro klines_dataset(kind) -%}
    {{- return(kind ~ '_klines_' ~ lifthouse.bar_minutes() ~ 'm') -}}
{%- endmacro %}
