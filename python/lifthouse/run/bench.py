"""Benchmarks: speed and memory measured, never asserted (``make bench``).

Each step runs as its own child process, so its wall time includes interpreter and dbt start-up
(what a user waits for) and its peak RSS is the child's own high-water mark:

1. ``sample``     generate the default market (3 symbols x 60 days + lookback): rows/s.
2. ``run_sample`` the full Milestone D run on it (preflight, dbt build, exports, report,
                  manifest); per-stage and slowest-model times come from the run manifest.
3. ``run_real``   the same on the real Binance data in ../shared/data (imported into a temp
                  raw layout first), when that folder exists; skipped with a message otherwise.
4. ``scale``      (``--scale``) the generator at 20 symbols x 365 days, streaming.

Results are printed as a table and written as JSON (``--out``, default data/bench/bench.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lifthouse.run.dbt import REPO_ROOT

REAL_DATA = Path(os.environ.get("LIFTHOUSE_REAL_DATA", REPO_ROOT.parent / "shared" / "data" / "binance"))
REAL_WINDOW = ("2025-05-12", "2025-06-24")  # full 1m days 2025-05-05.. minus the 7-day lookback

_CHILD = r"""
import resource, subprocess, sys, time, json
t = time.perf_counter()
rc = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - t
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": rc, "wall_s": wall, "peak_rss_mb": rss_kb / 1024}))
"""


def measure(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` in a child; return wall seconds, exit code and the peak RSS of its largest
    descendant (ru_maxrss of the waited-for children)."""
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-c", _CHILD, *cmd], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, stderr=fh, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    out = json.loads(lines[-1]) if lines else {"rc": proc.returncode}
    out["log"] = str(log)
    return out


def _lifthouse() -> str:
    exe = Path(sys.executable).parent / "lifthouse"
    return str(exe) if exe.exists() else "lifthouse"


def _manifest_timings(out_dir: Path, run_id: str) -> dict:
    path = out_dir / "data" / "reports" / "runs" / run_id / "manifest.json"
    if not path.exists():
        return {}
    m = json.loads(path.read_text())
    timing = m.get("timing", {})
    nodes = timing.get("dbt_nodes_seconds", {})
    slow = sorted(nodes.items(), key=lambda kv: -kv[1])[:8]
    return {"stages_seconds": timing.get("stages_seconds", {}),
            "slowest_nodes_seconds": dict(slow),
            "dbt_nodes_total_seconds": round(sum(nodes.values()), 3)}


def _count_rows(raw: Path, res: dict) -> dict:
    """Add the rows written under ``raw`` and rows/s to a step's result."""
    rows = 0
    try:
        import duckdb

        rows = duckdb.sql(f"select count(*) from read_parquet('{raw}/*/symbol=*/*.parquet', "
                          "union_by_name=true)").fetchone()[0]
    except Exception:  # noqa: BLE001 - a benchmark reports, it does not fail on counting
        pass
    res.update(rows=rows, rows_per_s=round(rows / res["wall_s"]) if res.get("wall_s") else None)
    return res


def bench_sample(work: Path) -> dict:
    raw = work / "sample_raw"
    return _count_rows(raw, measure([_lifthouse(), "sample", "--data-dir", str(raw)],
                                    work / "sample.log"))


def bench_run(work: Path, name: str, raw: Path, start: str, end: str) -> dict:
    out = work / f"{name}_out"
    res = measure([_lifthouse(), "run", "--run-id", name, "--start-date", start,
                   "--end-date", end, "--data-dir", str(raw), "--out-dir", str(out)],
                  work / f"{name}.log")
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


def bench_scale(work: Path, n_symbols: int = 20, days: int = 365) -> dict:
    raw = work / "scale_raw"
    end = (dt.date(2025, 1, 1) + dt.timedelta(days=days)).isoformat()
    res = measure([_lifthouse(), "sample", "--data-dir", str(raw), "--n-symbols", str(n_symbols),
                   "--start", "2025-01-01", "--end", end], work / "scale.log")
    res["shape"] = f"{n_symbols} symbols x {days} days"
    return _count_rows(raw, res)


def render(results: dict) -> str:
    lines = ["| step | wall s | peak RSS MB | notes |", "|---|---|---|---|"]
    for name, r in results["steps"].items():
        if r.get("skipped"):
            lines.append(f"| {name} | - | - | skipped: {r['skipped']} |")
            continue
        notes = []
        if "rows_per_s" in r and r["rows_per_s"]:
            notes.append(f"{r['rows']:,} rows, {r['rows_per_s']:,} rows/s")
        if "stages_seconds" in r:
            notes.append("stages: " + ", ".join(f"{k} {v:.1f}" for k, v in r["stages_seconds"].items()))
        if "slowest_nodes_seconds" in r:
            notes.append("slowest: " + ", ".join(f"{k.rsplit('.', 1)[-1]} {v:.2f}"
                                                 for k, v in list(r["slowest_nodes_seconds"].items())[:4]))
        if r.get("rc"):
            notes.append(f"EXIT {r['rc']} (see {r['log']})")
        lines.append(f"| {name} | {r.get('wall_s', float('nan')):.1f} | "
                     f"{r.get('peak_rss_mb', float('nan')):.0f} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifthouse.run.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "bench" / "bench.json")
    parser.add_argument("--scale", action="store_true", help="also generate 20 symbols x 365 days")
    parser.add_argument("--keep", action="store_true", help="keep the temp work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lifthouse-bench-"))
    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform()},
                     "work_dir": str(work), "steps": {}}
    steps = results["steps"]
    print(f"benchmark work folder: {work}", file=sys.stderr)
    steps["sample"] = bench_sample(work)
    steps["run_sample"] = bench_run(work, "bench_sample", work / "sample_raw", "2025-01-01", "2025-03-01")
    if (REAL_DATA / "um_klines_1m").is_dir():
        t = time.perf_counter()
        raw = import_real(work)
        steps["import_real"] = {"wall_s": time.perf_counter() - t, "peak_rss_mb": float("nan"), "rc": 0}
        steps["run_real"] = bench_run(work, "bench_real", raw, *REAL_WINDOW)
    else:
        steps["run_real"] = {"skipped": f"real data not found at {REAL_DATA}"}
    if args.scale:
        steps["scale"] = bench_scale(work)
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
