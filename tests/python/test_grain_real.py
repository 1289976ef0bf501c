"""5-minute bars on the real data (issue 33; skipped when ../shared/data is absent):

- two routes to the same 5m bars agree: the real May-June 1m klines aggregated to 5m
  (lifthouse.data.bars.aggregate_klines) and the same days of the independent 5m copy
  (long_5m/) give identical features, states, events, trades and lift rows;
- the truncation test (SPEC 2) at 5m, with missing bars and late open-interest stamps (the
  edges of tests/python/test_truncation.py, on the aggregated bars).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lifthouse.data import raw
from lifthouse.data.bars import aggregate_klines
from lifthouse.run.dbt import run_dbt

import test_truncation as trunc
from test_core_models import import_real_data

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
START, END, LOOKBACK_DAYS = "2025-05-12", "2025-06-24", 7   # the committed 1m answer's window
ROUTE_SELECT = ["+lift_summary", "+phase2_candidate_results"]
# every table of the answer, with a total order of its rows
ROUTE_TABLES = {
    "features_v1": "symbol, open_time",
    "market_context": "symbol, open_time",
    "event_registry": "event_id",
    "phase2_trades": "candidate_id, event_id",
    "phase2_candidate_results": "candidate_id",
    "int_candidate_lift": "candidate_id",
    "lift_summary": "all",
}


def to_5m(src: Path, out: Path, symbols=SYMBOLS) -> Path:
    """The raw layer ``src`` with its 1m perp and spot klines aggregated to 5m (and the other
    datasets copied as they are)."""
    for dataset in _datasets():
        for symbol in raw.list_symbols(src, dataset):
            if symbol not in symbols:
                continue
            table = raw.read_dataset(src, dataset, symbol)
            if dataset in ("um_klines_1m", "spot_klines_1m"):
                raw.write_dataset(out, dataset.replace("_1m", "_5m"), symbol,
                                  aggregate_klines(table, 5))
            elif dataset not in ("um_klines_5m", "spot_klines_5m"):
                raw.write_dataset(out, dataset, symbol, table)
    return out


def _datasets():
    from lifthouse.data.schema import DATASETS

    return DATASETS


@pytest.fixture(scope="module")
def real_1m(real_data_dir, tmp_path_factory) -> Path:
    return import_real_data(real_data_dir, tmp_path_factory.mktemp("grain_real_1m"),
                            symbols=SYMBOLS)


@pytest.fixture(scope="module")
def route_aggregated(real_1m, tmp_path_factory) -> Path:
    return to_5m(real_1m, tmp_path_factory.mktemp("route_aggregated"))


@pytest.fixture(scope="module")
def route_long_5m(real_data_dir, route_aggregated, tmp_path_factory) -> Path:
    """The same raw layer, but the 5m klines taken from long_5m/ for exactly the 5m slots the
    aggregated route has (the 1m files cover fewer days than long_5m, and spot only BTC and ETH
    from 2025-05-20)."""
    if not (real_data_dir / "long_5m" / "um_klines_5m").is_dir():
        pytest.skip(f"no long_5m/ in {real_data_dir}")
    out = tmp_path_factory.mktemp("route_long_5m")
    for dataset in _datasets():
        for symbol in raw.list_symbols(route_aggregated, dataset):
            mine = raw.read_dataset(route_aggregated, dataset, symbol)
            if dataset in ("um_klines_5m", "spot_klines_5m"):
                long = pq.read_table(real_data_dir / "long_5m" / dataset / f"{symbol}.parquet")
                ts = pc.cast(long.column("open_time"), pa.timestamp("ms")).cast(pa.timestamp("us"))
                long = long.set_column(long.column_names.index("open_time"), "open_time", ts)
                long = long.filter(pc.is_in(ts, value_set=mine.column("open_time")))
                assert long.num_rows == mine.num_rows, (dataset, symbol)
                raw.write_dataset(out, dataset, symbol, long)
            else:
                raw.write_dataset(out, dataset, symbol, mine)
    return out


def build_5m(raw_dir: Path, base: Path) -> Path:
    warehouse = base / "wh.duckdb"
    run_dbt(["build", "--select", *ROUTE_SELECT, "--exclude-resource-type", "unit_test"],
            vars={"symbols": SYMBOLS, "start_date": START, "end_date": END,
                  "lookback_days": LOOKBACK_DAYS, "raw_dir": str(raw_dir), "bar_minutes": 5,
                  "n_boot": 500},
            warehouse=warehouse, target_dir=base / "target")
    return warehouse


def table(warehouse: Path, name: str) -> pd.DataFrame:
    order = ROUTE_TABLES[name]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from main.{name} order by {order}").df()


def test_two_routes_to_the_same_5m_bars_give_identical_answers(route_aggregated, route_long_5m,
                                                                 tmp_path_factory):
    a = build_5m(route_aggregated, tmp_path_factory.mktemp("route_a"))
    b = build_5m(route_long_5m, tmp_path_factory.mktemp("route_b"))
    sizes = {}
    for name in ROUTE_TABLES:
        x, y = table(a, name), table(b, name)
        assert len(x) > 0, name
        pd.testing.assert_frame_equal(x, y, check_exact=True, obj=name)
        sizes[name] = len(x)
    print("\nidentical at 5m by both routes:", sizes)
    with duckdb.connect(str(a), read_only=True) as con:
        events = dict(con.execute("select event_type, count(*) from main.event_registry "
                                  "where in_window group by all").fetchall())
        bar = con.execute("select max(close_time - open_time) from main.features_v1").fetchone()[0]
    print("events in the window at 5m:", events)
    assert bar == pd.Timedelta(minutes=5)
    assert events.get("LIQUIDATION_CASCADE", 0) > 0 and events.get("liquidity_vacuum", 0) > 0


# --------------------------------------------------------------------------------------------
# the truncation test at 5m

T5 = trunc.T - pd.Timedelta(minutes=4)     # 23:55: the last 5m bar of the short build; its
                                            # close is the 00:00 OI slot and funding settlement


@pytest.fixture(scope="module")
def full_raw_5m(real_data_dir, tmp_path_factory) -> Path:
    """The edges of the 1m truncation test (a 10-minute hole, a single missing minute, the
    five minutes after T, late OI stamps) on the real 1m data, then aggregated to 5m: two
    whole 5m bars and the bar after T5 are missing, one 5m bar has four of its minutes."""
    syms = trunc.SYMBOLS
    src = import_real_data(real_data_dir, tmp_path_factory.mktemp("trunc5_real"), symbols=syms)
    edged = trunc.rewrite(src, tmp_path_factory.mktemp("trunc5_edges"), trunc.with_edges)
    return to_5m(edged, tmp_path_factory.mktemp("trunc5_full"), symbols=syms)


def known_at_close_of_5m(t: pd.Timestamp):
    """What is known at the close of the 5m bar opening at t (t + 5 minutes)."""
    close = t + pd.Timedelta(minutes=5)
    bar = trunc._ts(t)

    def keep(dataset: str, table: pa.Table) -> pa.Table:
        if dataset in ("um_klines_5m", "spot_klines_5m"):
            return table.filter(pc.less_equal(table.column("open_time"), bar))
        if dataset == "um_funding_rate":
            return table.filter(pc.less_equal(table.column("funding_time"), trunc._ts(close)))
        if dataset == "um_open_interest_5m":
            return table.filter(pc.less_equal(table.column("timestamp"),
                                              trunc._ts(close + trunc.OI_JITTER)))
        return table

    return keep


def build_trunc_5m(raw_dir: Path, base: Path, end_date: str) -> Path:
    warehouse = base / "wh.duckdb"
    run_dbt(["run", "--select", "+features_v1", "+market_context", "+event_registry"],
            vars={"symbols": trunc.SYMBOLS, "start_date": trunc.START, "end_date": end_date,
                  "lookback_days": trunc.LOOKBACK_DAYS, "raw_dir": str(raw_dir),
                  "bar_minutes": 5},
            warehouse=warehouse, target_dir=base / "target")
    return warehouse


def test_truncation_at_5m_gives_identical_rows(full_raw_5m, tmp_path_factory):
    long = build_trunc_5m(full_raw_5m, tmp_path_factory.mktemp("trunc5_long"), trunc.LONG_END)
    with duckdb.connect(str(long), read_only=True) as con:
        gaps = con.execute("select count(*) from main.features_v1 where is_gap and open_time = any(?)",
                           [[t.to_pydatetime() for t in pd.date_range(
                               trunc.T - pd.Timedelta(hours=4, minutes=-1), periods=2,
                               freq="5min")] + [(T5 + pd.Timedelta(minutes=5)).to_pydatetime()]]
                           ).fetchone()[0]
        # the OI slot that T5's close reaches, as each symbol's T5 bar sees it
        at_close = dict(con.execute(
            "select symbol, oi_time from main.features_v1 where open_time = ?",
            [T5.to_pydatetime()]).fetchall())
    assert gaps == 3 * len(trunc.SYMBOLS)           # the edges are in the 5m data
    # BTC's snapshot of that slot is stamped 3m10s late: not known at T5's close, which keeps
    # the slot before; ETH's is 1 s late (Binance's jitter, floored): used at T5's close
    assert at_close["BTCUSDT"] == trunc.SLOT_AT_CLOSE - pd.Timedelta(minutes=5)
    assert at_close["ETHUSDT"] == trunc.SLOT_AT_CLOSE
    base = tmp_path_factory.mktemp("trunc5_short")
    cut = trunc.rewrite(full_raw_5m, base / "raw", lambda symbol: known_at_close_of_5m(T5))
    short = build_trunc_5m(cut, base, trunc.LONG_END)
    sizes = trunc.assert_identical(short, long, T5)
    print("\nidentical rows <= T at 5m (data truncation):", sizes)
    with duckdb.connect(str(short), read_only=True) as con:
        assert con.execute("select max(open_time) from main.features_v1").fetchone()[0] == T5
    # and cut by end_date instead (last bar T5)
    end = (T5 + pd.Timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    by_end = build_trunc_5m(full_raw_5m, tmp_path_factory.mktemp("trunc5_end"), end)
    trunc.assert_identical(by_end, long, T5)
