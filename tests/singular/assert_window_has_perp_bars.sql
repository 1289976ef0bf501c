{#-
    The run window must hold perp 1m bars (SPEC 3: every feature, event and trade is built on
    them). Without this test an empty or missing raw_dir builds every model empty and passes.
    The test fails with one row naming raw_dir, the symbols and the window; at execution it raises that
    message, so dbt's summary shows it (docs/failure_modes.md).
-#}
{%- set problem -%}
no USD-M perp 1m bars in raw_dir {{ var('raw_dir') }} for symbols {{ var('symbols') | join(',') if var('symbols') is not string else var('symbols') }} in the window [{{ var('start_date') }}, {{ var('end_date') }}): fill it with `lifthouse import --dataset um_klines_1m ...` or `lifthouse ingest`, or point raw_dir at the folder that holds the data
{%- endset -%}
{%- set window_filter -%}
    open_time >= cast('{{ var("start_date") }}' as timestamp)
    and open_time < cast('{{ var("end_date") }}' as timestamp)
{%- endset -%}

{%- if execute and flags.WHICH in ('build', 'test') -%}
    {%- set staged = load_relation(ref('stg_binance__perp_klines')) -%}
    {%- if staged is not none -%}
        {%- set counted = run_query('select count(*) from ' ~ staged ~ ' where ' ~ window_filter) -%}
        {%- if counted.columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(problem) }}
        {%- endif -%}
    {%- endif -%}
{%- endif -%}

with bars as (

    select count(*) as n_bars
    from {{ ref('stg_binance__perp_klines') }}
    where {{ window_filter }}

)

select
    '{{ problem | replace("'", "''") }}' as problem,
    n_bars
from bars
where n_bars = 0
