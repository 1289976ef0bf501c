{#- Primary-key test: no two rows share the same values of `columns` (and none is NULL).

    Duplicates are found in two passes. The rows are first grouped by one hash of the key, which
    is cheaper to group on than the key's own columns (a text symbol and a timestamp on the
    minute-grid tables: 20-30% less time at 10 M rows, docs/benchmarks.md). Then only the keys
    whose hash occurs more than once are grouped by their own values. A hash collision is
    therefore never reported, and every duplicated key is: its rows share one hash. `hash` is the
    same function on DuckDB (64-bit) and Spark (32-bit: more collisions, the same answer). -#}
{% test unique_combination(model, columns) %}

{%- set key = columns | join(', ') %}

with keyed as (

    select {{ key }}, hash({{ key }}) as key_hash
    from {{ model }}

),

null_keys as (

    select {{ key }}, 'null key' as problem
    from keyed
    where {% for c in columns %}{{ c }} is null{% if not loop.last %} or {% endif %}{% endfor %}

),

repeated_hashes as (

    select key_hash
    from keyed
    group by key_hash
    having count(*) > 1

),

duplicate_keys as (

    select {{ key }}, 'duplicate key' as problem
    from keyed
    where key_hash in (select key_hash from repeated_hashes)
    group by {{ key }}
    having count(*) > 1

)

select * from null_keys
union all
select * from duplicate_keys

{% endtest %}
