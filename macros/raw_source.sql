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

{#-
    The glob the raw sources read: <raw_dir>/<dataset>/symbol=*/<YYYY-MM>.parquet. Only the
    writer's own month file names match (a backup copy such as `2025-06 (old copy).parquet` in a
    partition is not read; `lifthouse preflight` lists it). Glob characters in raw_dir ([ * ?)
    are escaped so the folder is matched literally. A path, not SQL: quote it with sql_string.
-#}
{% macro raw_glob(dataset) -%}
    {{- lifthouse.glob_escape(var('raw_dir')) ~ '/' ~ dataset ~ '/symbol=*/' ~ lifthouse.month_file_glob() -}}
{%- endmacro %}

{#- The writer's month file name as a glob (python/lifthouse/data/raw.py MONTH_FILE_GLOB) -#}
{% macro month_file_glob() -%}
    {{- '[0-9][0-9][0-9][0-9]-[0-9][0-9].parquet' -}}
{%- endmacro %}

{#- A path matched literally by a DuckDB glob: [ * ? each inside brackets -#}
{% macro glob_escape(path) -%}
    {{- (path | string).replace('[', '[[]').replace('*', '[*]').replace('?', '[?]') -}}
{%- endmacro %}

{#- A SQL string literal: 'it''s' (every path and var that reaches SQL goes through it) -#}
{% macro sql_string(value) -%}
    {{- "'" ~ (value | string).replace("'", "''") ~ "'" -}}
{%- endmacro %}

{% macro raw_files_exist(dataset) -%}
    {{ return(adapter.dispatch('raw_files_exist', 'lifthouse')(dataset)) }}
{%- endmacro %}

{% macro default__raw_files_exist(dataset) -%}
    {%- set sql -%}
        select count(*) from glob({{ lifthouse.sql_string(lifthouse.raw_glob(dataset)) }})
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#-
    Spark: the same Hive layout read by path (no metastore): Spark discovers the symbol=<SYM>
    partitions of <raw_dir>/<dataset>. source() is still called so the dependency is recorded.
    Column types are Spark's names (string for varchar); raw timestamps are tz-naive and read as
    UTC (spark.sql.session.timeZone=UTC in profiles.yml). Spark reads every file of the folder
    (it skips only names starting with _ or .), so rows are kept only from the writer's month
    files (_metadata.file_name, as DuckDB's glob does). Backticks in raw_dir are doubled.
-#}
{% macro spark__raw_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set types = {'varchar': 'string'} -%}
    {%- set exists = lifthouse.raw_files_exist(table_name) if execute else true -%}
    select
        {%- for col in columns %}
        cast({{ 'null' if not exists else '`' ~ col[0] ~ '`' }} as {{ types.get(col[1], col[1]) }}) as `{{ col[0] }}`{{ "," if not loop.last }}
        {%- endfor %}
    {%- if exists %}
    from parquet.`{{ (var('raw_dir') | string).replace('`', '``') }}/{{ table_name }}`
    where _metadata.file_name rlike '^[0-9]{4}-[0-9]{2}[.]parquet$'
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}

{#- Spark lists file paths with the binaryFile source (paths only: contents are not read) -#}
{% macro spark__raw_files_exist(dataset) -%}
    {%- set sql -%}
        select count(*) from binaryFile.`{{ (var('raw_dir') | string).replace('`', '``') }}/*/symbol=*/*.parquet`
        where path like '%/{{ dataset }}/symbol=%' and path rlike '/[0-9]{4}-[0-9]{2}[.]parquet$'
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
