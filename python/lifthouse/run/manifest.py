"""The run manifest: what went in (vars, raw files and their hashes, code and tool versions) and
what came out (per-model row counts, exported files and their hashes), plus timings.

Everything except the ``timing`` block is deterministic: the same inputs, code and vars give the
same manifest. Timings and the creation timestamp live only under ``timing``.

``status`` says whether the outputs beside the manifest are a finished run: a run writes a short
manifest with ``running`` before it starts, and at its end the full one (``complete``) or a
short one again (``failed`` / ``interrupted``, with the stage and the error). Only a
``complete`` manifest describes exports and a report.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import threading
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

from lifthouse.run.export import sha256_file
from lifthouse.run.warehouse import connect, is_lock_error, lock_message, WarehouseLockedError
from lifthouse.data.raw import list_files
from lifthouse.data.schema import DATASETS
from lifthouse.data.symbols import normalize_symbol

MANIFEST_VERSION = 1
STATUSES = ("running", "complete", "failed", "interrupted")
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "pyarrow", "numpy", "scipy", "matplotlib")
SPARK_PACKAGES = ("pyspark", "dbt-spark")   # recorded too for a run with --engine spark


def fingerprint(data_dir: str | os.PathLike, symbols: Iterable[str],
                datasets: Iterable[str] | None = None) -> dict[str, Any]:
    """Every raw file of the run's symbols and datasets, with size and sha256, plus one digest
    over the list. Paths are relative to ``data_dir`` so moving the folder keeps the digest."""
    root = Path(data_dir)
    files = []
    for dataset in sorted(datasets or DATASETS):
        for symbol in sorted({normalize_symbol(s) for s in symbols}):
            for path in list_files(root, dataset, symbol):
                files.append({
                    "path": path.relative_to(root).as_posix(),
                    "size": path.stat().st_size,
                    "sha256": sha256_file(path),
                })
    files.sort(key=lambda f: f["path"])
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f['path']}\t{f['size']}\t{f['sha256']}\n".encode())
    return {"raw_dir": str(root.resolve()), "n_files": len(files),
            "total_bytes": sum(f["size"] for f in files), "digest": h.hexdigest(), "files": files}


def fingerprint_in_background(data_dir: str | os.PathLike, symbols: Iterable[str]
                              ) -> Callable[[], dict[str, Any]]:
    """Start ``fingerprint`` in a thread; returns the function that waits for it (and raises
    its error). The run starts it as its build starts, so the hashes describe the raw layer as
    the build began (not files an ingest adds while it runs) and the 2-5 s of hashing at
    20 x 365 overlap the build instead of following it. A daemon thread: a failed build does not wait for it."""
    symbols = list(symbols)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fingerprint(data_dir, symbols)
        except BaseException as exc:  # handed to the caller by result()
            box["error"] = exc

    thread = threading.Thread(target=work, name="lifthouse-fingerprint", daemon=True)
    thread.start()

    def result() -> dict[str, Any]:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def _git(repo: Path, *args: str) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index
    try:
        out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version(repo: str | os.PathLike) -> dict[str, Any]:
    """Commit, ``git describe`` and a dirty flag (tracked files changed); 'unknown' outside git."""
    repo = Path(repo)
    commit = _git(repo, "rev-parse", "HEAD")
    if not commit:
        return {"commit": "unknown", "describe": "unknown", "dirty": None}
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "describe": _git(repo, "describe", "--always", "--tags", "--dirty") or commit[:12],
        "dirty": bool(status) if status is not None else None,
    }


def tool_versions(engine: str = "duckdb") -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES + (SPARK_PACKAGES if engine == "spark" else ()):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def model_stats(run_results: dict, warehouse: Path | None, reused: dict[str, str] | None = None
                ) -> tuple[list[dict], dict[str, float], dict[str, Any]]:
    """From dbt's run_results.json: per-model/seed status and row count (count(*) in the
    warehouse), per-node timings, and a summary of the data tests. ``reused``: the models of a
    stored data layer (lifthouse.run.layer) and their status, ``reused`` or ``appended``."""
    nodes: list[dict] = []
    timings: dict[str, float] = {}
    tests = {"pass": 0, "warn": 0, "fail": 0, "error": 0, "skipped": 0, "not_passing": []}
    for r in run_results.get("results", []):
        uid = r.get("unique_id", "")
        kind = uid.split(".", 1)[0]
        timings[uid] = round(float(r.get("execution_time") or 0.0), 3)
        status = str(r.get("status"))
        if kind == "test":
            key = status if status in tests else "error"
            tests[key] += 1
            if status != "pass":
                tests["not_passing"].append({"test": uid, "status": status,
                                             "failures": r.get("failures")})
            continue
        if kind not in ("model", "seed", "snapshot"):
            continue
        nodes.append({"unique_id": uid, "name": uid.rsplit(".", 1)[-1], "resource_type": kind,
                      "status": status, "relation": r.get("relation_name"), "rows": None})
    built = {n["name"] for n in nodes}
    nodes += [{"unique_id": f"model.lifthouse.{name}", "name": name, "resource_type": "model",
               "status": status, "relation": None, "rows": None}
              for name, status in (reused or {}).items() if name not in built]
    tests["not_passing"].sort(key=lambda t: t["test"])
    nodes.sort(key=lambda n: n["unique_id"])
    if warehouse is not None and nodes:
        con = connect(warehouse)
        try:
            for n in nodes:
                if n["status"] not in ("success", "pass", "reused", "appended"):
                    continue
                try:
                    n["rows"] = int(con.execute(f'select count(*) from "{n["name"]}"').fetchone()[0])
                except Exception as exc:  # a view over missing optional files, ...
                    if is_lock_error(exc):
                        raise WarehouseLockedError(lock_message(warehouse, str(exc))) from exc
                    n["rows"] = None
        finally:
            con.close()
    for n in nodes:
        n.pop("relation")
    return nodes, timings, tests


def build_manifest(
    *,
    run_id: str,
    vars: dict[str, Any],
    command: list[str],
    vars_passed: dict[str, Any] | None = None,
    data_dir: Path,
    symbols: list[str],
    repo: Path,
    run_results: dict,
    warehouse: Path | None,
    outputs: dict[str, Path],
    stage_seconds: dict[str, float],
    paths: dict[str, str] | None = None,
    created_at: datetime | None = None,
    engine: str = "duckdb",
    data_fingerprint: dict[str, Any] | None = None,
    reused: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``data_fingerprint``: ``fingerprint(data_dir, symbols)`` when the caller already has it
    (``fingerprint_in_background``); computed here otherwise. ``reused``: the models of a
    stored data layer and their status (their data tests ran when the layer was built)."""
    nodes, node_seconds, tests = model_stats(run_results, warehouse, reused)
    meta = run_results.get("metadata", {}) if run_results else {}
    versions = tool_versions(engine)
    if meta.get("dbt_version"):
        versions["dbt (run_results)"] = meta["dbt_version"]
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "status": "complete",
        "command": command,
        "engine": engine,
        "vars": dict(sorted(vars.items())),
        "vars_passed": dict(sorted((vars_passed if vars_passed is not None else vars).items())),
        "paths": dict(sorted((paths or {}).items())),
        "data_fingerprint": (data_fingerprint if data_fingerprint is not None
                             else fingerprint(data_dir, symbols)),
        "code_version": code_version(repo),
        "versions": versions,
        "models": nodes,
        "tests": tests,
        "outputs": {
            name: {"path": str(path), "bytes": Path(path).stat().st_size,
                   "sha256": sha256_file(Path(path))}
            for name, path in sorted(outputs.items())
        },
        # the only non-deterministic block
        "timing": {
            "created_at": (created_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
            "stages_seconds": {k: round(v, 3) for k, v in stage_seconds.items()},
            "total_seconds": round(sum(stage_seconds.values()), 3),
            "dbt_nodes_seconds": dict(sorted(node_seconds.items())),
        },
    }


