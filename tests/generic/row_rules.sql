{#- Row rules of a model: named SQL booleans that every row satisfies, each optionally only on
    the rows its `where` selects, and the columns that are never NULL. One scan of the model
    checks all of them, one test node instead of one per rule (docs/architecture.md). As in a
    `where not (...)` test and dbt's `accepted_values`, a rule that evaluates to NULL passes. A
    failing row names the rule, its number of failing rows and its expression.

    not_null: columns that must never be NULL; each is the rule `<column>_not_null`.
    rules:    a list of {name, expression, where (optional)}.
    Rule names are unique lower-case identifiers (checked here, so a typo fails when dbt
    compiles the test, before any query runs). -#}
{% test row_rules(model, rules=[], not_null=[]) %}

{%- set checks = [] %}
{%- for c in not_null %}
    {%- do checks.append({"name": c ~ "_not_null", "expression": c ~ " is not null"}) %}
{%- endfor %}
{%- do checks.extend(rules) %}
{%- set names = [] %}
{%- for r in checks %}
    {%- if not r.name or not r.expression or r.name in names
           or r.name != r.name | lower or not r.name.replace('_', '').isalnum()
           or not r.name[0].isalpha() %}
        {{ exceptions.raise_compiler_error("row_rules on " ~ model ~ ": rule " ~ loop.index
                                           ~ " needs a unique lower-case identifier as its name"
                                           ~ " and an expression (got name '" ~ r.name ~ "')") }}
    {%- endif %}
    {%- do names.append(r.name) %}
{%- endfor %}
{%- if not checks %}
    {{ exceptions.raise_compiler_error("row_rules on " ~ model ~ ": no rules and no not_null columns") }}
{%- endif %}

with rule_failures as (

    select
        {%- for r in checks %}
        sum(case when {% if r.where %}({{ r.where }}) and {% endif %}not ({{ r.expression }})
                 then 1 else 0 end) as rule_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

failing_rules as (

    {%- for r in checks %}
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
