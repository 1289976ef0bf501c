{#-
    ref() as dbt's, rendered without the database on DuckDB (main.features_v1, not
    <file>.main.features_v1). DuckDB names a database after its file, and a view keeps the
    names it was created with: without this, the views of a warehouse copied under another name
    (a reused data layer, python/lifthouse/run/layer.py; a copy opened for ad-hoc SQL) would
    point at a database that is not there. DuckDB binds a view's names in the view's own
    database, so the views also work in an attached copy.
-#}
{% macro ref() %}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if target.type == 'duckdb' and relation is not none and relation.include is defined -%}
        {{ return(relation.include(database=false)) }}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}
