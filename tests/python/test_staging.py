"""Staging models and their data tests, built by dbt on imported data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lifthouse.run.dbt import DbtError, run_dbt
from lifthouse.data.importer import import_files
from lifthouse.data.raw import write_dataset

STAGING = ["--select", "staging", "int_perp_bars_gridded", "dq_perp_kline_gaps"]


def _klines(start: str, minutes: int, drop: slice | None = None) -> pa.Table:
    t = pd.date_range(start, periods=minutes, freq="1min")
    rng = np.random.default_rng(1)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 1e-3, minutes)))
    open_ = np.r_[50.0, close[:-1]]
    df = pd.DataFrame({"open_time": t.as_unit("us"), "open": open_, "close": close,
                       "high": np.maximum(open_, close) * 1.0005,
                       "low": np.minimum(open_, close) * 0.9995,
                       "volume": rng.uniform(1, 3, minutes)})
    if drop is not None:
        df = df.drop(df.index[drop])
    return pa.Table.from_pandas(df, preserve_index=False)


def _funding(start: str, n: int, rate: float = 1e-4) -> pa.Table:
    t = pd.date_range(start, periods=n, freq="8h")
    return pa.table({"funding_time": pa.array(t.as_unit("us")), "funding_rate": [rate] * n})


def _query(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).df()


def test_small_data_without_optional_datasets(tmp_path: Path, dbt_paths):
    raw = tmp_path / "raw"
    # 2 days of bars with a 7-minute hole; funding only; no OI, liquidations or spot at all
    write_dataset(raw, "um_klines_1m", "AAAUSDT", _klines("2025-03-01", 2 * 1440, drop=slice(100, 107)))
    write_dataset(raw, "um_funding_rate", "AAAUSDT", _funding("2025-02-20", 40))
    vars_ = {"raw_dir": str(raw), "symbols": ["AAAUSDT"], "start_date": "2025-03-02",
             "end_date": "2025-03-03", "lookback_days": 1}
    run_dbt(["build", *STAGING], vars=vars_, **dbt_paths)
    wh = dbt_paths["warehouse"]
    gaps = _query(wh, "select * from dq_perp_kline_gaps order by gap_start")
    assert gaps["missing_minutes"].tolist() == [7]
    assert gaps["gap_start"].iloc[0] == pd.Timestamp("2025-03-01 01:40")
    assert _query(wh, "select count(*) n from stg_binance__open_interest_5m")["n"][0] == 0
    assert _query(wh, "select count(*) n from stg_binance__liquidations")["n"][0] == 0
    n = _query(wh, "select count(*) n from stg_binance__perp_klines")["n"][0]
    assert n == 2 * 1440 - 7
    # funding: the load window plus funding_lookback_days of history, up to and including the
    # settlement stamped end_date (the last bar closes at end_date and may use it)
    f = _query(wh, "select min(funding_time) lo, max(funding_time) hi from stg_binance__funding_rates")
    assert f["lo"][0] == pd.Timestamp("2025-02-20") and f["hi"][0] == pd.Timestamp("2025-03-03")


def test_a_data_test_fails_on_bad_staged_data(tmp_path: Path, dbt_paths):
    raw = tmp_path / "raw"
    write_dataset(raw, "um_klines_1m", "AAAUSDT", _klines("2025-03-01", 600))
    # 4% per 8h passes the raw layer's +-5% sanity bound but not staging's +-3% data test
    write_dataset(raw, "um_funding_rate", "AAAUSDT", _funding("2025-02-28", 5, rate=0.04))
    vars_ = {"raw_dir": str(raw), "symbols": ["AAAUSDT"], "start_date": "2025-03-01",
             "end_date": "2025-03-02", "lookback_days": 0}
    with pytest.raises(DbtError) as err:
        run_dbt(["build", *STAGING], vars=vars_, **dbt_paths)
    # the message names the test, and its failing row names the rule (failed_test_rows)
    assert "Failure in test row_rules_stg_binance__funding_rates" in str(err.value)
    assert "rule_name=funding_rate_in_range, failing_rows=5" in str(err.value)


@pytest.mark.realdata
def test_real_data_passes_all_staging_tests(real_data_dir: Path, tmp_path: Path, dbt_paths):
    raw = tmp_path / "raw"
    quiet = dict(data_dir=raw, log=lambda *_: None)
    for dataset, folder in [("um_klines_1m", "um_klines_1m"), ("um_funding_rate", "um_funding_rate"),
                            ("um_open_interest_5m", "um_open_interest_5m"),
                            ("spot_klines_1m", "spot_klines_1m")]:
        import_files(sorted((real_data_dir / folder).glob("*.parquet")), dataset, **quiet)
    vars_ = {"raw_dir": str(raw), "start_date": "2025-05-12", "end_date": "2025-06-24"}
    run = run_dbt(["build", *STAGING], vars=vars_, **dbt_paths)
    results = run.run_results()["results"]
    assert results and all(r["status"] in ("success", "pass") for r in results)
    wh = dbt_paths["warehouse"]
    counts = _query(wh, "select symbol, count(*) n from stg_binance__perp_klines group by 1 order by 1")
    # load window 2025-05-05 .. 2025-06-23 inclusive = 50 full days, gapless in the real data
    assert counts["n"].tolist() == [50 * 1440] * 3
    assert _query(wh, "select count(*) n from dq_perp_kline_gaps")["n"][0] == 0
    oi = _query(wh, "select symbol, count(*) n from stg_binance__open_interest_5m group by 1 order by 1")
    assert oi["symbol"].tolist() == ["BTCUSDT", "ETHUSDT"]  # SOL has no OI
