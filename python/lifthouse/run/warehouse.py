"""Opening a run's DuckDB warehouse, and the one message for its lock: DuckDB allows one writer
per file; when another process holds it, :class:`WarehouseLockedError` says what to do."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


class WarehouseError(RuntimeError):
    """The warehouse cannot be read (missing file, missing table)."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB file's lock."""


def lock_message(warehouse: Path, detail: str = "") -> str:
    msg = (
        f"the warehouse {warehouse} is locked by another process (DuckDB allows one writer per "
        "file, and no reader while a writer has it open). Close the other session (DuckDB CLI, "
        "notebook, a running `lifthouse run` with the same run_id) and re-run. To read results "
        "while a build runs, query the exported Parquet under data/reports/, or copy the "
        ".duckdb file and open the copy."
    )
    if detail:
        msg += f"\n  duckdb said: {detail.strip().splitlines()[0]}"
    return msg


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text or "lock on file" in text


def connect(warehouse: str | os.PathLike, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a held lock raises :class:`WarehouseLockedError` with the fix."""
    path = Path(warehouse)
    if not path.exists():
        raise WarehouseError(f"the warehouse {path} does not exist: run the dbt build first "
                             "(`lifthouse run ...`)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        if is_lock_error(exc):
            raise WarehouseLockedError(lock_message(path, str(exc))) from exc
        raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from exc


def ensure_unlocked(warehouse: Path) -> None:
    """Fail fast, before dbt spends time, when another process holds the warehouse."""
    if Path(warehouse).exists():
        connect(warehouse, read_only=False).close()


def relation_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? "
        "order by ordinal_position", [relation]
    ).fetchall()
    return [r[0] for r in rows]


def require_relation(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    cols = relation_columns(con, relation)
    if not cols:
        raise WarehouseError(f"table {relation!r} is not in the warehouse: was it built? "
                             f"(dbt build --select +{relation})")
    return cols
