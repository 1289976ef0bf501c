"""Run dbt from the repository root with isolated warehouse / target / log paths.

Used by the run orchestrator and by the tests, so that several builds (different run_ids, test
cases) never share a DuckDB file or a dbt target folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from lifthouse.run.resources import resolve as resolve_resources
from lifthouse.run.warehouse import WarehouseError, connect, is_lock_error, lock_message

REPO_ROOT = Path(__file__).resolve().parents[3]


class DbtError(RuntimeError):
    pass


@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    stdout: str
    target_dir: Path
    started_at: float = 0.0   # time.time() as dbt was started

    def run_results(self) -> dict:
        """This command's run_results.json; {} when dbt wrote none (a parse error, say): the
        file an earlier command left in the target folder is not this command's."""
        path = self.target_dir / "run_results.json"
        if not path.exists() or path.stat().st_mtime < self.started_at:
            return {}
        return json.loads(path.read_text())


def failed_test_rows(run_results: dict, warehouse: Path, limit: int = 5) -> list[str]:
    """For each data test that failed in ``run_results``: its name and up to ``limit`` of its
    failing rows, read by running its compiled SQL (in run_results.json) on the warehouse,
    read-only, once dbt has exited. dbt itself only says "Got 2 results"; these rows say what
    failed (the rule of a ``row_rules`` test, the duplicated key of a ``unique_combination``
    test). A DuckDB warehouse only: [] when it, the compiled SQL or the query is not available
    (a diagnostic never hides dbt's own message)."""
    if run_results.get("args", {}).get("target", "dev") != "dev":   # not the DuckDB target
        return []
    failed = [r for r in run_results.get("results", [])
              if r.get("status") == "fail" and str(r.get("unique_id", "")).startswith("test.")
              and r.get("compiled_code")]
    if not failed:
        return []
    lines: list[str] = []
    try:
        con = connect(warehouse, read_only=True)
    except WarehouseError:   # none, or locked by another process
        return []
    try:
        for r in failed:
            name = r["unique_id"].split(".")[2]
            try:
                cur = con.execute(f"select * from ({r['compiled_code']}) limit {int(limit) + 1}")
                cols = [d[0] for d in cur.description]
                rows = cur.fetchall()
            except duckdb.Error:
                continue
            lines.append(f"{name}: failing rows" + (f" (the first {limit})" if len(rows) > limit else ""))
            lines += ["  " + ", ".join(f"{c}={v}" for c, v in zip(cols, row)) for row in rows[:limit]]
    finally:
        con.close()
    return lines


def stop_process_group(proc: subprocess.Popen, grace_seconds: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL after ``grace_seconds``; waits for it,
    so the warehouse lock it holds is released when this returns."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def dbt_executable() -> str:
    """The dbt next to the running Python (the project's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "dbt"
    return str(here) if here.exists() else "dbt"


def dbt_command(args: list[str]) -> list[str]:
    """``dbt <args>`` as the runs start it: dbt's CLI through ``lifthouse.run.dbt_main``, which
    skips the interpreter teardown once the warehouse is closed (LIFTHOUSE_FAST_DBT_EXIT=0:
    the plain ``dbt`` executable)."""
    if os.environ.get("LIFTHOUSE_FAST_DBT_EXIT", "1") == "0":
        return [dbt_executable(), *args]
    return [sys.executable, "-m", "lifthouse.run.dbt_main", *args]


def dbt_env(warehouse: Path, target_dir: Path, log_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["LIFTHOUSE_WAREHOUSE"] = str(Path(warehouse).resolve())
    env["DBT_TARGET_PATH"] = str(Path(target_dir).resolve())
    env["DBT_LOG_PATH"] = str(Path(log_dir or target_dir).resolve())
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DO_NOT_TRACK"] = "1"
    env.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT))
    # DuckDB memory_limit / threads / temp_directory, read by profiles.yml (lifthouse.run.resources)
    env.update(resolve_resources(Path(warehouse), env).env())
    return env


def run_dbt(
    args: list[str],
    *,
    warehouse: Path,
    target_dir: Path,
    vars: dict | None = None,
    check: bool = True,
    stream: bool = False,
    on_line: Callable[[str], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> DbtRun:
    """``dbt <args> --vars <json>`` from the repo root. Raises DbtError (with dbt's output) when
    dbt fails and ``check`` is true. ``on_line`` is called with each output line as it comes."""
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    Path(target_dir).mkdir(parents=True, exist_ok=True)
    cmd = dbt_command(args)
    if vars:
        cmd += ["--vars", json.dumps(vars, sort_keys=True)]
    started_at = time.time()
    # its own process group: stopping the group (below) stops dbt and anything it started
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env={**dbt_env(warehouse, target_dir), **(extra_env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line)
            if stream:
                sys.stdout.write(line)
                sys.stdout.flush()
            if on_line is not None:
                on_line(line.rstrip("\n"))
        rc = proc.wait()
    except BaseException:  # interrupted (SIGINT / SIGTERM -> exception): stop dbt too
        stop_process_group(proc)
        raise
    out = "".join(lines)
    run = DbtRun(cmd, rc, out, Path(target_dir), started_at)
    if check and rc != 0:
        tail = "\n".join(out.splitlines()[-60:])
        rows = failed_test_rows(run.run_results(), Path(warehouse))
        if rows:
            tail += "\n\n" + "\n".join(rows)
        if is_lock_error(Exception(out)):
            tail += "\n\n" + lock_message(Path(warehouse))
        raise DbtError(f"dbt {' '.join(args)} failed (exit {rc}):\n{tail}")
    return run
