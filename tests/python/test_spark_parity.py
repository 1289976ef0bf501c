"""Spark parity (docs/spark.md): the same dbt project built on Apache Spark (dbt-spark, session
method) and on DuckDB agrees row for row on the public tables: keys, states and statuses
exactly, numbers within 1e-9 relative. Legs: 3 real symbols x 10 days on local[2] (skipped
when ../shared/data is absent), the generated sample on a standalone cluster on 127.0.0.1
(a master and two workers started here and stopped after), and the truncation rule (SPEC 2) on
Spark. Run by `make test-spark` (needs `make setup-spark`); not part of `make test`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="Spark is not installed: run `make setup-spark`")
pytest.importorskip("dbt.adapters.spark", reason="dbt-spark is not installed: run `make setup-spark`")

from lifthouse.run.dbt import run_dbt  # noqa: E402
from lifthouse.run.spark import publish, spark_env  # noqa: E402

from test_core_models import import_real_data  # noqa: E402
# test_truncation's raw data with its edges (fixtures used by test_truncation_on_spark)
from test_truncation import full_raw, source  # noqa: E402,F401

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
REAL_VARS = {"symbols": SYMBOLS, "start_date": "2025-06-01", "end_date": "2025-06-11",
             "lookback_days": 7}
# the cluster leg runs at 5-minute bars (var bar_minutes; the other legs at 1m), over 7 days and
# 2 lookback days of the sample. Spark's sliding 24 h frames cost rows x frame, so the leg's time
# scales with its bars: at 5m a day is 288 bars (a 24 h frame 288 rows) instead of 1440; the
# short lookback also puts the trailing windows' warm-up (NULL states) on Spark
SAMPLE_VARS = {"symbols": SYMBOLS, "start_date": "2025-01-08", "end_date": "2025-01-15",
               "lookback_days": 2, "bar_minutes": 5}
# table -> key columns (a total order of its rows)
TABLES = {
    "features_v1": ["symbol", "open_time"],
    "market_context": ["symbol", "open_time"],
    "event_registry": ["event_id"],
    "candidate_plan": ["candidate_id"],
    "phase2_trades": ["candidate_id", "event_id"],
    "phase2_candidate_results": ["candidate_id"],
    "phase2_candidate_daily": ["candidate_id", "block", "day"],
    "phase2_grid_tests": ["scope"],
    "lift_summary": ["row_num"],
}
SELECT = ["+lift_summary", "+phase2_candidate_results", "+phase2_grid_tests"]
RTOL = 1e-9


def build(engine: str, raw_dir: Path, vars_: dict, base: Path, master: str | None = None,
          data_tests: bool = True) -> Path:
    """Build the public tables on one engine (seeds and models, and their data tests unless
    ``data_tests`` is false); returns a DuckDB file holding them."""
    warehouse = base / f"{engine}.duckdb"
    args = ["build", "--select", *SELECT, "--exclude-resource-type", "unit_test"]
    if not data_tests:   # seeds and models only
        args += ["--exclude-resource-type", "test"]
    env = {}
    if engine == "spark":
        args += ["--target", "spark"]
        env = spark_env(base / "spark", master)
    run_dbt(args, warehouse=warehouse, target_dir=base / f"target_{engine}",
            vars={**vars_, "raw_dir": str(raw_dir)}, extra_env=env)
    if engine == "spark":
        publish(base / "spark", warehouse)
    return warehouse


def read(warehouse: Path, table: str) -> pd.DataFrame:
    keys = TABLES[table]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {table} order by {', '.join(keys)}").df()


def assert_same(table: str, duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    keys = TABLES[table]
    assert list(spark.columns) == list(duck.columns), table
    assert len(spark) == len(duck), f"{table}: {len(spark)} Spark rows vs {len(duck)} DuckDB rows"
    assert not spark.duplicated(keys).any(), f"{table}: duplicate keys on Spark"
    for col in duck.columns:
        d, s = duck[col], spark[col]
        if pd.api.types.is_float_dtype(d) or pd.api.types.is_float_dtype(s):
            dv, sv = d.astype("float64").to_numpy(), s.astype("float64").to_numpy()
            same_nan = np.isnan(dv) == np.isnan(sv)
            assert same_nan.all(), f"{table}.{col}: NULL differs at rows {np.where(~same_nan)[0][:5]}"
            ok = np.isnan(dv) | (dv == sv) | (np.abs(dv - sv) <= RTOL * np.abs(dv))
            assert ok.all(), (f"{table}.{col}: {int((~ok).sum())} values differ beyond {RTOL} "
                              f"relative, e.g. {dv[~ok][:3]} vs {sv[~ok][:3]}")
        else:
            dd = d.astype(object).where(d.notna(), None).tolist()
            ss = s.astype(object).where(s.notna(), None).tolist()
            if pd.api.types.is_datetime64_any_dtype(d):
                ss = [None if x is None else pd.Timestamp(x) for x in ss]
                dd = [None if x is None else pd.Timestamp(x) for x in dd]
            elif pd.api.types.is_integer_dtype(d) or pd.api.types.is_bool_dtype(d):
                ss = [None if x is None else int(x) for x in ss]
                dd = [None if x is None else int(x) for x in dd]
            else:
                ss = [None if x is None else str(x) for x in ss]
                dd = [None if x is None else str(x) for x in dd]
            bad = [i for i, (a, b) in enumerate(zip(dd, ss)) if a != b]
            assert not bad, f"{table}.{col}: {len(bad)} rows differ, first {dd[bad[0]]!r} vs {ss[bad[0]]!r}"


def assert_parity(duck_wh: Path, spark_wh: Path) -> dict[str, int]:
    rows = {}
    for table in TABLES:
        duck, spark = read(duck_wh, table), read(spark_wh, table)
        assert_same(table, duck, spark)
        rows[table] = len(duck)
    return rows


# --------------------------------------------------------------------------------------------
# a standalone cluster on the loopback interface


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def loopback_cluster(tmp_path: Path):
    """A Spark standalone master and two workers (1 core, 1 GB each) bound to 127.0.0.1."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    # the worker launches each executor through Spark's launcher, which needs the Scala version
    # that bin/load-spark-env.sh would set (we start the JVMs directly): read it off spark-core
    scala = next((home / "jars").glob("spark-core_*.jar")).name.split("_")[1].split("-")[0]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_SCALA_VERSION": scala,
           "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(tmp_path / "logs"), "SPARK_PID_DIR": str(tmp_path / "pids"),
           "PYSPARK_PYTHON": sys.executable, "SPARK_NO_DAEMONIZE": "1"}
    java = ["java", "-cp", f"{home}/jars/*", "-Xmx256m"]
    logs = tmp_path / "logs"
    logs.mkdir()

    def log(name: str):
        return open(logs / f"{name}.log", "wb")

    procs = [subprocess.Popen(java + ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                      "--port", str(port), "--webui-port", str(_free_port())],
                              env=env, stdout=log("master"), stderr=subprocess.STDOUT)]
    url = f"spark://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    for i in range(2):
        procs.append(subprocess.Popen(
            java + ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                    "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
                    "--work-dir", str(tmp_path / f"work{i}")],
            env=env, stdout=log(f"worker{i}"), stderr=subprocess.STDOUT))
    time.sleep(5)
    try:
        yield url
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


