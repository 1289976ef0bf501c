"""Core marts (SPEC 3-5): features_v1, market_context, event_registry.

On the real Binance data (3 symbols, the full 1m window): every indicator state has real
occupancy on every symbol, both event families fire a useful number of times where their
evidence exists (cascades need open interest or liquidations: BTC and ETH have OI, SOL has
neither and must produce none), and all dbt data and unit tests of these models pass.
On the generated sample market: the planted episodes are found.

Build time is printed (see docs/features_and_events.md), never asserted.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lifthouse.run.dbt import run_dbt

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
REAL_VARS = {"symbols": SYMBOLS, "start_date": "2025-05-12", "end_date": "2025-06-24",
             "lookback_days": 7}
CORE_SELECT = ["+features_v1", "+market_context", "+event_registry"]
CORE_MODELS = ["features_v1", "market_context", "event_registry"]

# real-data folder -> raw dataset, time column, columns to drop
REAL_DATASETS = {
    "um_klines_1m": ("um_klines_1m", "open_time", []),
    "spot_klines_1m": ("spot_klines_1m", "open_time", []),
    "um_funding_rate": ("um_funding_rate", "funding_time", ["funding_time_raw"]),
    "um_open_interest_5m": ("um_open_interest_5m", "timestamp", ["source"]),
}


def import_real_data(src: Path, out: Path, symbols=SYMBOLS, keep=None) -> Path:
    """The real Binance files (epoch ms) into the raw layout. ``keep(dataset, table)`` may filter
    rows (used by the truncation test)."""
    from lifthouse.data.raw import write_dataset

    for folder, (dataset, tcol, drop) in REAL_DATASETS.items():
        for symbol in symbols:
            path = src / folder / f"{symbol}.parquet"
            if not path.exists():
                continue
            table = pq.read_table(path)
            table = table.drop_columns([c for c in drop if c in table.column_names])
            ts = pc.cast(table.column(tcol), pa.timestamp("ms")).cast(pa.timestamp("us"))
            table = table.set_column(table.column_names.index(tcol), tcol, ts)
            if keep is not None:
                table = keep(dataset, table)
            write_dataset(out, dataset, symbol, table)
    return out


def read_table(warehouse: Path, name: str, order: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from main.{name} order by {order}").df()


def model_timings(run) -> dict[str, float]:
    results = run.run_results().get("results", [])
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
            if r["unique_id"].startswith("model.")}


@pytest.fixture(scope="module")
def real_build(real_data_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("core_real")
    raw_dir = import_real_data(real_data_dir, base / "raw")
    paths = {"warehouse": base / "wh.duckdb", "target_dir": base / "target"}
    run = run_dbt(["build", "--select", *CORE_SELECT], vars={**REAL_VARS, "raw_dir": str(raw_dir)},
                  **paths)
    timings = model_timings(run)
    print("\nmodel execution times (s):", {k: round(v, 2) for k, v in sorted(timings.items())})
    print("sum of model times: %.2f s, dbt elapsed %.2f s"
          % (sum(timings.values()), run.run_results().get("elapsed_time", float("nan"))))
    return {"run": run, **paths}


def test_real_build_runs_all_data_and_unit_tests(real_build):
    results = real_build["run"].run_results()["results"]
    bad = [(r["unique_id"], r["status"]) for r in results if r["status"] not in ("success", "pass")]
    assert not bad, bad
    ids = [r["unique_id"] for r in results]
    unit = [i for i in ids if i.startswith("unit_test.")]
    data = [i for i in ids if i.startswith("test.")]
    built = {i.split(".")[-1] for i in ids if i.startswith("model.")}
    assert set(CORE_MODELS) <= built
    assert len(unit) >= 12, unit
    # a primary-key test on every core and intermediate model
    pk_models = {i.split(".")[2].removeprefix("unique_combination_") for i in data
                 if ".unique_combination_" in i}
    for model in built - {m for m in built if m.startswith("stg_")}:
        assert any(p.startswith(model) for p in pk_models), f"{model} has no primary-key test"


def test_grid_and_missing_inputs_degrade_to_null(real_build):
    f = read_table(real_build["warehouse"], "features_v1", "symbol, open_time")
    for symbol, g in f.groupby("symbol"):
        step = g["open_time"].diff().dropna()
        assert (step == pd.Timedelta(minutes=1)).all(), symbol          # complete grid
    inw = f[f["in_window"]]
    # OHLCV only: taker ratio NULL everywhere; no liquidations in this window
    assert inw["taker_buy_ratio"].isna().all()
    assert inw["liq_long_usd"].isna().all() and inw["liq_short_usd"].isna().all()
    # OI and spot exist for BTC and ETH only
    for symbol in ("BTCUSDT", "ETHUSDT"):
        s = inw[inw["symbol"] == symbol]
        assert s["oi"].notna().mean() > 0.99
        assert s["basis_bps"].notna().mean() > 0.7          # spot starts 2025-05-20
        assert s["basis_bps"].abs().median() < 20
    sol = inw[inw["symbol"] == "SOLUSDT"]
    assert sol["oi"].isna().all() and sol["oi_chg_15m"].isna().all() and sol["basis_bps"].isna().all()
    # warm trailing features in the analysis window (lookback 7 days covers 24h baselines)
    for col in ("rv_5m", "rv_60m", "vol_rel_24h", "zmove_5m", "funding_rate_bps"):
        assert inw[col].notna().all(), col


def test_every_state_has_real_occupancy_on_every_symbol(real_build):
    ctx = read_table(real_build["warehouse"], "market_context", "symbol, open_time")
    inw = ctx[ctx["in_window"]]
    vol = inw.groupby("symbol")["vol_regime"].value_counts(normalize=True).unstack(fill_value=0)
    carry = inw.groupby("symbol")["carry_state"].value_counts(normalize=True).unstack(fill_value=0)
    print("\nvol_regime occupancy (in window):\n", vol.round(3))
    print("carry_state occupancy (in window):\n", carry.round(3))
    for symbol in SYMBOLS:
        for state in ("vol_low", "vol_mid", "vol_high"):
            assert vol.loc[symbol, state] >= 0.15, (symbol, state, vol.loc[symbol, state])
        for state in ("carry_pos", "carry_neutral", "carry_neg"):
            assert carry.loc[symbol, state] >= 0.05, (symbol, state, carry.loc[symbol, state])
        # the lookback warms everything up before start_date (rv_60m needs 1h beyond 7 days)
        assert vol.loc[symbol].get("warmup", 0) < 0.002
        assert carry.loc[symbol].get("warmup", 0) == 0


def test_events_fire_where_their_evidence_exists(real_build):
    ev = read_table(real_build["warehouse"], "event_registry", "event_id")
    inw = ev[ev["in_window"]]
    counts = inw.groupby(["event_type", "symbol"]).size().unstack(fill_value=0)
    print("\nevents in window:\n", counts)
    cascades = counts.loc["LIQUIDATION_CASCADE"]
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert 10 <= cascades.get(symbol, 0) <= 80, cascades
    # SOL has neither open interest nor liquidations: no evidence, no cascades
    assert cascades.get("SOLUSDT", 0) == 0
    assert set(inw.loc[inw["event_type"] == "LIQUIDATION_CASCADE", "evidence"]) == {"open_interest"}
    vacuums = counts.loc["liquidity_vacuum"]
    for symbol in SYMBOLS:
        assert 10 <= vacuums.get(symbol, 0) <= 100, vacuums
    # both directions occur, ids are readable and deterministic
    for _, g in inw.groupby("event_type"):
        assert set(g["direction"]) == {1, -1}
    pattern = re.compile(r"^(LIQUIDATION_CASCADE|liquidity_vacuum):(BTC|ETH|SOL)USDT:\d{8}T\d{4}$")
    assert ev["event_id"].map(lambda s: bool(pattern.match(s))).all()
    stamp = ev["detected_at"].dt.strftime("%Y%m%dT%H%M")
    assert (ev["event_id"] == ev["event_type"] + ":" + ev["symbol"] + ":" + stamp).all()
    # in_window follows detected_at; states are never missing
    start, end = pd.Timestamp(REAL_VARS["start_date"]), pd.Timestamp(REAL_VARS["end_date"])
    assert (ev["in_window"] == ((ev["detected_at"] >= start) & (ev["detected_at"] < end))).all()
    assert ev["vol_regime"].notna().all() and ev["carry_state"].notna().all()


def test_cascade_trigger_values_match_features(real_build):
    """The registry's trigger numbers are the features at the detection bar, and the rule holds."""
    wh = real_build["warehouse"]
    with duckdb.connect(str(wh), read_only=True) as con:
        df = con.execute("""
            select e.trigger_value, e.evidence_value, e.direction, f.zmove_5m, f.oi_chg_15m, f.ret_5m
            from main.event_registry e
            join main.features_v1 f on f.symbol = e.symbol and f.open_time = e.detected_at
            where e.event_type = 'LIQUIDATION_CASCADE'""").df()
    assert len(df) > 0
    assert (df["trigger_value"] == df["zmove_5m"]).all()
    assert (df["evidence_value"] == df["oi_chg_15m"]).all()
    assert (df["zmove_5m"].abs() >= 4).all() and (df["oi_chg_15m"] <= -0.5).all()
    assert (df["direction"] == df["ret_5m"].map(lambda r: 1 if r > 0 else -1)).all()


