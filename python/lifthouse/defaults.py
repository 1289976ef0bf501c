"""Run defaults, in one place: the window, symbols, lookback and sample seed that ``lifthouse
run``, ``demo``, ``preflight`` and ``sample`` use when not told otherwise. The first four equal
the dbt_project.yml vars of the same meaning (tests/python/test_params.py compares them)."""

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")   # var symbols
START_DATE = "2025-01-01"                    # var start_date (the demo window)
END_DATE = "2025-03-01"                      # var end_date (exclusive)
LOOKBACK_DAYS = 7                            # var lookback_days
SAMPLE_SEED = 7                              # the sample market's seed (lifthouse sample --seed)
