{#-
    Reading the raw layer.

    raw_source(source_name, table_name, columns): selects `columns` from the dbt source, or, when
    the dataset has no file at all (an optional dataset a user does not have, e.g. liquidations),
    an empty relation with the same typed columns, so downstream models degrade to NULL instead
    of failing on "No files found". `columns` is a list of [name, type] pairs.
-#}
{% macro raw_source(source_name, table_name, columns) -%}
    {{ return(adapter.dispatch('raw_source', 'lifthouse')(source_name, table_name, columns)) }}
{%- endmacro %}

{% macro default__raw_source(source_name, table_name, columns) -%}
    select
        {%- for col in columns %}
        cast({{ col[0] }} as {{ col[1] }}) as {{ col[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source(source_name, table_name) }}
{%- endmacro %}

{% macro duckdb__raw_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and not lifthouse.raw_files_exist(table_name) -%}
    select
        {%- for col in columns %}
        cast(null as {{ col[1] }}) as {{ col[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- else -%}
    {{ default__raw_source(source_name, table_name, columns) }}
    {%- endif -%}
{%- endmacro %}

{#- The glob the raw sources read: <raw_dir>/<dataset>/symbol=*/*.parquet -#}
{% macro raw_glob(dataset) -%}
    {{- var('raw_dir') ~ '/' ~ dataset ~ '/symbol=*/*.parquet' -}}
{%- endmacro %}

{% macro raw_files_exist(dataset) -%}
    {%- set sql -%}
        select count(*) from glob('{{ lifthouse.raw_glob(dataset) }}')
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
