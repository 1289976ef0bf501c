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
