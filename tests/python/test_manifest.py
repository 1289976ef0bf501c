"""The run manifest: data fingerprint, versions, per-model timings and row counts."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from lifthouse.data.schema import RawDataError
from lifthouse.run.manifest import (build_manifest, code_version, fingerprint,
                                    fingerprint_in_background, tool_versions, without_timing,
                                    write_manifest)
from lifthouse.data.raw import write_dataset


def klines(start_min: int, n: int, px: float = 100.0) -> pa.Table:
    t = pa.array([(start_min + i) * 60_000_000 for i in range(n)], pa.int64()).cast(pa.timestamp("us"))
    return pa.table({"open_time": t, "open": [px] * n, "high": [px + 1] * n, "low": [px - 1] * n,
                     "close": [px] * n, "volume": [1.0] * n})


@pytest.fixture
def raw_dir(tmp_path):
    d = tmp_path / "raw"
    base = 29_000_000  # minutes since epoch, early 2025
    write_dataset(d, "um_klines_1m", "BTCUSDT", klines(base, 100))
    write_dataset(d, "um_klines_1m", "ETHUSDT", klines(base, 100, 3000.0))
    write_dataset(d, "um_klines_1m", "SOLUSDT", klines(base, 100, 200.0))
    return d


RUN_RESULTS = {
    "metadata": {"dbt_version": "1.11.16"},
    "results": [
        {"unique_id": "model.lifthouse.lift_summary", "status": "success", "execution_time": 1.25},
        {"unique_id": "seed.lifthouse.candidate_horizons", "status": "success",
         "execution_time": 0.1},
        {"unique_id": "test.lifthouse.unique_lift_summary_row_num.abc", "status": "pass",
         "execution_time": 0.05, "failures": 0},
        {"unique_id": "test.lifthouse.not_null_x.def", "status": "fail", "execution_time": 0.02,
         "failures": 3},
    ],
}


def test_fingerprint_changes_when_a_raw_file_changes(raw_dir):
    before = fingerprint(raw_dir, ["BTC", "ETH"])
    assert before["n_files"] == 2
    assert [f["path"] for f in before["files"]] == [
        "um_klines_1m/symbol=BTCUSDT/2025-02.parquet", "um_klines_1m/symbol=ETHUSDT/2025-02.parquet"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in before["files"])
    assert fingerprint(raw_dir, ["BTCUSDT", "ETHUSDT"]) == before  # same files, same print
    # another symbol's file is not an input of this run
    write_dataset(raw_dir, "um_klines_1m", "SOLUSDT", klines(29_000_100, 10, 200.0))
    assert fingerprint(raw_dir, ["BTC", "ETH"])["digest"] == before["digest"]
    # appending bars to BTC changes its file, hence the digest
    write_dataset(raw_dir, "um_klines_1m", "BTCUSDT", klines(29_000_100, 10))
    after = fingerprint(raw_dir, ["BTC", "ETH"])
    assert after["digest"] != before["digest"]
    assert after["files"][0]["sha256"] != before["files"][0]["sha256"]
    assert after["files"][1] == before["files"][1]


def test_fingerprint_counts_new_datasets(raw_dir):
    before = fingerprint(raw_dir, ["BTC"])
    fr = pa.table({"funding_time": pa.array([483_333 * 3_600_000_000], pa.int64()).cast(pa.timestamp("us")),
                   "funding_rate": [0.0001]})
    write_dataset(raw_dir, "um_funding_rate", "BTCUSDT", fr)
    after = fingerprint(raw_dir, ["BTC"])
    assert after["n_files"] == before["n_files"] + 1 and after["digest"] != before["digest"]


def test_background_fingerprint_is_the_fingerprint_when_it_started(raw_dir):
    """The run hashes the raw files as its build starts: the result is fingerprint()'s, and a
    file written after it finished is not in it (the build never read that file)."""
    before = fingerprint(raw_dir, ["BTC", "ETH"])
    result = fingerprint_in_background(raw_dir, ["BTC", "ETH"])
    assert result() == before
    write_dataset(raw_dir, "um_klines_1m", "BTCUSDT", klines(29_000_100, 10))
    assert result() == before   # waited for once; later writes do not change it
    assert fingerprint(raw_dir, ["BTC", "ETH"])["digest"] != before["digest"]


def test_background_fingerprint_raises_its_error_when_asked(raw_dir):
    result = fingerprint_in_background(raw_dir, ["not a symbol"])
    with pytest.raises(RawDataError, match="not a Binance symbol"):
        result()


def test_manifest_takes_a_given_fingerprint(raw_dir, tmp_path):
    given = fingerprint(raw_dir, ["BTC"])
    write_dataset(raw_dir, "um_klines_1m", "BTCUSDT", klines(29_000_100, 10))
    m = build_manifest(run_id="r", vars={}, command=[], data_dir=raw_dir, symbols=["BTC"],
                       repo=tmp_path, run_results=RUN_RESULTS, warehouse=None, outputs={},
                       stage_seconds={}, data_fingerprint=given)
    assert m["data_fingerprint"] == given
    assert m["data_fingerprint"] != fingerprint(raw_dir, ["BTC"])


def test_versions_and_code_version(tmp_path):
    v = tool_versions()
    for k in ("python", "dbt-core", "dbt-duckdb", "duckdb"):
        assert v[k] and v[k] != "not installed"
    assert v["duckdb"] == duckdb.__version__
    assert code_version(tmp_path) == {"commit": "unknown", "describe": "unknown", "dirty": None}


def test_manifest_contents_and_determinism(tmp_path, raw_dir):
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create table lift_summary as select range as row_num from range(7)")
    con.execute("create table candidate_horizons as select 5 as horizon_min")
    con.close()
    out = tmp_path / "out.csv"
    out.write_text("a\n1\n")

    def make(stages):
        return build_manifest(
            run_id="r1", vars={"symbols": ["BTCUSDT"], "run_id": "r1"},
            command=["lifthouse run --run-id r1"], data_dir=raw_dir, symbols=["BTC"],
            repo=tmp_path, run_results=RUN_RESULTS, warehouse=wh,
            outputs={"out.csv": out}, stage_seconds=stages)

    m = make({"preflight": 0.5, "build": 10.0})
    models = {n["name"]: n for n in m["models"]}
    assert models["lift_summary"]["rows"] == 7 and models["candidate_horizons"]["rows"] == 1
    assert models["candidate_horizons"]["resource_type"] == "seed"
    assert m["tests"]["pass"] == 1 and m["tests"]["fail"] == 1
    assert m["tests"]["not_passing"][0]["failures"] == 3
    assert m["timing"]["stages_seconds"] == {"preflight": 0.5, "build": 10.0}
    assert m["timing"]["dbt_nodes_seconds"]["model.lifthouse.lift_summary"] == 1.25
    assert m["versions"]["dbt (run_results)"] == "1.11.16"
    assert m["outputs"]["out.csv"]["bytes"] == 4
    assert m["data_fingerprint"]["n_files"] == 1
    # everything but the timing block is deterministic
    m2 = make({"preflight": 0.7, "build": 12.0})
    assert m2["timing"] != m["timing"]
    assert without_timing(m2) == without_timing(m)
    p = write_manifest(m, tmp_path / "m" / "manifest.json")
    assert json.loads(p.read_text())["run_id"] == "r1"
