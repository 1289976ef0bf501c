"""The truncation test (SPEC 2): build on data up to T, then on data up to T + 2 days; every row
stamped <= T in features_v1, market_context and event_registry must be identical (full rows,
NULL-safe, floats exactly).

Two ways of cutting at T, both on the real data (falling back to the generated sample when the
real data is absent):
- data truncation (the stronger test): the raw files hold only what is known at the close of
  bar T (klines with open_time <= T; OI, funding and spot with stamps <= T + 1 minute; OI by its
  5m slot, as the models floor the +1 s jitter), and the build's end_date is far beyond;
- end_date: the same raw data, the short build with end_date = T + 1 minute.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lifthouse.dbt import run_dbt

from test_core_models import CORE_SELECT, import_real_data

SYMBOLS = ["BTCUSDT", "ETHUSDT"]       # ETH has OI (cascades), both have spot from 2025-05-20
START = "2025-06-01"
LOOKBACK_DAYS = 7
T = pd.Timestamp("2025-06-11 23:59")    # last bar of the short build: its close is a 5m OI slot
                                        # and a funding settlement (2025-06-12 00:00)
LONG_END = "2025-06-14"
TABLES = {
    "features_v1": ("open_time", "symbol, open_time"),
    "market_context": ("open_time", "symbol, open_time"),
    "event_registry": ("detected_at", "event_id"),
}


def known_at_close_of(t: pd.Timestamp):
    """Row filter for import_real_data: keep what is known at the close of bar t."""
    close = pa.scalar(pd.Timestamp(t + pd.Timedelta(minutes=1)).to_datetime64(), pa.timestamp("us"))
    bar = pa.scalar(pd.Timestamp(t).to_datetime64(), pa.timestamp("us"))

    def keep(dataset: str, table: pa.Table) -> pa.Table:
        if dataset in ("um_klines_1m", "spot_klines_1m"):
            return table.filter(pc.less_equal(table.column("open_time"), bar))
        if dataset == "um_funding_rate":
            return table.filter(pc.less_equal(table.column("funding_time"), close))
        if dataset == "um_open_interest_5m":
            slot = pc.floor_temporal(table.column("timestamp"), multiple=5, unit="minute")
            return table.filter(pc.less_equal(slot, close))
        return table

    return keep


def build(raw_dir: Path, base: Path, end_date: str, start_date: str = START) -> Path:
    warehouse = base / "wh.duckdb"
    run_dbt(["run", "--select", *CORE_SELECT],
            vars={"symbols": SYMBOLS, "start_date": start_date, "end_date": end_date,
                  "lookback_days": LOOKBACK_DAYS, "raw_dir": str(raw_dir)},
            warehouse=warehouse, target_dir=base / "target")
    return warehouse


def rows_up_to(warehouse: Path, table: str, t: pd.Timestamp) -> pd.DataFrame:
    time_col, order = TABLES[table]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select * from main.{table} where {time_col} <= ? order by {order}", [t.to_pydatetime()]
        ).df()


def assert_identical(short: Path, long: Path, t: pd.Timestamp) -> dict[str, int]:
    sizes = {}
    for table in TABLES:
        a = rows_up_to(short, table, t)
        b = rows_up_to(long, table, t)
        assert len(a) > 0, table
        assert list(a.columns) == list(b.columns), table
        assert len(a) == len(b), (table, len(a), len(b))
        # exact, NULL-safe: NaN == NaN, floats compared bit for bit
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                      check_exact=True, obj=table)
        sizes[table] = len(a)
    return sizes


@pytest.fixture(scope="module")
def source(request, tmp_path_factory):
    """('real', folder) or ('sample', raw_dir) to import / use."""
    from conftest import REAL_DATA

    if (REAL_DATA / "um_klines_1m").is_dir():
        return "real", REAL_DATA
    sample = pytest.importorskip("lifthouse.sample", reason="neither real data nor the sample generator")
    raw_dir = tmp_path_factory.mktemp("trunc_sample_raw")
    sample.generate(raw_dir, symbols=tuple(SYMBOLS), start=START, end=LONG_END,
                    lookback_days=LOOKBACK_DAYS, seed=5)
    return "sample", raw_dir


@pytest.fixture(scope="module")
def full_raw(source, tmp_path_factory) -> Path:
    kind, path = source
    if kind == "sample":
        return path
    return import_real_data(path, tmp_path_factory.mktemp("trunc_full_raw"), symbols=SYMBOLS)


@pytest.fixture(scope="module")
def long_build(full_raw, tmp_path_factory) -> Path:
    return build(full_raw, tmp_path_factory.mktemp("trunc_long"), LONG_END)


def test_truncated_data_gives_identical_rows(source, full_raw, long_build, tmp_path_factory):
    kind, path = source
    base = tmp_path_factory.mktemp("trunc_data")
    raw_dir = base / "raw"
    if kind == "real":
        import_real_data(path, raw_dir, symbols=SYMBOLS, keep=known_at_close_of(T))
    else:
        from lifthouse import raw

        keep = known_at_close_of(T)
        for dataset in raw.DATASETS:
            for symbol in raw.list_symbols(full_raw, dataset):
                table = keep(dataset, raw.read_dataset(full_raw, dataset, symbol))
                raw.write_dataset(raw_dir, dataset, symbol, table)
    short = build(raw_dir, base, LONG_END)
    sizes = assert_identical(short, long_build, T)
    print("\nidentical rows <= T (data truncation):", sizes)
    # the short build really ends at T, and the long one goes on
    with duckdb.connect(str(short), read_only=True) as con:
        assert con.execute("select max(open_time) from main.features_v1").fetchone()[0] == T
    with duckdb.connect(str(long_build), read_only=True) as con:
        assert con.execute("select max(open_time) from main.features_v1").fetchone()[0] > T
        n_after = con.execute("select count(*) from main.event_registry where detected_at > ?",
                              [T.to_pydatetime()]).fetchone()[0]
    assert sizes["event_registry"] > 0 and n_after >= 0


def test_end_date_gives_identical_rows(full_raw, long_build, tmp_path_factory):
    """The same raw data, the short build cut by end_date = T + 1 minute (last bar T)."""
    end = T + pd.Timedelta(minutes=1)
    short = build(full_raw, tmp_path_factory.mktemp("trunc_end"), end.strftime("%Y-%m-%d %H:%M:%S"))
    sizes = assert_identical(short, long_build, T)
    print("\nidentical rows <= T (end_date):", sizes)
