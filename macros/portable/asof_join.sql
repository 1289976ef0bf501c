{#-
    asof_join_backward(left, right, by, left_time, right_time, right_columns)

    Every row of the CTE `left`, with `right_columns` of the latest row of the CTE `right` that has
    the same `by` key and `right_time <= left_time` (NULLs when there is none). This is the only
    way the core models attach slower series (funding, open interest, sampled thresholds) to bars,
    so "backward only" is enforced in one place.

    DuckDB: ASOF LEFT JOIN. Portable (Spark): each right row is valid on [right_time, next
    right_time); a range join picks the one interval that contains left_time.
    `right_columns` are plain column names of `right`; they keep their names.
-#}
{% macro asof_join_backward(left, right, by, left_time, right_time, right_columns) -%}
    {{ return(adapter.dispatch('asof_join_backward', 'lifthouse')(left, right, by, left_time, right_time, right_columns)) }}
{%- endmacro %}

{% macro default__asof_join_backward(left, right, by, left_time, right_time, right_columns) -%}
    select
        l.*,
        {%- for col in right_columns %}
        r.{{ col }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ left }} as l
    left join (
        select
            *,
            lead({{ right_time }}) over (partition by {{ by }} order by {{ right_time }}) as _asof_valid_to
        from {{ right }}
    ) as r
        on l.{{ by }} = r.{{ by }}
        and l.{{ left_time }} >= r.{{ right_time }}
        and (r._asof_valid_to is null or l.{{ left_time }} < r._asof_valid_to)
{%- endmacro %}

{% macro duckdb__asof_join_backward(left, right, by, left_time, right_time, right_columns) -%}
    select
        l.*,
        {%- for col in right_columns %}
        r.{{ col }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ left }} as l
    asof left join {{ right }} as r
        on l.{{ by }} = r.{{ by }}
        and l.{{ left_time }} >= r.{{ right_time }}
{%- endmacro %}

{#-
    Spark: released Spark SQL has no ASOF JOIN, and the range join above degenerates into a
    per-key nested loop. Both sides go into one union ordered by (time, side) with the right rows
    first on a tie (so right_time <= left_time matches, SPEC 2); each left row takes the last
    right row before it (last_value ignore nulls over a struct, so a right row whose columns are
    NULL still wins over an older one) and only the left rows are kept: no join, so the output
    has exactly the rows of `left` (the unique tests on every as-of output check this).
-#}
{% macro spark__asof_join_backward(left, right, by, left_time, right_time, right_columns) -%}
    select
        _asof_left.*,
        {%- for col in right_columns %}
        _asof_right.{{ col }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            _asof_side,
            _asof_left,
            last_value(_asof_row, true) over (
                partition by _asof_key order by _asof_time, _asof_side
                rows between unbounded preceding and current row
            ) as _asof_right
        from (
            select {{ by }} as _asof_key, {{ left_time }} as _asof_time, 1 as _asof_side,
                   struct(l.*) as _asof_left, null as _asof_row
            from {{ left }} as l
            union all
            select {{ by }}, {{ right_time }}, 0, null,
                   named_struct(
                       {%- for col in right_columns %}
                       '{{ col }}', r.{{ col }}{{ "," if not loop.last }}
                       {%- endfor %}
                   )
            from {{ right }} as r
        ) as _asof_union
    ) as _asof_carried
    where _asof_side = 1
{%- endmacro %}
