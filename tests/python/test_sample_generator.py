"""The sample generator: determinism, the null twin, raw-layer validity, the ground truth, the
CLI and its refusal to overwrite foreign data."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lifthouse.data import raw
from lifthouse.data.schema import DATASETS, RawDataError
from lifthouse.cli import main as cli_main
from lifthouse.data.sample import SAMPLE_DATASETS, GroundTruth, generate
from lifthouse.data.sample.episodes import SPACING_MIN
from lifthouse.data.sample.generator import TRUTH_DIR, TRUTH_FILE

SMALL = dict(symbols=("BTCUSDT", "SOLUSDT"), start="2025-01-01", end="2025-01-09", lookback_days=7)


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def gens(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, kw in {"a": dict(seed=7), "b": dict(seed=7), "c": dict(seed=8),
                     "null": dict(seed=7, null=True)}.items():
        d = tmp_path_factory.mktemp(f"sample_{name}")
        generate(d, **SMALL, **kw)
        out[name] = d
    return out


def test_same_seed_same_bytes(gens):
    a, b = file_hashes(gens["a"]), file_hashes(gens["b"])
    assert len(a) >= 5 * 2 + 1  # every dataset for both symbols, plus the ground truth
    assert a == b


def test_different_seed_differs(gens):
    a, c = file_hashes(gens["a"]), file_hashes(gens["c"])
    assert set(a) == set(c)
    differing = [k for k in a if a[k] != c[k]]
    assert len(differing) == len(a)  # every single file changes with the seed


def test_null_is_the_same_market_until_the_first_episode(gens):
    planted, null = GroundTruth.read(gens["a"]), GroundTruth.read(gens["null"])
    assert null.null and not planted.null
    strip = lambda eps: [{k: v for k, v in e.items() if k != "planted_drift_bps"} for e in eps]
    assert strip(planted.episodes) == strip(null.episodes)  # same episodes, same states
    assert planted.episodes, "the window should hold planted episodes"
    assert all(e["planted_drift_bps"] == 0.0 for e in null.episodes)
    assert any(e["planted_drift_bps"] > 20 for e in planted.episodes)
    for symbol in SMALL["symbols"]:
        f_p = raw.read_dataset(gens["a"], "um_funding_rate", symbol)
        f_n = raw.read_dataset(gens["null"], "um_funding_rate", symbol)
        assert f_p.equals(f_n)
        first = min(pd.Timestamp(e["detected_at"]) for e in planted.episodes if e["symbol"] == symbol)
        for ds, tcol in (("um_klines_1m", "open_time"), ("spot_klines_1m", "open_time"),
                         ("um_liquidations", "time")):
            p = raw.read_dataset(gens["a"], ds, symbol).to_pandas()
            n = raw.read_dataset(gens["null"], ds, symbol).to_pandas()
            cut = first + pd.Timedelta(minutes=1)  # the drift starts at the bar after confirmation
            pd.testing.assert_frame_equal(p[p[tcol] < cut].reset_index(drop=True),
                                          n[n[tcol] < cut].reset_index(drop=True))
        kp = raw.read_dataset(gens["a"], "um_klines_1m", symbol).to_pandas()
        kn = raw.read_dataset(gens["null"], "um_klines_1m", symbol).to_pandas()
        after = kp["open_time"] > first + pd.Timedelta(minutes=30)
        assert (kp.loc[after, "close"].to_numpy() != kn.loc[after, "close"].to_numpy()).mean() > 0.5


def test_raw_layer_round_trip(gens):
    d = gens["a"]
    for ds in SAMPLE_DATASETS:
        for symbol in SMALL["symbols"]:
            files = raw.list_files(d, ds, symbol)
            assert files, f"{ds}/{symbol} missing"
            for f in files:  # stored exactly in the dataset's schema
                assert pq.read_schema(f).equals(DATASETS[ds].schema, check_metadata=False)
            t = raw.read_dataset(d, ds, symbol)
            assert t.schema.equals(DATASETS[ds].schema)
            # re-validating and re-writing the stored rows is accepted and changes nothing
            rep = raw.write_dataset(d, ds, symbol, t)
            assert rep.rows_added == 0 and not rep.files_written


def test_klines_grid_and_columns(gens):
    truth = GroundTruth.read(gens["a"])
    k = raw.read_dataset(gens["a"], "um_klines_1m", "BTCUSDT").to_pandas()
    assert k["open_time"].iloc[0] == pd.Timestamp(truth.bars_start) == pd.Timestamp("2024-12-25")
    assert k["open_time"].iloc[-1] == pd.Timestamp("2025-01-09") - pd.Timedelta(minutes=1)
    assert (k["open_time"].diff().iloc[1:] == pd.Timedelta(minutes=1)).all()  # gapless
    assert k.notna().all().all()  # every optional column is filled
    assert (k["taker_buy_volume"] <= k["volume"]).all()
    assert (k["open"].iloc[1:].to_numpy() == k["close"].iloc[:-1].to_numpy()).all()
    assert 80_000 < k["close"].iloc[0] < 110_000  # BTC near 95k in early 2025
    f = raw.read_dataset(gens["a"], "um_funding_rate", "BTCUSDT").to_pandas()
    assert f["funding_time"].iloc[0] <= pd.Timestamp(truth.bars_start) - pd.Timedelta(days=1)
    assert set(f["funding_time"].dt.hour) == {0, 8, 16}
    assert (f["funding_time"].dt.minute == 0).all()
    oi = raw.read_dataset(gens["a"], "um_open_interest_5m", "BTCUSDT").to_pandas()
    sec = oi["timestamp"].dt.second
    assert set(sec) == {0, 1} and 0.02 < (sec == 1).mean() < 0.2  # Binance's +1 s jitter
    liq = raw.read_dataset(gens["a"], "um_liquidations", "BTCUSDT").to_pandas()
    assert set(liq["side"]) == {"BUY", "SELL"}
    assert liq["contract_usd"].isna().all()
    assert np.allclose(liq["notional_usd"], liq["price"] * liq["quantity"], rtol=1e-6)


def test_ground_truth_contents(gens):
    d = gens["a"]
    doc = json.loads((d / TRUTH_DIR / TRUTH_FILE).read_text())
    assert doc["seed"] == 7 and doc["null"] is False
    assert {h["event_type"] for h in doc["hypotheses"]} == {"LIQUIDATION_CASCADE", "liquidity_vacuum"}
    start, end = pd.Timestamp(SMALL["start"]), pd.Timestamp(SMALL["end"])
    assert doc["episodes"]
    for e in doc["episodes"]:
        t = pd.Timestamp(e["detected_at"])
        assert start <= pd.Timestamp(e["start"]) < t < end
        assert e["direction"] in (1, -1) and e["symbol"] in SMALL["symbols"]
        assert e["carry_state"] in ("carry_pos", "carry_neutral", "carry_neg")
    for s in SMALL["symbols"]:
        eps = sorted(pd.Timestamp(e["detected_at"]) for e in doc["episodes"] if e["symbol"] == s)
        # episodes of one symbol never overlap a 240-minute horizon
        assert all(np.diff(eps) >= pd.Timedelta(minutes=SPACING_MIN) + pd.Timedelta(minutes=3))
    assert SPACING_MIN > 240


def test_refuses_foreign_data_and_force_replaces(tmp_path):
    kw = dict(symbols=("ETHUSDT",), start="2025-01-01", end="2025-01-03", lookback_days=2)
    generate(tmp_path, seed=1, **kw)
    before = file_hashes(tmp_path)
    generate(tmp_path, seed=1, **kw)  # same generation again: same bytes
    assert file_hashes(tmp_path) == before
    with pytest.raises(RawDataError, match="fresh --data-dir"):
        generate(tmp_path, seed=2, **kw)
    assert file_hashes(tmp_path) == before  # nothing touched
    generate(tmp_path, seed=2, force=True, **kw)
    assert GroundTruth.read(tmp_path).seed == 2
    assert file_hashes(tmp_path) != before


def test_rebuilds_its_own_sample_from_an_older_generator(tmp_path):
    """The same generation written by an older generator version is the sample's own data:
    rebuilt (not refused), with the current generator's bytes."""
    kw = dict(symbols=("ETHUSDT",), start="2025-01-01", end="2025-01-03", lookback_days=2)
    generate(tmp_path, seed=1, **kw)
    current = file_hashes(tmp_path)
    truth = tmp_path / TRUTH_DIR / TRUTH_FILE
    doc = json.loads(truth.read_text())
    doc["params"]["generator_version"] = doc["generator_version"] = "0"
    truth.write_text(json.dumps(doc))
    generate(tmp_path, seed=1, **kw)
    assert file_hashes(tmp_path) == current


