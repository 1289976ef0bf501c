"""DuckDB resource settings of a run: memory limit, threads and spill folder (docs/running.md
"Memory and threads").

profiles.yml reads them from environment variables, so a dbt command run by hand and a
``lifthouse run`` use the same settings:

=================================  ==========================================================
``LIFTHOUSE_DUCKDB_MEMORY_LIMIT``  DuckDB ``memory_limit`` (e.g. ``4GB``). Default: a quarter
                                   of the machine's RAM, between 1 GB and 4 GB.
``LIFTHOUSE_DUCKDB_THREADS``       DuckDB ``threads``. Default: the CPUs this process may use.
``LIFTHOUSE_DUCKDB_TEMP_DIR``      DuckDB ``temp_directory``: where a query larger than the
                                   memory limit spills. Default: ``<warehouse>.tmp`` beside the
                                   warehouse file.
``LIFTHOUSE_LIFT_WORKERS``          Processes the candidate lift's bootstrap runs in
                                   (int_candidate_lift). Default: the CPUs this process may
                                   use. The output is identical for any value.
=================================  ==========================================================

A value already set in the environment wins over the default (the user's override). The
Python models run inside dbt's process, so their pandas frames come on top of the DuckDB limit:
the default leaves room for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

MEMORY_LIMIT_ENV = "LIFTHOUSE_DUCKDB_MEMORY_LIMIT"
THREADS_ENV = "LIFTHOUSE_DUCKDB_THREADS"
TEMP_DIR_ENV = "LIFTHOUSE_DUCKDB_TEMP_DIR"
LIFT_WORKERS_ENV = "LIFTHOUSE_LIFT_WORKERS"

GB = 1024 ** 3
MIN_MEMORY_LIMIT_GB = 1
MAX_MEMORY_LIMIT_GB = 4
MEMORY_SHARE = 0.25  # of the machine's RAM


@dataclass(frozen=True)
class DuckDBResources:
    memory_limit: str
    threads: int
    temp_directory: Path

    def env(self) -> dict[str, str]:
        return {MEMORY_LIMIT_ENV: self.memory_limit, THREADS_ENV: str(self.threads),
                TEMP_DIR_ENV: str(self.temp_directory)}

    def describe(self) -> str:
        return (f"DuckDB memory_limit {self.memory_limit}, threads {self.threads}, "
                f"spill to {self.temp_directory}")


def total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def default_memory_limit(total_bytes: int | None) -> str:
    """A quarter of RAM, clamped to [1 GB, 4 GB], in whole GB (4GB when RAM is unknown)."""
    if not total_bytes:
        return f"{MAX_MEMORY_LIMIT_GB}GB"
    gb = int(total_bytes * MEMORY_SHARE // GB)
    return f"{min(MAX_MEMORY_LIMIT_GB, max(MIN_MEMORY_LIMIT_GB, gb))}GB"


def _count(env: Mapping[str, str], name: str, what: str) -> int:
    """A whole number >= 1 from ``env[name]``, else the CPUs this process may use."""
    text = env.get(name) or str(available_cpus())
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} must be a whole number of {what}") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be >= 1")
    return value


def resolve(warehouse: Path, environ: Mapping[str, str] | None = None) -> DuckDBResources:
    """The settings for a build into ``warehouse``: the environment's values, else defaults."""
    env = os.environ if environ is None else environ
    return DuckDBResources(
        memory_limit=env.get(MEMORY_LIMIT_ENV) or default_memory_limit(total_memory_bytes()),
        threads=_count(env, THREADS_ENV, "threads"),
        temp_directory=Path(env.get(TEMP_DIR_ENV) or f"{Path(warehouse).resolve()}.tmp"),
    )


def lift_workers(environ: Mapping[str, str] | None = None) -> int:
    """Worker processes of the candidate lift: ``LIFTHOUSE_LIFT_WORKERS``, else the CPUs."""
    return _count(os.environ if environ is None else environ, LIFT_WORKERS_ENV, "processes")


def check_memory_limit(text: str) -> str:
    """``text`` if DuckDB accepts it as a ``memory_limit`` (e.g. ``4GB``, ``500MB``), else
    ValueError naming the variable."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("set memory_limit = ?", [text])
    except duckdb.Error:
        raise ValueError(f"{MEMORY_LIMIT_ENV}={text!r} is not a memory size DuckDB understands "
                         "(e.g. 4GB, 500MB)") from None
    finally:
        con.close()
    return text


def check_environment(warehouse: Path, environ: Mapping[str, str] | None = None) -> None:
    """Every LIFTHOUSE_DUCKDB_* / LIFTHOUSE_LIFT_WORKERS value of the environment, checked
    before a build starts: ValueError naming the variable and what it takes."""
    env = os.environ if environ is None else environ
    res = resolve(warehouse, env)
    lift_workers(env)
    if env.get(MEMORY_LIMIT_ENV):
        check_memory_limit(env[MEMORY_LIMIT_ENV])
    if res.temp_directory.exists() and not res.temp_directory.is_dir():
        raise ValueError(f"{TEMP_DIR_ENV}={str(res.temp_directory)!r} is a file, not a folder "
                         "DuckDB can spill to")


def exit_on_bad_environment(prog: str, warehouse: Path) -> None:
    """:func:`check_environment` for a command line other than ``lifthouse run`` (``make bench``,
    ``python -m lifthouse.run.snoop_calibration``): one line naming the variable and exit 2,
    not a traceback once the work has begun."""
    import sys

    try:
        check_environment(warehouse)
    except ValueError as exc:
        print(f"{prog}: error: {exc}\n  fix: set a valid value or unset the variable "
              "(docs/running.md, \"Memory and threads\")", file=sys.stderr)
        raise SystemExit(2) from None
