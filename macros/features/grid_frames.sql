{#-
    Trailing windows over the complete bar grid (SPEC 3: windows are in minutes).

    int_perp_bars_gridded holds one row per symbol and bar (every var('bar_minutes') minutes) from
    the first to the last loaded bar (gaps are rows with is_gap = true), and every bar-grain model
    keeps that grid; a sample taken every `step_minutes` minutes of it is complete on its own
    step. `step_minutes` defaults to the grain (macros/grain.sql). There, the bars
    of a RANGE frame over open_time are exactly the rows of a ROWS frame: a window "from
    `from_minutes` to `to_minutes` before the bar" is the rows from from_minutes / step_minutes
    to to_minutes / step_minutes preceding. ROWS frames are standard SQL (DuckDB and Spark) and
    avoid the per-row search for the frame bounds a RANGE frame over a timestamp needs.

    minutes_frame(from_minutes, to_minutes=0, step_minutes=bar_minutes)
        'rows between <from> preceding and <to> preceding' ('current row' when to_minutes = 0).
        from_minutes and to_minutes must be multiples of step_minutes.
    trailing_minutes_frame(window_minutes, step_minutes=bar_minutes)
        the trailing window of `window_minutes` minutes ending at the current row:
        minutes_frame(window_minutes - step_minutes, 0, step_minutes).
-#}
{% macro minutes_frame(from_minutes, to_minutes=0, step_minutes=none) -%}
    {%- set step = (lifthouse.bar_minutes() if step_minutes is none else step_minutes) | int -%}
    {%- if (from_minutes | int) % step != 0 or (to_minutes | int) % step != 0 -%}
        {%- do lifthouse.check_grain_vars() -%}
        {{ exceptions.raise_compiler_error("minutes_frame: " ~ from_minutes ~ " and " ~ to_minutes ~ " minutes must be multiples of the grid step " ~ step) }}
    {%- endif -%}
    rows between {{ (from_minutes | int) // step }} preceding and
    {%- if (to_minutes | int) == 0 %} current row{% else %} {{ (to_minutes | int) // step }} preceding{% endif -%}
{%- endmacro %}

{% macro trailing_minutes_frame(window_minutes, step_minutes=none) -%}
    {%- set step = (lifthouse.bar_minutes() if step_minutes is none else step_minutes) | int -%}
    {{- lifthouse.minutes_frame((window_minutes | int) - step, 0, step) -}}
{%- endmacro %}

{#-
    Trailing counts from a running count (exact: counts are integers, so no summation order is
    involved). A sliding count(x) over a long ROWS frame costs DuckDB a segment-tree lookup per
    row (measured at 20 x 365: the 1440-row counts of int_features_bars_computed took 10 of its
    45 s); a running count is one streaming pass and the trailing count is one lag of it.

    running_count(expression, window)
        count(expression) from the partition's first row through the current row. `window` is
        the over-clause body without a frame ("partition by symbol order by open_time").
    trailing_count(running_column, window_minutes, window, step_minutes=bar_minutes)
        the count over the trailing window of `window_minutes` minutes ending at the current row
        (the frame of trailing_minutes_frame), from the CTE column that holds running_count:
        running - running `window_minutes / step_minutes` rows earlier (0 before the partition).
-#}
{% macro running_count(expression, window) -%}
    count({{ expression }}) over ({{ window }} rows between unbounded preceding and current row)
{%- endmacro %}

{% macro trailing_count(running_column, window_minutes, window, step_minutes=none) -%}
    {%- set step = (lifthouse.bar_minutes() if step_minutes is none else step_minutes) | int -%}
    {%- if (window_minutes | int) % step != 0 -%}
        {%- do lifthouse.check_grain_vars() -%}
        {{ exceptions.raise_compiler_error("trailing_count: " ~ window_minutes ~ " minutes must be a multiple of the grid step " ~ step) }}
    {%- endif -%}
    ({{ running_column }} - coalesce(lag({{ running_column }}, {{ (window_minutes | int) // step }}) over ({{ window }}), 0))
{%- endmacro %}
