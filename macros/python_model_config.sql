{#-
    build_config_dict(model): the config a dbt Python model reads with `dbt.config.get("<key>")`.
    Python models cannot call var(), so a key the model has no config for falls back to the var
    of the same name: a var keeps its name from dbt_project.yml to the Python that reads it, and
    the var -> config mapping lives here once instead of in each model's YAML.
    Overrides dbt's global macro of the same name (dbt-core 1.11,
    include/global_project/macros/python_model/python.sql) and then delegates to it; dbt still
    ships only the keys written as literal dbt.config.get("...") calls in the model's source.
-#}
{% macro build_config_dict(model) %}
    {%- for key in model.config.config_keys_used -%}
        {%- if model.config.get(key) is none and var.has_var(key) -%}
            {%- do model.config.update({key: var(key)}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.build_config_dict(model) }}
{% endmacro %}
