"""A fresh clone runs the README's "Running dbt yourself" as written: the default warehouse
path of profiles.yml lies in a folder the repository keeps (DuckDB does not create it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lifthouse.run.dbt import REPO_ROOT, dbt_executable


def default_warehouse() -> str:
    m = re.search(r"env_var\('LIFTHOUSE_WAREHOUSE',\s*'([^']+)'\)", (REPO_ROOT / "profiles.yml").read_text())
    assert m, "profiles.yml: the warehouse path should be env_var('LIFTHOUSE_WAREHOUSE', '<default>')"
    return m.group(1)


def test_default_warehouse_folder_is_in_the_repository():
    folder = Path(default_warehouse()).parent
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "--", str(folder)], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked, f"{folder}/ holds no tracked file: a fresh clone lacks it and dbt fails with " \
                    "'Cannot open file .../lifthouse.duckdb'"


def test_dbt_debug_connects_in_a_fresh_clone(tmp_path):
    """`dbt debug` (which opens the warehouse) in a clone of HEAD, without LIFTHOUSE_WAREHOUSE."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)],
                   check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LIFTHOUSE_WAREHOUSE", "DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_PROFILES_DIR")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    proc = subprocess.run([dbt_executable(), "debug"], cwd=clone, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (clone / default_warehouse()).exists()
