{#- Row rules of a model: named SQL booleans that every row satisfies, each optionally only on
    the rows its `where` selects. One scan of the model checks all of them, one test node
    instead of one per rule (docs/architecture.md). As in a `where not (...)` test and dbt's
    `accepted_values`, a rule that evaluates to NULL passes. A failing row names the rule, its
    number of failing rows and its expression.

    rules: a list of {name, expression, where (optional)}; names are unique lower-case
    identifiers (checked here, so a typo fails the parse of the test, not a later run). -#}
{% test row_rules(model, rules) %}

{%- set names = [] %}
{%- for r in rules %}
    {%- if not r.name or not r.expression or r.name in names
           or r.name != r.name | lower or not r.name.replace('_', '').isalnum()
           or not r.name[0].isalpha() %}
        {{ exceptions.raise_compiler_error("row_rules on " ~ model ~ ": rule " ~ loop.index
                                           ~ " needs a unique lower-case identifier as its name"
                                           ~ " and an expression (got name '" ~ r.name ~ "')") }}
    {%- endif %}
    {%- do names.append(r.name) %}
{%- endfor %}

with rule_failures as (

    select
        {%- for r in rules %}
        sum(case when {% if r.where %}({{ r.where }}) and {% endif %}not ({{ r.expression }})
                 then 1 else 0 end) as rule_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

failing_rules as (

    {%- for r in rules %}
    select
        '{{ r.name }}' as rule_name,
        rule_{{ loop.index }} as failing_rows,
        '{{ (r.expression ~ (" (where " ~ r.where ~ ")" if r.where else "")) | replace("'", "''") | replace("\n", " ") | trim }}' as rule
    from rule_failures
    where rule_{{ loop.index }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select * from failing_rules

{% endtest %}