# --- the generated sample market: planted episodes are found -----------------------------------

SAMPLE = dict(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), start="2025-01-01", end="2025-01-31",
              lookback_days=7, seed=11)
MATCH_MINUTES = 5


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory):
    sample = pytest.importorskip("lifthouse.data.sample")
    base = tmp_path_factory.mktemp("core_sample")
    raw_dir = base / "raw"
    sample.generate(raw_dir, **SAMPLE)
    truth = sample.GroundTruth.read(raw_dir)
    paths = {"warehouse": base / "wh.duckdb", "target_dir": base / "target"}
    run_dbt(["run", "--select", *CORE_SELECT],
            vars={"symbols": list(SAMPLE["symbols"]), "start_date": SAMPLE["start"],
                  "end_date": SAMPLE["end"], "lookback_days": SAMPLE["lookback_days"],
                  "raw_dir": str(raw_dir)}, **paths)
    return {"truth": truth, **paths}


def test_planted_events_are_found(sample_build):
    planted = pd.DataFrame(sample_build["truth"].episodes)
    planted["detected_at"] = pd.to_datetime(planted["detected_at"])
    ev = read_table(sample_build["warehouse"], "event_registry", "event_id")
    found = []
    for _, p in planted.iterrows():
        same = ev[(ev["event_type"] == p["event_type"]) & (ev["symbol"] == p["symbol"])]
        lag = (same["detected_at"] - p["detected_at"]).abs()
        hit = same[lag <= pd.Timedelta(minutes=MATCH_MINUTES)]
        found.append({"event_type": p["event_type"], "symbol": p["symbol"],
                      "found": len(hit) > 0,
                      "same_direction": bool(len(hit)) and bool((hit["direction"] == p["direction"]).any())})
    found = pd.DataFrame(found)
    rate = found.groupby("event_type")[["found", "same_direction"]].mean()
    n_detected = ev.groupby("event_type").size()
    print("\nplanted episodes found within %d minutes:\n" % MATCH_MINUTES, rate.round(3),
          "\ndetected:", n_detected.to_dict(), "planted:", planted.groupby("event_type").size().to_dict())
    for event_type in ("LIQUIDATION_CASCADE", "liquidity_vacuum"):
        assert rate.loc[event_type, "found"] >= 0.8, rate
        assert rate.loc[event_type, "same_direction"] >= 0.8, rate
