"""Benchmarks: speed and memory measured, never asserted (``make bench``).

Each step runs as its own child process, so its wall time includes interpreter and dbt start-up
(what a user waits for) and its peak RSS is the child's own high-water mark:

1. ``sample``     generate the default market (3 symbols x 60 days + lookback): rows/s.
2. ``run_sample`` the full Milestone D run on it (preflight, dbt build, exports, report,
                  manifest); per-stage and slowest-model times come from the run manifest.
3. ``run_real``   the same on the real Binance data in ../shared/data (imported into a temp
                  raw layout first), when that folder exists; skipped with a message otherwise.
   ``run_real_long_5m`` the long real answer at 5-minute bars (reports/milestone_d_long: 3 symbols,
                  2025-01-08 .. 2026-02-19, ``--bar-minutes 5``) on ../shared/data's long_5m/ and
                  open interest, when long_5m/ exists.
4. ``scale_20x365`` (``--scale``) the full run at 20 symbols x 365 days of the sample market.
5. ``lift_grid_20x365`` (``--scale``) the candidate lift with a grid of >= 10,000 candidates:
                  a copy of the 20 x 365 warehouse whose ``candidate_horizons`` seed table holds
                  the eight horizons of ``LIFT_GRID_HORIZONS`` (10,752 candidates at 20 symbols)
                  is rebuilt from ``candidate_plan`` on (``dbt build --select candidate_plan+``).
   ``reuse_20x365`` (``--scale``) reuse of the data layer (docs/running.md): into one out dir,
                  a cold run over the market less its last day (``--fresh``: builds and
                  publishes the layer), a second run with a new run id and
                  ``--var cascade_zmove_min=3.5`` (reuses the layer), then the window extended
                  by the last day (extends the layer); walls as shares of the cold one, and
                  the extended run's exports compared byte for byte with ``scale_20x365``'s (a
                  cold build of the same data and vars). ``reuse_sample`` does the same at demo
                  size against ``run_sample``.
6. ``scale_40x365`` (``--spill``) the same at 40 symbols, a run larger than DuckDB's memory
                  limit: it must complete by spilling to the temp directory.

The scale markets are generated once into a cache folder outside the repository
(``--cache``, default ``$LIFTHOUSE_BENCH_CACHE`` or ``~/.cache/lifthouse-bench``) and reused.
Peak memory is the largest sum of RSS over the whole process tree (the CLI, dbt and any child),
sampled from /proc every 0.2 s; the load average is recorded beside every figure (the machine
may be shared). Per-model times come from the run manifest. Results are printed as a table and
written as JSON (``--out``, default data/bench/bench.json); docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from lifthouse.defaults import LOOKBACK_DAYS
from lifthouse.run.bench_layer import bench_reuse
from lifthouse.run.bench_measure import (SAMPLE_INTERVAL_S, _lifthouse, _manifest_timings,  # noqa: F401
                                         measure, node_timings, tree_rss_bytes)
from lifthouse.run.dbt import REPO_ROOT

REAL_DATA = Path(os.environ.get("LIFTHOUSE_REAL_DATA", REPO_ROOT.parent / "shared" / "data" / "binance"))
REAL_WINDOW = ("2025-05-12", "2025-06-24")  # full 1m days 2025-05-05.. minus the 7-day lookback
# the long real answer at 5-minute bars (reports/milestone_d_long): long_5m/ has 2024-12-31 ..
# 2026-02-19, minus the 7-day lookback
LONG_WINDOW = ("2025-01-08", "2026-02-19")
# dataset -> its folder under REAL_DATA for the long run
LONG_DATASETS = {"um_klines_5m": "long_5m/um_klines_5m", "spot_klines_5m": "long_5m/spot_klines_5m",
                 "um_funding_rate": "long_5m/um_funding_rate",
                 "um_open_interest_5m": "um_open_interest_5m"}

SCALE_START = "2025-01-01"
# the larger grid of the lift_grid step: twice the four horizons of seeds/candidate_horizons.csv
# (every one <= phase2_embargo_minutes, so the split's embargo still covers the longest trade)
LIFT_GRID_HORIZONS = (5, 10, 15, 30, 60, 120, 180, 240)
def _count_rows(raw: Path, res: dict) -> dict:
    """Add the rows written under ``raw`` and rows/s to a step's result."""
    rows = 0
    try:
        import duckdb

        from lifthouse.data.raw import MONTH_FILE_GLOB, glob_escape, sql_string

        files = sql_string(f"{glob_escape(raw)}/*/symbol=*/{MONTH_FILE_GLOB}")
        rows = duckdb.sql(f"select count(*) from read_parquet({files}, "
                          "union_by_name=true)").fetchone()[0]
    except Exception:  # noqa: BLE001 - a benchmark reports, it does not fail on counting
        pass
    res.update(rows=rows, rows_per_s=round(rows / res["wall_s"]) if res.get("wall_s") else None)
    return res


