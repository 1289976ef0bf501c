{#- Not-null test of a model's columns: none of `columns` holds a NULL. One scan of the model
    for all of them, one test node instead of one per column (docs/architecture.md). A failing row
    names the column and how many of its rows are NULL. -#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {%- for c in columns %}
        sum(case when {{ c }} is null then 1 else 0 end) as {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

failing_columns as (

    {%- for c in columns %}
    select '{{ c }}' as column_name, {{ c }} as null_rows
    from null_counts
    where {{ c }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select * from failing_columns

{% endtest %}
