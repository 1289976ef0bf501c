"""The research numerics (SPEC 4, 6-9): states, backtest, statistics, promotion, lift, roll-ups, questions, sanity checks. Pure pandas / numpy; the dbt Python models are thin wrappers."""