def bench_sample(work: Path) -> dict:
    raw = work / "sample_raw"
    return _count_rows(raw, measure([_lifthouse(), "sample", "--data-dir", str(raw)],
                                    work / "sample.log"))


def bench_run(work: Path, name: str, raw: Path, start: str, end: str,
              symbols: list[str] | None = None, env: dict[str, str] | None = None,
              bar_minutes: int = 1) -> dict:
    out = work / f"{name}_out"
    cmd = [_lifthouse(), "run", "--run-id", name, "--start-date", start, "--end-date", end,
           "--data-dir", str(raw), "--out-dir", str(out), "--bar-minutes", str(bar_minutes)]
    if symbols:
        cmd += ["--symbols", ",".join(symbols)]
    res = measure(cmd, work / f"{name}.log", env=env)
    res.update(_manifest_timings(out, name))
    res["window"] = f"{start} .. {end}"
    return res


def import_real(work: Path) -> Path:
    from lifthouse.data.importer import import_files

    raw = work / "real_raw"
    for dataset in ("um_klines_1m", "um_funding_rate", "um_open_interest_5m", "spot_klines_1m"):
        files = sorted((REAL_DATA / dataset).glob("*.parquet"))
        import_files(files, dataset, data_dir=raw, log=lambda *_: None)
    return raw


def import_real_long(work: Path) -> Path:
    """The real 5m data of the long answer (LONG_DATASETS) into a raw layout."""
    from lifthouse.data.importer import import_files

    raw = work / "real_long_raw"
    for dataset, folder in LONG_DATASETS.items():
        files = sorted((REAL_DATA / folder).glob("*.parquet"))
        import_files(files, dataset, data_dir=raw, log=lambda *_: None)
    return raw


def scale_symbols(n_symbols: int) -> list[str]:
    """The generator's names for ``--n-symbols N`` (S001USDT, ...)."""
    from lifthouse.data.sample.params import synthetic_symbols

    return list(synthetic_symbols(n_symbols))


def scale_end(days: int) -> str:
    """The exclusive end date of a scale market of ``days`` days from SCALE_START."""
    return (dt.date.fromisoformat(SCALE_START) + dt.timedelta(days=days)).isoformat()


def cached_scale_market(cache: Path, n_symbols: int, days: int, log_dir: Path) -> tuple[Path, dict]:
    """The sample market of ``n_symbols`` x ``days`` under ``cache``: generated on first use
    (timed), reused afterwards (its ground truth records the same symbols and window)."""
    raw = cache / f"raw_{n_symbols}x{days}"
    end = scale_end(days)
    truth = raw / "_sample" / "ground_truth.json"
    if truth.exists():
        params = json.loads(truth.read_text()).get("params") or {}
        if (params.get("symbols") == scale_symbols(n_symbols)
                and str(params.get("end", "")).startswith(end)):
            return raw, {"cached": str(raw)}
    cache.mkdir(parents=True, exist_ok=True)
    res = measure([_lifthouse(), "sample", "--data-dir", str(raw), "--n-symbols", str(n_symbols),
                   "--start", SCALE_START, "--end", end], log_dir / f"sample_{n_symbols}x{days}.log")
    return raw, _count_rows(raw, res)


def bench_scale(work: Path, cache: Path, n_symbols: int, days: int = 365,
                env: dict[str, str] | None = None) -> dict:
    raw, generated = cached_scale_market(cache, n_symbols, days, work)
    end = scale_end(days)
    res = bench_run(work, f"scale_{n_symbols}x{days}", raw, SCALE_START, end,
                    symbols=scale_symbols(n_symbols), env=env)
    res.update(shape=f"{n_symbols} symbols x {days} days", market=generated, env=env or {},
               raw_dir=str(raw))
    return res


