"""``python -m lifthouse.run.dbt_main <dbt args>``: dbt's own command line, as ``lifthouse run``
and the tests start it (``lifthouse.run.dbt.run_dbt``). It behaves as ``dbt <args>`` and
exits with dbt's code; only the order in which a build takes up ready nodes (the longest
remaining chain first, ``lifthouse.run.schedule``), the gate of a build started ahead of time
(``lifthouse.run.gate``: it parses, then waits for the run's preflight) and the end are
different.

When dbt is done its files are written (run_results.json, dbt.log), but the process still
spends ~1 s tearing down the interpreter: freeing the objects of dbt's parse, per dbt command
(docs/benchmarks.md). Here, once dbt returns, the warehouse is closed explicitly (DuckDB
checkpoints it, so no write-ahead log is left for the next reader), the exit handlers run as
usual (logging flushes dbt.log, multiprocessing cleans up), and the process ends without that
teardown. Should the warehouse still be open after that,
or was no DuckDB one opened (a Spark build), the normal exit runs instead: a fast exit never
skips a checkpoint.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from pathlib import Path


def _close_warehouse() -> bool:
    """Close dbt-duckdb's environment (its DuckDB connection). False when there was none (a
    command that opened no warehouse, or another adapter such as Spark's)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return False
    env = DuckDBConnectionManager._ENV
    if env is None:
        return False
    DuckDBConnectionManager.close_all_connections()
    env.close()
    gc.collect()   # cursors that referenced the database go now
    return True


def _wal_left(warehouse: str | None) -> bool:
    return bool(warehouse) and Path(f"{warehouse}.wal").exists()


def main(argv: list[str]) -> None:
    from dbt.cli.main import cli

    from lifthouse.run import gate
    from lifthouse.run.schedule import install

    if os.environ.get("LIFTHOUSE_DBT_ORDER", "critical_path") != "dbt":
        install()   # the longest remaining chain first (lifthouse.run.schedule)
    gate.install()  # started ahead of time: build only once released (lifthouse.run.gate)

    try:
        cli.main(args=argv, prog_name="dbt")
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    closed = _close_warehouse()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    if not closed or not isinstance(code, int) or _wal_left(os.environ.get("LIFTHOUSE_WAREHOUSE")):
        sys.exit(code)   # the usual exit (also prints a message code)
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