def test_cli(tmp_path, capsys):
    rc = cli_main(["sample", "--data-dir", str(tmp_path), "--n-symbols", "2", "--start",
                   "2025-01-01", "--end", "2025-01-02", "--lookback-days", "1", "--seed", "3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "rows/s" in out and "um_klines_1m: 5,760 rows" in out
    assert raw.list_symbols(tmp_path, "um_klines_1m") == ["S001USDT", "S002USDT"]
    rc = cli_main(["sample", "--data-dir", str(tmp_path), "--n-symbols", "2", "--start",
                   "2025-01-01", "--end", "2025-01-02", "--lookback-days", "1", "--seed", "4"])
    assert rc == 2
    assert "fresh --data-dir" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# --bar-minutes 5 (issue 33): the 1m market plus its klines aggregated to 5m


TINY = dict(symbols=("ETHUSDT",), start="2025-01-01", end="2025-01-03", lookback_days=2)


def test_bar_minutes_5_adds_the_aggregated_klines_and_keeps_the_1m_market(tmp_path):
    from lifthouse.data.bars import aggregate_klines

    one, five = tmp_path / "one", tmp_path / "five"
    t1 = generate(one, seed=1, **TINY)
    t5 = generate(five, seed=1, bar_minutes=5, **TINY)
    h1, h5 = file_hashes(one), file_hashes(five)
    # the 1m market is the same bytes; only the 5m files and the ground truth are added/differ
    added = ("um_klines_5m/", "spot_klines_5m/")
    assert {k: v for k, v in h5.items() if not k.startswith(added + (TRUTH_DIR,))} == \
        {k: v for k, v in h1.items() if not k.startswith(TRUTH_DIR)}
    assert not any(k.startswith(added) for k in h1)
    assert sum(k.startswith(added) for k in h5) == 4  # 2 datasets x 2 months
    assert "bar_minutes" not in t1.params() and t5.params()["bar_minutes"] == 5
    assert GroundTruth.read(five).bar_minutes == 5 and GroundTruth.read(one).bar_minutes == 1
    assert t5.episodes == t1.episodes  # the planted ground truth stays in 1m times
    for m1, m5 in (("um_klines_1m", "um_klines_5m"), ("spot_klines_1m", "spot_klines_5m")):
        bars_5m = raw.read_dataset(five, m5, "ETHUSDT")
        assert bars_5m.equals(aggregate_klines(raw.read_dataset(five, m1, "ETHUSDT"), 5))
        assert bars_5m.num_rows == t5.rows_written[m5] == 4 * 288  # every slot, complete
        for f in raw.list_files(five, m5, "ETHUSDT"):
            assert raw.file_origins(f) == {raw.GENERATED}


def test_a_generation_at_either_grain_rebuilds_its_own_5m_files(tmp_path):
    generate(tmp_path, seed=1, **TINY)
    generate(tmp_path, seed=1, bar_minutes=5, **TINY)  # the same market at 5m: no --force needed
    assert raw.list_files(tmp_path, "um_klines_5m", "ETHUSDT")
    generate(tmp_path, seed=1, **TINY)  # back to 1m: the 5m files go with the rest
    assert not raw.list_files(tmp_path, "um_klines_5m", "ETHUSDT")
    assert not raw.list_files(tmp_path, "spot_klines_5m", "ETHUSDT")


def test_force_deletes_generated_5m_files_and_never_real_ones(tmp_path):
    generate(tmp_path, seed=1, bar_minutes=5, **TINY)
    with pytest.raises(RawDataError, match="fresh --data-dir"):
        generate(tmp_path, seed=2, **TINY)
    generate(tmp_path, seed=2, force=True, **TINY)
    assert not raw.list_files(tmp_path, "um_klines_5m", "ETHUSDT")  # the old 5m sample is gone
    # real 5m klines in the folder: refused, with or without --force, and left alone
    real = raw.read_dataset(tmp_path, "um_klines_1m", "ETHUSDT").slice(0, 10)
    from lifthouse.data.bars import aggregate_klines
    raw.write_dataset(tmp_path / "real", "um_klines_5m", "ETHUSDT", aggregate_klines(real, 5),
                      origin="import")
    shutil.copytree(tmp_path / "real" / "um_klines_5m", tmp_path / "mixed" / "um_klines_5m")
    before = file_hashes(tmp_path / "mixed")
    for force in (False, True):
        with pytest.raises(RawDataError, match="holds real data for"):
            generate(tmp_path / "mixed", seed=1, bar_minutes=5, force=force, **TINY)
    assert file_hashes(tmp_path / "mixed") == before


def test_cli_bar_minutes_5(tmp_path, capsys):
    rc = cli_main(["sample", "--data-dir", str(tmp_path), "--symbols", "SOL", "--start",
                   "2025-01-01", "--end", "2025-01-02", "--lookback-days", "1",
                   "--bar-minutes", "5"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "um_klines_5m: 576 rows" in out and "spot_klines_5m: 576 rows" in out
    assert "um_klines_1m: 2,880 rows" in out
