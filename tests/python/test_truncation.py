"""The truncation test (SPEC 2): build on data up to T, then on data up to T + 2 days; every row
stamped <= T in features_v1, market_context and event_registry must be identical (full rows,
NULL-safe, floats exactly).

Two ways of cutting at T, both on the real data (falling back to the generated sample when the
real data is absent):
- data truncation (the stronger test): the raw files hold only what is known at the close of
  bar T (klines with open_time <= T; funding and spot with stamps <= T + 1 minute; OI by its RAW
  stamp <= T + 1 minute + Binance's 1 s jitter, the only lateness the models floor to the slot),
  and the build's end_date is far beyond;
- end_date: the same raw data, the short build with end_date = T + 1 minute.

Both run on data with the edges SPEC 2 names (``with_edges``): missing bars before and right
after T, an OI snapshot stamped minutes late whose 5m slot is T's close (usable only from its raw
stamp, after T), and one stamped +1 s late at the same slot (floored: usable at T's close).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lifthouse.run.dbt import run_dbt

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


OI_JITTER = pd.Timedelta(seconds=1)   # Binance's documented stamp jitter (SPEC 2)
# bars removed from the klines (perp and spot): a 10-minute hole and a single bar before T, and
# the five bars after T
MISSING_BARS = [*pd.date_range(T - pd.Timedelta(hours=4) + pd.Timedelta(minutes=1), periods=10,
                               freq="1min"),
                T - pd.Timedelta(minutes=29),
                *pd.date_range(T + pd.Timedelta(minutes=1), periods=5, freq="1min")]
SLOT_AT_CLOSE = T + pd.Timedelta(minutes=1)        # the 5m OI slot that T's close reaches
# raw OI stamps moved late: the slot at T's close stamped 3m10s late on BTC (known only after
# T) and +1 s late on ETH (jitter: usable at T's close); one earlier slot late by 2m30s
LATE_OI = {("BTCUSDT", SLOT_AT_CLOSE): pd.Timedelta(minutes=3, seconds=10),
           ("ETHUSDT", SLOT_AT_CLOSE): OI_JITTER,
           ("BTCUSDT", T - pd.Timedelta(hours=6, minutes=-1)): pd.Timedelta(minutes=2, seconds=30)}


def _ts(t: pd.Timestamp) -> pa.Scalar:
    return pa.scalar(pd.Timestamp(t).to_pydatetime(), pa.timestamp("us"))


def with_edges(symbol: str):
    """Row transform for the raw tables of ``symbol``: drop MISSING_BARS, stamp LATE_OI late."""
    missing = pa.array([pd.Timestamp(t).to_pydatetime() for t in MISSING_BARS], pa.timestamp("us"))

    def edit(dataset: str, table: pa.Table) -> pa.Table:
        if dataset in ("um_klines_1m", "spot_klines_1m"):
            return table.filter(pc.invert(pc.is_in(table.column("open_time"), value_set=missing)))
        if dataset == "um_open_interest_5m":
            stamps = table.column("timestamp")
            for (sym, slot), late in LATE_OI.items():
                if sym == symbol:
                    hit = pc.equal(stamps, _ts(slot))
                    assert pc.any(hit).as_py(), f"no OI snapshot stamped {slot} for {symbol}"
                    stamps = pc.if_else(hit, _ts(slot + late), stamps)
            return table.set_column(table.column_names.index("timestamp"), "timestamp",
                                    stamps.cast(pa.timestamp("us")))
        return table

    return edit


def known_at_close_of(t: pd.Timestamp):
    """Row filter for import_real_data: keep what is known at the close of bar t."""
    close = pa.scalar(pd.Timestamp(t + pd.Timedelta(minutes=1)).to_pydatetime(), pa.timestamp("us"))
    bar = pa.scalar(pd.Timestamp(t).to_pydatetime(), pa.timestamp("us"))

    def keep(dataset: str, table: pa.Table) -> pa.Table:
        if dataset in ("um_klines_1m", "spot_klines_1m"):
            return table.filter(pc.less_equal(table.column("open_time"), bar))
        if dataset == "um_funding_rate":
            return table.filter(pc.less_equal(table.column("funding_time"), close))
        if dataset == "um_open_interest_5m":
            # by the RAW stamp: a snapshot stamped after T's close (beyond the 1 s jitter) is
            # not known at T, whatever its 5m slot
            latest = _ts(t + pd.Timedelta(minutes=1) + OI_JITTER)
            return table.filter(pc.less_equal(table.column("timestamp"), latest))
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
    sample = pytest.importorskip("lifthouse.data.sample", reason="neither real data nor the sample generator")
    raw_dir = tmp_path_factory.mktemp("trunc_sample_raw")
    sample.generate(raw_dir, symbols=tuple(SYMBOLS), start=START, end=LONG_END,
                    lookback_days=LOOKBACK_DAYS, seed=5)
    return "sample", raw_dir


def rewrite(src: Path, out: Path, edit) -> Path:
    """Every raw dataset of ``src`` through ``edit(symbol)(dataset, table)`` into ``out``."""
    from lifthouse.data import raw
    from lifthouse.data.schema import DATASETS

    for dataset in DATASETS:
        for symbol in raw.list_symbols(src, dataset):
            raw.write_dataset(out, dataset, symbol,
                              edit(symbol)(dataset, raw.read_dataset(src, dataset, symbol)))
    return out


@pytest.fixture(scope="module")
def full_raw(source, tmp_path_factory) -> Path:
    """The whole raw data, with the edges (missing bars, late OI stamps)."""
    kind, path = source
    if kind == "real":
        path = import_real_data(path, tmp_path_factory.mktemp("trunc_real_raw"), symbols=SYMBOLS)
    return rewrite(path, tmp_path_factory.mktemp("trunc_full_raw"), with_edges)


@pytest.fixture(scope="module")
def long_build(full_raw, tmp_path_factory) -> Path:
    return build(full_raw, tmp_path_factory.mktemp("trunc_long"), LONG_END)


def test_edges_are_in_the_data(long_build):
    """The long build sees the missing bars as gaps and the late BTC snapshot only from its
    raw stamp (so the comparisons below really cover them)."""
    with duckdb.connect(str(long_build), read_only=True) as con:
        gaps = con.execute("select count(*) from main.features_v1 where is_gap and open_time = any(?)",
                           [[t.to_pydatetime() for t in MISSING_BARS]]).fetchone()[0]
        seen = con.execute(
            "select min(close_time) from main.features_v1 where symbol = 'BTCUSDT' and oi_time = ?",
            [SLOT_AT_CLOSE.to_pydatetime()]).fetchone()[0]
    assert gaps == len(MISSING_BARS) * len(SYMBOLS)
    late = LATE_OI[("BTCUSDT", SLOT_AT_CLOSE)]
    assert seen == (SLOT_AT_CLOSE + late).ceil("1min")


def test_truncated_data_gives_identical_rows(full_raw, long_build, tmp_path_factory):
    base = tmp_path_factory.mktemp("trunc_data")
    keep = known_at_close_of(T)
    raw_dir = rewrite(full_raw, base / "raw", lambda symbol: keep)
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
