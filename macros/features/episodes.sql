{#-
    episode_starts(qualifying, partition_by, time_column, cooldown_minutes)

    De-duplicates qualifying bars into episodes. `qualifying` is a CTE holding only the bars that
    qualify. A bar opens a new episode when no earlier qualifying bar of the same partition lies
    within `cooldown_minutes` before it; otherwise it belongs to the running episode. Consecutive
    qualifying bars therefore merge, and after an episode's last qualifying bar a cooldown of
    `cooldown_minutes` must pass before a new one can start. Only earlier rows are looked at, so
    the result at a bar never depends on later bars (truncation-safe). Returns the episode-opening
    rows with all columns of `qualifying`.
-#}
{% macro episode_starts(qualifying, partition_by, time_column, cooldown_minutes) -%}
    select *
    from (
        select
            *,
            lag({{ time_column }}) over (
                partition by {{ partition_by }} order by {{ time_column }}
            ) as _previous_qualifying_at
        from {{ qualifying }}
    ) as sequenced
    where _previous_qualifying_at is null
       or {{ time_column }} > _previous_qualifying_at + {{ lifthouse.minutes(cooldown_minutes) }}
{%- endmacro %}