def run_status(*, run_id: str, status: str, command: list[str], vars_passed: dict[str, Any],
               stage_seconds: dict[str, float], stage: str | None = None,
               error: str | None = None) -> dict[str, Any]:
    """The short manifest of a run that is not complete: ``running``, ``failed`` or
    ``interrupted`` (with the stage it stopped in and the error)."""
    if status not in STATUSES or status == "complete":
        raise ValueError(f"status must be one of {STATUSES[:1] + STATUSES[2:]}, got {status!r}")
    out: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "run_id": run_id,
                           "status": status, "command": command,
                           "vars_passed": dict(sorted(vars_passed.items()))}
    if stage is not None:
        out["stopped_in_stage"] = stage
    if error is not None:
        out["error"] = error
    out["timing"] = {"updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "stages_seconds": {k: round(v, 3) for k, v in stage_seconds.items()}}
    return out


def write_manifest(manifest: dict[str, Any], path: Path) -> Path:
    from lifthouse.data.atomic import atomic_write_bytes

    text = json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write_bytes(text.encode(), Path(path))
    return Path(path)


def without_timing(manifest: dict[str, Any]) -> dict[str, Any]:
    """The deterministic part of a manifest (for comparisons)."""
    return {k: v for k, v in manifest.items() if k != "timing"}
