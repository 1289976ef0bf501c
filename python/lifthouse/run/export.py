"""Exports of a built warehouse: deterministic CSV / Parquet files and the small tables the
executive summary is rendered from (built and tested by dbt: models/marts/reporting/rpt_*).

Everything here reads the warehouse **read-only** (:mod:`lifthouse.run.warehouse`).

Determinism: every export is ``SELECT * ... ORDER BY <keys>, <every other column>`` so the row
order is a total order; CSVs use a fixed float format (``%.10g``), ``\\n`` line endings and one
timestamp format; files are written to a temp file and renamed, so a reader never sees half a
file. Exporting the same tables twice gives byte-identical CSVs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from lifthouse.data.atomic import atomic_write_bytes, atomic_write_parquet
from lifthouse.run.warehouse import (WarehouseError, WarehouseLockedError, connect, is_lock_error,
                                     lock_message, require_relation)

FLOAT_FORMAT = "%.10g"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ordered_select(relation: str, columns: list[str], keys: tuple[str, ...] = ()) -> str:
    """``SELECT * FROM relation ORDER BY <keys present>, <all other columns>`` (a total order)."""
    first = [k for k in keys if k in columns]
    rest = [c for c in columns if c not in first]
    order = ", ".join(f"{_q(c)} asc nulls last" for c in first + rest)
    return f"select * from {_q(relation)} order by {order}"


def fetch_ordered(con: duckdb.DuckDBPyConnection, relation: str,
                  keys: tuple[str, ...] = ()) -> pa.Table:
    cols = require_relation(con, relation)
    return normalize_timestamps(con.execute(ordered_select(relation, cols, keys)).to_arrow_table())


def normalize_timestamps(table: pa.Table) -> pa.Table:
    """Every timestamp column as microseconds (the raw layer's convention)."""
    fields = []
    changed = False
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.unit != "us":
            fields.append(pa.field(f.name, pa.timestamp("us", tz=f.type.tz), f.nullable))
            changed = True
        else:
            fields.append(f)
    return table.cast(pa.schema(fields)) if changed else table


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping integers as integers and booleans as booleans (nullable)."""
    mapping = {
        pa.int8(): pd.Int64Dtype(), pa.int16(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.Int64Dtype(), pa.uint16(): pd.Int64Dtype(),
        pa.uint32(): pd.Int64Dtype(), pa.uint64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }
    return table.to_pandas(types_mapper=mapping.get)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The deterministic CSV rendering of a frame (row order as given)."""
    text = df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n",
                     date_format=TIMESTAMP_FORMAT, na_rep="")
    return text.encode("utf-8")


def write_csv(table: pa.Table | pd.DataFrame, path: Path) -> Path:
    df = to_frame(table) if isinstance(table, pa.Table) else table
    atomic_write_bytes(csv_bytes(df), path)
    return Path(path)


def write_parquet(table: pa.Table, path: Path) -> Path:
    atomic_write_parquet(normalize_timestamps(table), Path(path))
    return Path(path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class ExportLayout:
    """Where one run's exports go (all under ``root``, normally ``data/reports``)."""

    root: Path
    run_id: str

    @property
    def ablation_dir(self) -> Path:
        return self.root / "ablation" / self.run_id

    @property
    def phase2_dir(self) -> Path:
        return self.root / "phase2" / self.run_id

    @property
    def run_dir(self) -> Path:
        """Manifest, run log and the small tables the report is rendered from."""
        return self.root / "runs" / self.run_id

    @property
    def tables_dir(self) -> Path:
        return self.run_dir / "tables"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "run.log"


# (relation, sort keys, folder attribute, formats)
MODEL_EXPORTS: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("lift_summary", ("row_num", "row_type", "row_key", "event_type", "condition", "candidate_id"),
     "ablation_dir",
     ("csv", "parquet")),
    ("phase2_candidate_results", ("candidate_id",), "phase2_dir", ("csv", "parquet")),
    ("phase2_trades", ("candidate_id", "symbol", "detected_at", "event_id"), "phase2_dir",
     ("parquet",)),
    ("event_registry", ("event_type", "symbol", "detected_at", "event_id"), "phase2_dir",
     ("csv", "parquet")),
    # grid-level data-snooping control (docs/phase2.md "Data snooping")
    ("phase2_grid_tests", ("scope",), "phase2_dir", ("csv", "parquet")),
    ("phase2_candidate_daily", ("candidate_id", "block", "day"), "phase2_dir", ("parquet",)),
    # the report's screen funnel (models/marts/reporting/rpt_screen_funnel)
    ("rpt_screen_funnel", ("event_type",), "tables_dir", ("csv",)),
)

# Report tables: file name -> (dbt model, sort keys). The tables are built and tested by dbt
# (models/marts/reporting/rpt_*); the export only selects and writes them.
REPORT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "state_occupancy": ("rpt_state_occupancy", ("symbol", "dimension", "state")),
    "event_counts": ("rpt_event_counts", ("symbol", "event_type")),
    "trade_counts": ("rpt_trade_counts", ("symbol", "event_type")),
    "data_coverage": ("rpt_data_coverage", ("symbol",)),
    "event_paths": ("rpt_event_paths", ("event_type", "state_dimension", "state", "minute")),
}


@dataclass
class ExportResult:
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def export_run(warehouse: Path, layout: ExportLayout) -> ExportResult:
    """Export one run's public tables and the report's tables. Read-only on the warehouse."""
    result = ExportResult()
    con = connect(warehouse)
    try:
        for relation, keys, folder_attr, formats in MODEL_EXPORTS:
            table = fetch_ordered(con, relation, keys)
            folder: Path = getattr(layout, folder_attr)
            result.rows[relation] = table.num_rows
            if "csv" in formats:
                result.files[f"{relation}.csv"] = write_csv(table, folder / f"{relation}.csv")
            if "parquet" in formats:
                result.files[f"{relation}.parquet"] = write_parquet(table, folder / f"{relation}.parquet")
        for name, (relation, keys) in REPORT_TABLES.items():
            table = fetch_ordered(con, relation, keys)
            result.rows[name] = table.num_rows
            result.files[f"{name}.csv"] = write_csv(table, layout.tables_dir / f"{name}.csv")
    except duckdb.Error as exc:
        if is_lock_error(exc):
            raise WarehouseLockedError(lock_message(Path(warehouse), str(exc))) from exc
        raise WarehouseError(f"export from {warehouse} failed: {exc}") from exc
    finally:
        con.close()
    return result


def phase2_counts(warehouse: Path) -> tuple[int, int]:
    """(n candidates, n traded trades) of a built warehouse."""
    con = connect(warehouse)
    try:
        require_relation(con, "phase2_candidate_results")
        require_relation(con, "phase2_trades")
        n_cand = con.execute("select count(*) from phase2_candidate_results").fetchone()[0]
        n_trades = con.execute(
            "select count(*) from phase2_trades where trade_status = 'traded'").fetchone()[0]
        return int(n_cand), int(n_trades)
    except duckdb.Error as exc:
        if is_lock_error(exc):
            raise WarehouseLockedError(lock_message(Path(warehouse), str(exc))) from exc
        raise
    finally:
        con.close()
