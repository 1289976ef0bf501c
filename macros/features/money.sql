{#-
    USD amounts summed exactly. A floating-point SUM or AVG depends on the order in which
    partial sums are combined, and DuckDB combines per-thread partial aggregates in whatever
    order the threads finish, so the same build could differ in the last bits between runs.
    Liquidation notional is summed as whole cents (bigint, exact and order-independent) and
    turned back into USD after the aggregate.
-#}
{% macro usd_to_cents(expression) -%}
    cast(round(({{ expression }}) * 100) as bigint)
{%- endmacro %}

{% macro cents_to_usd(expression) -%}
    (({{ expression }}) / 100.0)
{%- endmacro %}