def bench_lift_grid(work: Path, scale_step: dict, n_symbols: int = 20, days: int = 365) -> dict:
    """The candidate lift with a larger grid from the seeds, on a copy of a scale run's warehouse
    (``LIFT_GRID_HORIZONS`` in its ``candidate_horizons`` table): every model from
    ``candidate_plan`` on is rebuilt and tested; per-model times from dbt's run_results."""
    import shutil

    import duckdb

    from lifthouse.run.dbt import dbt_env, dbt_executable

    name = f"scale_{n_symbols}x{days}"
    source = work / f"{name}_out" / "warehouse" / f"{name}.duckdb"
    if scale_step.get("rc") or not source.exists():
        return {"skipped": f"needs the {name} step's warehouse ({source})"}
    # same file name in its own folder: the views inside name their catalog after the file
    warehouse = work / f"lift_grid_{n_symbols}x{days}" / source.name
    warehouse.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create or replace table candidate_horizons as select unnest(?::integer[]) "
                    "as horizon_min", [list(LIFT_GRID_HORIZONS)])
    end = scale_end(days)
    target = work / f"lift_grid_{n_symbols}x{days}_target"
    vars_ = {"run_id": f"lift_grid_{n_symbols}x{days}", "start_date": SCALE_START, "end_date": end,
             "symbols": scale_symbols(n_symbols), "lookback_days": LOOKBACK_DAYS,
             "raw_dir": scale_step.get("raw_dir", "")}
    cmd = [dbt_executable(), "build", "--select", "candidate_plan+", "--exclude-resource-type",
           "unit_test", "--vars", json.dumps(vars_, sort_keys=True)]
    res = measure(cmd, work / f"lift_grid_{n_symbols}x{days}.log", env=dbt_env(warehouse, target))
    results = json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {}
    nodes = {r["unique_id"]: round(r["execution_time"], 3) for r in results.get("results", [])}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        n_candidates = con.execute("select count(*) from candidate_plan").fetchone()[0]
        n_conditioned = con.execute("select count(*) from candidate_plan where is_conditioned").fetchone()[0]
    res.update(shape=f"{n_symbols} symbols x {days} days, horizons {list(LIFT_GRID_HORIZONS)}",
               n_candidates=n_candidates, n_conditioned=n_conditioned, **node_timings(nodes),
               warehouse_mb=round(warehouse.stat().st_size / 2 ** 20))
    warehouse.unlink(missing_ok=True)
    return res


