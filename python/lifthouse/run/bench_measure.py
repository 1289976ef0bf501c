"""How the benchmark measures a step (:mod:`lifthouse.run.bench`): a child process's wall time
and the peak RSS summed over its process tree, sampled from /proc every
:data:`SAMPLE_INTERVAL_S`; a run's stage and dbt node times from its manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lifthouse.run.dbt import REPO_ROOT

SAMPLE_INTERVAL_S = 0.2


def _children() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc/<pid>/stat."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Summed RSS of ``root`` and all its descendants (Linux /proc; 0 elsewhere)."""
    if not Path("/proc").is_dir():
        return 0
    tree, pids, i = _children(), [root], 0
    while i < len(pids):
        pids.extend(tree.get(pids[i], []))
        i += 1
    return sum(_rss_bytes(p) for p in pids)


def measure(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` in a child; return its exit code, wall seconds, the peak RSS summed over its
    process tree (sampled) and the load average before and after."""
    load_before = os.getloadavg()
    peak = 0
    t = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        while proc.poll() is None:
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(SAMPLE_INTERVAL_S)
    return {"rc": proc.returncode, "wall_s": round(time.perf_counter() - t, 2),
            "peak_rss_mb": round(peak / 2 ** 20), "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()], "log": str(log)}


def _lifthouse() -> str:
    exe = Path(sys.executable).parent / "lifthouse"
    return str(exe) if exe.exists() else "lifthouse"


def node_timings(nodes: dict[str, float]) -> dict:
    """dbt node id -> seconds, as the benchmark records it: the eight slowest nodes and every
    model's time by model name."""
    return {"slowest_nodes_seconds": dict(sorted(nodes.items(), key=lambda kv: -kv[1])[:8]),
            "model_seconds": {k.rsplit(".", 1)[-1]: v for k, v in sorted(nodes.items())
                              if k.startswith("model.")}}


def _manifest_timings(out_dir: Path, run_id: str) -> dict:
    path = out_dir / "data" / "reports" / "runs" / run_id / "manifest.json"
    if not path.exists():
        return {}
    m = json.loads(path.read_text())
    timing = m.get("timing", {})
    nodes = timing.get("dbt_nodes_seconds", {})
    tests = sum(v for k, v in nodes.items() if k.startswith("test."))
    models = sum(v for k, v in nodes.items() if k.startswith(("model.", "seed.")))
    warehouse = out_dir / "warehouse" / f"{run_id}.duckdb"
    return {"stages_seconds": timing.get("stages_seconds", {}),
            **node_timings(nodes),
            "dbt_models_total_seconds": round(models, 3),
            "dbt_tests_total_seconds": round(tests, 3),
            "test_share": round(tests / (tests + models), 3) if tests + models else None,
            "dbt_nodes_total_seconds": round(sum(nodes.values()), 3),
            "warehouse_mb": round(warehouse.stat().st_size / 2 ** 20) if warehouse.exists() else None}


