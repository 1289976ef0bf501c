{#- Primary-key test: no two rows share the same values of `columns` (and none is NULL). -#}
{% test unique_combination(model, columns) %}

with keyed as (

    select {{ columns | join(', ') }}
    from {{ model }}

),

null_keys as (

    select {{ columns | join(', ') }}, 'null key' as problem
    from keyed
    where {% for c in columns %}{{ c }} is null{% if not loop.last %} or {% endif %}{% endfor %}

),

duplicate_keys as (

    select {{ columns | join(', ') }}, 'duplicate key' as problem
    from keyed
    group by {{ columns | join(', ') }}
    having count(*) > 1

)

select * from null_keys
union all
select * from duplicate_keys

{% endtest %}
