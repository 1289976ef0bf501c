{#-
    The candidate an analysis looks at (analyses/candidate_trades.sql, candidate_daily_pnl.sql):
    the one var('analysis_candidate_id') names; without it, the first promoted candidate by id,
    else the first fallback, else the first candidate that trades. `candidates` is a relation or
    CTE with candidate_id, status and n_trades; `columns` the columns to select from it.
-#}
{% macro chosen_candidate(candidates, columns) -%}
    {%- set candidate_id = var('analysis_candidate_id', none) -%}
    {%- if candidate_id %}
    -- the candidate named by var analysis_candidate_id
    select {{ columns | join(', ') }}
    from {{ candidates }}
    where candidate_id = {{ lifthouse.sql_string(candidate_id) }}
    {%- else %}
    -- no var: the first promoted by id, else the first fallback, else the first that trades
    select {{ columns | join(', ') }}
    from {{ candidates }}
    where n_trades > 0
    order by
        case status when 'promoted' then 0 when 'fallback' then 1 else 2 end,
        candidate_id
    limit 1
    {%- endif %}
{%- endmacro %}