# --------------------------------------------------------------------------------------------


def lifthouse_run(engine: str, raw_dir: Path, vars_: dict, out: Path) -> Path:
    """`lifthouse run` end to end (preflight, build, export, report, manifest) on one engine;
    returns its output folder."""
    exe = Path(sys.executable).parent / "lifthouse"
    cmd = [str(exe), "run", "--run-id", "parity", "--start-date", vars_["start_date"],
           "--end-date", vars_["end_date"], "--symbols", ",".join(vars_["symbols"]),
           "--lookback-days", str(vars_["lookback_days"]), "--data-dir", str(raw_dir),
           "--out-dir", str(out), "--engine", engine]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"lifthouse run --engine {engine} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out


def exported(out: Path) -> dict[str, list[str]]:
    """Every exported CSV of the run (path relative to the output folder) -> its header."""
    return {p.relative_to(out).as_posix(): p.open().readline().rstrip("\n").split(",")
            for root in (out / "data" / "reports", out / "reports") for p in sorted(root.rglob("*.csv"))}


@pytest.mark.realdata
def test_real_data_parity_local(real_data_dir: Path, tmp_path: Path):
    """3 real symbols x 10 days through `lifthouse run` on each engine (Spark on local[2], with
    every data test): the seven public tables agree row for row, and the run's outputs have the
    same form (the same export files with the same columns, a report, a complete manifest whose
    command names the engine)."""
    import json

    raw_dir = import_real_data(real_data_dir, tmp_path / "raw", symbols=SYMBOLS)
    duck_out = lifthouse_run("duckdb", raw_dir, REAL_VARS, tmp_path / "duckdb")
    spark_out = lifthouse_run("spark", raw_dir, REAL_VARS, tmp_path / "spark")
    rows = assert_parity(duck_out / "warehouse" / "parity.duckdb",
                         spark_out / "warehouse" / "parity.duckdb")
    assert rows["features_v1"] > 3 * 10 * 1440 and rows["event_registry"] > 0, rows
    assert rows["phase2_trades"] > 0, rows
    duck_files, spark_files = exported(duck_out), exported(spark_out)
    assert duck_files and spark_files == duck_files
    for out, engine in ((duck_out, "duckdb"), (spark_out, "spark")):
        assert (out / "reports" / "parity" / "executive_summary.md").stat().st_size > 0
        manifest = json.loads((out / "data" / "reports" / "runs" / "parity" / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["engine"] == engine, engine
        assert ("pyspark" in manifest["versions"]) == (engine == "spark"), manifest["versions"]
        summary = (out / "reports" / "parity" / "executive_summary.md").read_text()
        assert ("--engine spark" in summary) == (engine == "spark"), "reproduce command"


def test_sample_parity_on_loopback_cluster(tmp_path: Path, loopback_cluster: str):
    """The sample at 5-minute bars on the standalone cluster: seeds and models, no data tests.
    The ~80 data tests cost about 1 s each on Spark; they run on Spark in the local leg, and the
    rows here are checked against a DuckDB build that runs them too."""
    from lifthouse.data.sample.generator import generate

    raw_dir = tmp_path / "raw"
    generate(raw_dir, symbols=SYMBOLS, start=SAMPLE_VARS["start_date"],
             end=SAMPLE_VARS["end_date"], lookback_days=SAMPLE_VARS["lookback_days"],
             bar_minutes=SAMPLE_VARS["bar_minutes"])
    duck = build("duckdb", raw_dir, SAMPLE_VARS, tmp_path)
    spark = build("spark", raw_dir, SAMPLE_VARS, tmp_path, master=loopback_cluster,
                  data_tests=False)
    rows = assert_parity(duck, spark)
    assert rows["event_registry"] > 0 and rows["phase2_trades"] > 0, rows
    with duckdb.connect(str(spark), read_only=True) as con:   # the leg really ran at 5m
        steps = con.execute("select distinct close_time - open_time from features_v1").fetchall()
    assert steps == [(pd.Timedelta(minutes=5).to_pytimedelta(),)], steps


# test_truncation's edges all lie in the last 6 hours before T; on Spark, whose sliding frames
# cost rows x frame, the leg builds 2025-06-06 .. LONG_END (4 days before T's day plus 2 of
# lookback) instead of test_truncation's 20 days: same rule, same edges, ~60% fewer bars
TRUNCATION_START = "2025-06-08"
TRUNCATION_LOOKBACK_DAYS = 2


def test_truncation_on_spark(full_raw: Path, tmp_path: Path):
    """SPEC 2 on Spark, with test_truncation's edges (missing bars, late OI stamps): a Spark build
    on the raw data known at the close of bar T and a Spark build on data running further give
    identical rows <= T (test_truncation's rule and comparison; real data, else the sample)."""
    from test_core_models import CORE_SELECT
    from test_truncation import LONG_END, SYMBOLS as TRUNC_SYMBOLS, T
    from test_truncation import assert_identical, known_at_close_of, rewrite

    def core_build(raw_dir: Path, base: Path) -> Path:
        warehouse = base / "spark.duckdb"
        run_dbt(["run", "--select", *CORE_SELECT, "--target", "spark"],
                vars={"symbols": TRUNC_SYMBOLS, "start_date": TRUNCATION_START,
                      "end_date": LONG_END, "lookback_days": TRUNCATION_LOOKBACK_DAYS,
                      "raw_dir": str(raw_dir)},
                warehouse=warehouse, target_dir=base / "target", extra_env=spark_env(base / "spark"))
        publish(base / "spark", warehouse)
        return warehouse

    keep = known_at_close_of(T)
    cut = rewrite(full_raw, tmp_path / "cut_raw", lambda symbol: keep)
    long = core_build(full_raw, tmp_path / "long")
    short = core_build(cut, tmp_path / "short")
    sizes = assert_identical(short, long, T)
    assert sizes["features_v1"] > 0 and sizes["event_registry"] > 0, sizes
