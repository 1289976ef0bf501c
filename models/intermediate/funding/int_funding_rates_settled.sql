-- The funding settlements a position pays or receives (SPEC 6), as the backtest reads them: one
-- row per (symbol, minute-floored settlement time). A view: the staging rows, columns selected.

with settlements as (

    select symbol, funding_time, funding_rate
    from {{ ref('stg_binance__funding_rates') }}

)

select * from settlements
