-- Funding settlements for the run's symbols. Loads `funding_lookback_days` more history than the
-- bars so that the first bar of the load window has a last settled rate.
-- Stamps are floored to the minute (Binance stamps carry a few ms of jitter); if two rows fall
-- into one minute the later raw stamp wins.

with source as (

    {{ raw_source('binance', 'um_funding_rate', [
        ['symbol', 'varchar'], ['funding_time', 'timestamp'], ['funding_rate', 'double'],
    ]) }}

),

in_run as (

    select *
    from source
    where symbol in {{ symbol_list() }}
      and funding_time >= {{ load_window_start(var('funding_lookback_days')) }}
      -- a stamp at end_date is still usable by the last bar, whose close is end_date (SPEC 2)
      and funding_time < {{ analysis_window_end() }} + interval '1 minute'

),

stamped as (

    select
        symbol,
        {{ floor_minutes('funding_time', 1) }} as funding_time,
        funding_time as funding_time_raw,
        funding_rate
    from in_run

),

deduplicated as (

    {{ keep_first('stamped', ['symbol', 'funding_time'], 'funding_time_raw desc') }}

)

select
    symbol,
    funding_time,
    funding_time_raw,
    funding_rate,
    funding_rate * 10000 as funding_rate_bps
from deduplicated
