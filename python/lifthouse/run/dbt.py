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

from lifthouse.run import gate
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
    env.pop(gate.GATE_ENV, None)     # a gate is this process's own, never inherited
    env["LIFTHOUSE_WAREHOUSE"] = str(Path(warehouse).resolve())
    env["DBT_TARGET_PATH"] = str(Path(target_dir).resolve())
    env["DBT_LOG_PATH"] = str(Path(log_dir or target_dir).resolve())
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DO_NOT_TRACK"] = "1"
    env.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT))
    # DuckDB memory_limit / threads / temp_directory, read by profiles.yml (lifthouse.run.resources)
    env.update(resolve_resources(Path(warehouse), env).env())
    return env


class StartedDbt:
    """A dbt command started by ``start_dbt``. When gated (``lifthouse.run.gate``), dbt imports
    itself and parses the project while the caller does other work (the run's preflight), then
    waits: ``release()`` lets it build, ``abort()`` stops it before it has opened the
    warehouse. ``finish()`` releases it if needed and streams its output until it exits."""

    def __init__(self, cmd: list[str], env: dict[str, str], extra_env: dict[str, str],
                 target_dir: Path, warehouse: Path, gated: bool) -> None:
        self.cmd, self.env, self.extra_env = cmd, env, dict(extra_env)
        self.target_dir, self.warehouse = Path(target_dir), Path(warehouse)
        self.started_at = time.time()
        self._gate: int | None = None
        self._proc: subprocess.Popen | None = None
        if gated and cmd[1:3] == ["-m", "lifthouse.run.dbt_main"]:
            read_end, self._gate = gate.open_gate()
            self._spawn({**env, gate.GATE_ENV: str(read_end)}, (read_end,))
            os.close(read_end)
        elif not gated:
            self.warehouse.parent.mkdir(parents=True, exist_ok=True)
            self._spawn(env, ())
        # else: the plain dbt executable has no gate; it starts at release(). Either way a
        # gated build's warehouse folder is made only when it is released

    def _spawn(self, env: dict[str, str], pass_fds: tuple[int, ...]) -> None:
        # its own process group: stopping the group stops dbt and anything it started
        self._proc = subprocess.Popen(
            self.cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, pass_fds=pass_fds,
        )

    def runs(self, args: list[str], vars: dict | None, extra_env: dict[str, str] | None,
             warehouse: Path, target_dir: Path) -> bool:
        """Whether this is the command ``start_dbt`` would start for these arguments."""
        return (self.cmd == dbt_invocation(args, vars) and self.extra_env == (extra_env or {})
                and self.warehouse == Path(warehouse) and self.target_dir == Path(target_dir))

    @property
    def pending(self) -> bool:
        """Started ahead of time and not yet released nor aborted."""
        return self._gate is not None or self._proc is None

    def release(self) -> None:
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        if self._gate is not None:
            gate.release(self._gate)
            self._gate = None
        if self._proc is None:
            self.started_at = time.time()
            self._spawn(self.env, ())

    def abort(self, wait_seconds: float = 2.0) -> None:
        """Stop a dbt that was not released: closing the gate makes it exit (``gate.CLOSED_EXIT``)
        at its gate, before it opens the warehouse; one still parsing after ``wait_seconds`` is
        stopped with its process group."""
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.wait(timeout=wait_seconds)
            except subprocess.TimeoutExpired:
                stop_process_group(self._proc)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def finish(self, *, stream: bool = False,
               on_line: Callable[[str], None] | None = None) -> DbtRun:
        self.release()
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        lines = []
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
        return DbtRun(self.cmd, rc, "".join(lines), Path(self.target_dir), self.started_at)


def dbt_invocation(args: list[str], vars: dict | None = None) -> list[str]:
    """The command line of ``dbt <args> --vars <json>``."""
    cmd = dbt_command(args)
    if vars:
        cmd += ["--vars", json.dumps(vars, sort_keys=True)]
    return cmd


def start_dbt(
    args: list[str],
    *,
    warehouse: Path,
    target_dir: Path,
    vars: dict | None = None,
    extra_env: dict[str, str] | None = None,
    gated: bool = False,
) -> StartedDbt:
    """Start ``dbt <args> --vars <json>`` from the repo root (``StartedDbt``). ``gated``: dbt
    parses now and builds only once released."""
    Path(target_dir).mkdir(parents=True, exist_ok=True)
    env = {**dbt_env(warehouse, target_dir), **(extra_env or {})}
    return StartedDbt(dbt_invocation(args, vars), env, extra_env or {}, Path(target_dir),
                      Path(warehouse), gated)


def check_run(run: DbtRun, args: list[str], warehouse: Path) -> DbtRun:
    """``run``, or DbtError (with the end of dbt's output) when ``dbt <args>`` failed."""
    if run.returncode != 0:
        out = run.stdout
        tail = "\n".join(out.splitlines()[-60:])
        rows = failed_test_rows(run.run_results(), Path(warehouse))
        if rows:
            tail += "\n\n" + "\n".join(rows)
        if is_lock_error(Exception(out)):
            tail += "\n\n" + lock_message(Path(warehouse))
        raise DbtError(f"dbt {' '.join(args)} failed (exit {run.returncode}):\n{tail}")
    return run


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
    run = start_dbt(args, warehouse=warehouse, target_dir=target_dir, vars=vars,
                    extra_env=extra_env).finish(stream=stream, on_line=on_line)
    return check_run(run, args, warehouse) if check else run


_DBT_ERROR_MARKERS = ("Failure in", "Error in", "Compilation Error", "Runtime Error",
                      "Database Error", "Parsing Error", "Got ", "ERROR", "IO Error",
                      "No space left on device")


def dbt_failure_message(output: str, returncode: int, warehouse: Path,
                        failing_rows: list[str] | None = None) -> str:
    """A short message for a failed build: the error lines of dbt's summary (the full output
    was streamed above and is in the run log), the failing rows of failed data tests
    (``lifthouse.run.dbt.failed_test_rows``), plus the lock hint when relevant."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "Completed with" in line), None)
    summary = lines[start:] if start is not None else lines[-30:]
    picked = [line.strip() for line in summary
              if any(m in line for m in _DBT_ERROR_MARKERS) and "PASS=" not in line]
    msg = f"dbt build failed (exit {returncode})"
    if picked:
        msg += ":\n  " + "\n  ".join(picked[:20])
    if failing_rows:
        msg += "\n  " + "\n  ".join(failing_rows[:60])
    msg += "\n  (dbt's full output: rerun with --verbose, or see dbt.log in the target folder)"
    if is_lock_error(Exception(output)):
        msg += "\n" + lock_message(warehouse)
    return msg
