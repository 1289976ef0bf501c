-- Data coverage per symbol over the analysis window (SPEC 1, 3, 10): bars, gap bars and bars
-- carrying open interest, liquidations and a spot basis.

with bars as (

    select symbol, in_window, is_gap, oi, liq_long_usd, liq_short_usd, basis_bps
    from {{ ref('features_v1') }}

),

coverage as (

    select
        symbol,
        count(*) filter (where in_window) as n_bars,
        count(*) filter (where in_window and is_gap) as n_gap_bars,
        count(*) filter (where in_window and oi is not null) as n_bars_with_oi,
        count(*) filter (where in_window and (liq_long_usd is not null or liq_short_usd is not null))
            as n_bars_with_liquidations,
        count(*) filter (where in_window and basis_bps is not null) as n_bars_with_basis
    from bars
    group by symbol

)

select * from coverage
