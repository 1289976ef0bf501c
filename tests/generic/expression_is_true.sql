{#- Every row satisfies a SQL boolean expression, e.g. `low <= least(open, close)`.
    `where` optionally restricts the rows checked. -#}
{% test expression_is_true(model, expression, where=none) %}

select *
from {{ model }}
where not ({{ expression }})
{% if where %}  and ({{ where }}){% endif %}

{% endtest %}
