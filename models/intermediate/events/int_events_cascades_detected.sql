-- LIQUIDATION_CASCADE (SPEC 5): a large 5-minute move, |zmove_5m| >= var('cascade_zmove_min'),
-- with evidence of forced flow, by priority (exactly one source per bar, never "either"):
--   'liquidations'  where the symbol has liquidation data for the trailing baseline: the bar's
--                   trailing var('baseline_minutes') before the move hold liquidation coverage on
--                   at least var('feature_min_coverage') of their minutes. Then the evidence is
--                   the notional liquidated on the side the move forces out (a down move
--                   liquidates longs = SELL orders, an up move shorts = BUY orders) over those 5
--                   minutes >= var('cascade_liq_multiple') x the trailing mean 5-minute sum of all
--                   liquidations (mean over the baseline before the move; the median of sparse
--                   liquidations is 0, so a mean is the usable trailing level). Open interest is
--                   NOT consulted for such a bar: an OI drop without a liquidation burst is not a
--                   cascade where liquidations are observed.
--   'open_interest' only where that liquidation baseline is missing (no liquidation data, or
--                   its coverage starts inside the trailing window) and OI exists:
--                   oi_chg_15m <= -var('cascade_oi_drop_pct') percent.
-- Symbols with neither produce no cascades. Qualifying bars are merged into episodes with a
-- cooldown (macro episode_starts); the event is stamped at the episode's first qualifying bar,
-- the bar whose close confirms the move. Direction = sign of the 5-minute move.

{%- set baseline = var('baseline_minutes') | int %}
{%- set step = lifthouse.bar_minutes() %}
{%- set zmove_min = var('cascade_zmove_min') | float %}
{%- set liq_multiple = var('cascade_liq_multiple') | float %}
{%- set oi_drop = var('cascade_oi_drop_pct') | float %}

with bars as (

    select
        symbol,
        open_time,
        ret_5m,
        zmove_5m,
        oi_chg_15m,
        liq_long_usd,
        liq_short_usd,
        liq_long_usd + liq_short_usd as liq_usd
    from {{ ref('int_features_joined') }}

),

-- trailing liquidation sums over the bars themselves (no join back): liq_usd is NULL before the
-- symbol's liquidation coverage starts and 0-filled from then on, and sums, means and counts
-- skip NULLs, so a frame that reaches back before the coverage holds only covered minutes (and
-- none at all for a symbol without liquidations)
with_liquidation_windows as (

    select
        *,
        -- the side the move forces out: longs (SELL) on a down move, shorts (BUY) on an up
        -- move. Whole cents (macros/features/money.sql): exact sums, independent of thread order
        case
            when ret_5m < 0 then {{ cents_to_usd('sum(' ~ usd_to_cents('liq_long_usd') ~ ') over w_move') }}
            when ret_5m > 0 then {{ cents_to_usd('sum(' ~ usd_to_cents('liq_short_usd') ~ ') over w_move') }}
        end as liq_5m_usd,
        {{ lifthouse.bars(5) }} * {{ cents_to_usd('avg(' ~ usd_to_cents('liq_usd') ~ ') over w_before_move') }} as liq_5m_baseline_usd,
        case when liq_usd is not null then count(liq_usd) over w_before_move end as n_liq_baseline
    from bars
    -- ROWS frames over the complete bar grid (macros/features/grid_frames.sql): the 5 minutes
    -- of the move (the bars that open in them), and the baseline minutes before it
    window w_move as (partition by symbol order by open_time {{ lifthouse.trailing_minutes_frame(5) }}),
    w_before_move as (partition by symbol order by open_time {{ lifthouse.minutes_frame(baseline + 5 - step, 5) }})

),

evidence as (

    select
        *,
        has_liquidation_baseline
            and liq_5m_usd > 0
            and liq_5m_usd >= {{ liq_multiple }} * liq_5m_baseline_usd as has_liquidation_evidence,
        -- open interest is the fallback only where no liquidation baseline exists
        not has_liquidation_baseline
            and oi_chg_15m <= -{{ oi_drop }} as has_oi_evidence
    from (
        select
            *,
            coalesce(n_liq_baseline >= {{ var('feature_min_coverage') | float }} * {{ lifthouse.bars(baseline, 'baseline_minutes') }}, false)
                as has_liquidation_baseline
        from with_liquidation_windows
    ) as covered

),

qualifying as (

    select
        symbol,
        open_time,
        ret_5m,
        zmove_5m,
        case
            when has_liquidation_evidence then 'liquidations'
            when has_oi_evidence then 'open_interest'
        end as evidence,
        case
            when has_liquidation_evidence then 'liq_5m_over_trailing_mean'
            when has_oi_evidence then 'oi_chg_15m_pct'
        end as evidence_name,
        case
            when has_liquidation_evidence then liq_5m_usd / nullif(liq_5m_baseline_usd, 0)
            when has_oi_evidence then oi_chg_15m
        end as evidence_value,
        case
            when has_liquidation_evidence then {{ liq_multiple }}
            when has_oi_evidence then -{{ oi_drop }}
        end as evidence_threshold
    from evidence
    where abs(zmove_5m) >= {{ zmove_min }}
      and (has_liquidation_evidence or has_oi_evidence)

),

episodes as (

    {{ lifthouse.episode_starts('qualifying', 'symbol', 'open_time', var('cascade_cooldown_minutes')) }}

)

select
    'LIQUIDATION_CASCADE' as event_type,
    symbol,
    open_time - {{ lifthouse.minutes(5 - step) }} as episode_start,
    open_time as detected_at,
    cast(sign(ret_5m) as integer) as direction,
    evidence,
    'zmove_5m' as trigger_name,
    zmove_5m as trigger_value,
    {{ zmove_min }} as trigger_threshold,
    evidence_name,
    evidence_value,
    evidence_threshold
from episodes
