"""Run dbt from the repository root with isolated warehouse / target / log paths.

Used by the run orchestrator and by the tests, so that several builds (different run_ids, test
cases) never share a DuckDB file or a dbt target folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]


class DbtError(RuntimeError):
    pass


@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    stdout: str
    target_dir: Path

    def run_results(self) -> dict:
        path = self.target_dir / "run_results.json"
        return json.loads(path.read_text()) if path.exists() else {}


def dbt_executable() -> str:
    """The dbt next to the running Python (the project's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "dbt"
    return str(here) if here.exists() else "dbt"


def dbt_env(warehouse: Path, target_dir: Path, log_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["LIFTHOUSE_WAREHOUSE"] = str(Path(warehouse).resolve())
    env["DBT_TARGET_PATH"] = str(Path(target_dir).resolve())
    env["DBT_LOG_PATH"] = str(Path(log_dir or target_dir).resolve())
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DO_NOT_TRACK"] = "1"
    env.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT))
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
    cmd = [dbt_executable(), *args]
    if vars:
        cmd += ["--vars", json.dumps(vars, sort_keys=True)]
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env={**dbt_env(warehouse, target_dir), **(extra_env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if stream:
            sys.stdout.write(line)
            sys.stdout.flush()
        if on_line is not None:
            on_line(line.rstrip("\n"))
    rc = proc.wait()
    out = "".join(lines)
    run = DbtRun(cmd, rc, out, Path(target_dir))
    if check and rc != 0:
        tail = "\n".join(out.splitlines()[-60:])
        if "Could not set lock on file" in out or "Conflicting lock" in out:
            tail += (
                f"\n\nThe warehouse {warehouse} is open in another process (DuckDB allows one "
                "writer). Close that session (DuckDB CLI, notebook) and re-run; to read while "
                "building, query the exported Parquet under data/reports/ or a copy of the file."
            )
        raise DbtError(f"dbt {' '.join(args)} failed (exit {rc}):\n{tail}")
    return run