def render(results: dict) -> str:
    lines = ["| step | wall s | peak RSS MB | notes |", "|---|---|---|---|"]
    for name, r in results["steps"].items():
        if r.get("skipped"):
            lines.append(f"| {name} | - | - | skipped: {r['skipped']} |")
            continue
        notes = []
        if r.get("n_candidates"):
            notes.append(f"{r['n_candidates']:,} candidates ({r['n_conditioned']:,} conditioned)")
        if "rows_per_s" in r and r["rows_per_s"]:
            notes.append(f"{r['rows']:,} rows, {r['rows_per_s']:,} rows/s")
        if r.get("test_share") is not None:
            notes.append(f"data tests {r['dbt_tests_total_seconds']:.0f} s of "
                         f"{r['dbt_nodes_total_seconds']:.0f} s node time ({100 * r['test_share']:.0f}%)")
        if r.get("warehouse_mb"):
            notes.append(f"warehouse {r['warehouse_mb']:,} MB")
        if r.get("load_before"):
            notes.append(f"load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")
        if "stages_seconds" in r:
            notes.append("stages: " + ", ".join(f"{k} {v:.1f}" for k, v in r["stages_seconds"].items()))
        if "slowest_nodes_seconds" in r:
            notes.append("slowest: " + ", ".join(f"{k.rsplit('.', 1)[-1]} {v:.2f}"
                                                 for k, v in list(r["slowest_nodes_seconds"].items())[:4]))
        if "reuse_share_of_cold" in r:
            notes.append(
                f"cold {r['cold'].get('wall_s', float('nan')):.1f} s / "
                f"{r['cold'].get('peak_rss_mb', 0):,} MB, reuse (new run id, cascade_zmove_min 3.5) "
                f"{r['reuse'].get('wall_s', float('nan')):.1f} s / {r['reuse'].get('peak_rss_mb', 0):,} MB "
                f"= {100 * r['reuse_share_of_cold']:.0f}% of cold, one more day "
                f"{r['append'].get('wall_s', float('nan')):.1f} s / {r['append'].get('peak_rss_mb', 0):,} MB "
                f"= {100 * r['append_share_of_cold']:.0f}% of cold")
            if "append_vs_cold" in r:
                notes.append("appended exports byte-identical to a cold build: "
                             f"{r['append_vs_cold']['byte_identical']}")
        if r.get("rc"):
            notes.append(f"EXIT {r['rc']} (see {r.get('log', 'the step logs')})")
        lines.append(f"| {name} | {r.get('wall_s', float('nan')):.1f} | "
                     f"{r.get('peak_rss_mb', float('nan')):.0f} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifthouse.run.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "bench" / "bench.json")
    parser.add_argument("--scale", action="store_true",
                        help="also run 20 symbols x 365 days (market generated once, cached)")
    parser.add_argument("--spill", action="store_true",
                        help="also run 40 symbols x 365 days, larger than DuckDB's memory limit")
    parser.add_argument("--only-scale", action="store_true",
                        help="skip the demo-size and real-data steps")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "LIFTHOUSE_BENCH_CACHE", Path.home() / ".cache" / "lifthouse-bench")),
        help="where the scale markets are generated once and kept (outside the repository)")
    parser.add_argument("--keep", action="store_true", help="keep the temp work folder")
    args = parser.parse_args(argv)
    from lifthouse.run.resources import exit_on_bad_environment, resolve, total_memory_bytes

    exit_on_bad_environment(parser.prog, Path(tempfile.gettempdir()) / "x.duckdb")
    work = Path(tempfile.mkdtemp(prefix="lifthouse-bench-"))

    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform(),
                                 "memory_gb": round((total_memory_bytes() or 0) / 2 ** 30, 1),
                                 "duckdb": resolve(work / "x.duckdb").describe()},
                     "work_dir": str(work), "steps": {}}
    steps = results["steps"]
    print(f"benchmark work folder: {work}", file=sys.stderr)
    if not args.only_scale:
        steps["sample"] = bench_sample(work)
        steps["run_sample"] = bench_run(work, "bench_sample", work / "sample_raw", "2025-01-01",
                                        "2025-03-01")
        steps["reuse_sample"] = bench_reuse(
            work, "reuse_sample", work / "sample_raw", "2025-01-01", "2025-03-01", None,
            (work / "bench_sample_out", "bench_sample"))
        if (REAL_DATA / "um_klines_1m").is_dir():
            t = time.perf_counter()
            raw = import_real(work)
            steps["import_real"] = {"wall_s": time.perf_counter() - t,
                                    "peak_rss_mb": float("nan"), "rc": 0}
            steps["run_real"] = bench_run(work, "bench_real", raw, *REAL_WINDOW)
        else:
            steps["run_real"] = {"skipped": f"real data not found at {REAL_DATA}"}
        if (REAL_DATA / "long_5m" / "um_klines_5m").is_dir():
            t = time.perf_counter()
            raw = import_real_long(work)
            steps["import_real_long_5m"] = {"wall_s": time.perf_counter() - t,
                                            "peak_rss_mb": float("nan"), "rc": 0}
            steps["run_real_long_5m"] = bench_run(work, "bench_real_long", raw, *LONG_WINDOW,
                                                  bar_minutes=5)
        else:
            steps["run_real_long_5m"] = {"skipped": f"no long_5m/ under {REAL_DATA}"}
    if args.scale:
        steps["scale_20x365"] = bench_scale(work, args.cache, 20)
        steps["lift_grid_20x365"] = bench_lift_grid(work, steps["scale_20x365"])
        steps["reuse_20x365"] = bench_reuse(
            work, "reuse_20x365", Path(steps["scale_20x365"]["raw_dir"]), SCALE_START,
            scale_end(365), scale_symbols(20), (work / "scale_20x365_out", "scale_20x365"))
    if args.spill:
        steps["scale_40x365"] = bench_scale(work, args.cache, 40)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(render(results))
    print(f"\nwritten: {args.out}", file=sys.stderr)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(not s.get("rc") for s in steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
