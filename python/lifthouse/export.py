"""Exports of a built warehouse: deterministic CSV / Parquet files and the small tables the
executive summary is rendered from.

Everything here reads the warehouse **read-only**. DuckDB allows one writer per file; when the
file is held by another process the read fails with :class:`WarehouseLockedError`, whose message
says what to do.

Determinism: every export is ``SELECT * ... ORDER BY <keys>, <every other column>`` so the row
order is a total order; CSVs use a fixed float format (``%.10g``), ``\\n`` line endings and one
timestamp format; files are written to a temp file and renamed, so a reader never sees half a
file. Exporting the same tables twice gives byte-identical CSVs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from lifthouse.raw import atomic_write_bytes, atomic_write_parquet

FLOAT_FORMAT = "%.10g"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# Event types whose question conditions on the carry state; every other type uses vol_regime.
PATH_STATE_DIMENSION: dict[str, str] = {"LIQUIDATION_CASCADE": "carry_state"}
DEFAULT_PATH_STATE = "vol_regime"
DEFAULT_MAX_HORIZON_MIN = 240


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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ordered_select(relation_or_sql: str, columns: list[str], keys: tuple[str, ...] = ()) -> str:
    """``SELECT * FROM x ORDER BY <keys present>, <all other columns>`` (a total order)."""
    first = [k for k in keys if k in columns]
    rest = [c for c in columns if c not in first]
    order = ", ".join(f"{_q(c)} asc nulls last" for c in first + rest)
    src = relation_or_sql if relation_or_sql.lstrip().startswith("(") else _q(relation_or_sql)
    return f"select * from {src} order by {order}"


def fetch_ordered(con: duckdb.DuckDBPyConnection, relation: str,
                  keys: tuple[str, ...] = ()) -> pa.Table:
    cols = require_relation(con, relation)
    return normalize_timestamps(con.execute(ordered_select(relation, cols, keys)).to_arrow_table())


def fetch_query(con: duckdb.DuckDBPyConnection, sql: str, keys: tuple[str, ...] = ()) -> pa.Table:
    """Run ``sql`` and return it in a total order (keys first, then every column)."""
    cols = [d[0] for d in con.execute(f"select * from ({sql}) limit 0").description]
    return normalize_timestamps(con.execute(ordered_select(f"({sql})", cols, keys)).to_arrow_table())


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
    # the report's screen funnel (models/marts/reporting/rpt_screen_funnel)
    ("rpt_screen_funnel", ("event_type",), "tables_dir", ("csv",)),
)

# Report tables: name -> sort keys (the SQL is built in report_table_queries)
REPORT_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "state_occupancy": ("symbol", "dimension", "state"),
    "event_counts": ("symbol", "event_type"),
    "trade_counts": ("symbol", "event_type"),
    "data_coverage": ("symbol",),
    "event_paths": ("event_type", "state_dimension", "state", "minute"),
}


@dataclass
class ExportResult:
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def sorted_files(self) -> list[tuple[str, Path]]:
        return sorted(self.files.items())


def _col_or_null(cols: list[str], name: str, alias: str | None = None,
                 sql_type: str = "double") -> str:
    alias = alias or name
    return f"{_q(name)} as {_q(alias)}" if name in cols else f"cast(null as {sql_type}) as {_q(alias)}"


def max_horizon(con: duckdb.DuckDBPyConnection) -> int:
    if "horizon_min" in relation_columns(con, "candidate_plan"):
        value = con.execute("select max(horizon_min) from candidate_plan").fetchone()[0]
        if value is not None:
            return int(value)
    return DEFAULT_MAX_HORIZON_MIN


# the event states the paths are split by, per var phase2_condition_state_at (docs/phase2.md)
EVENT_STATE_COLUMNS = {
    "detection": "vol_regime, carry_state",
    "pre_event": "coalesce(vol_regime_pre, 'warmup') as vol_regime, "
                 "coalesce(carry_state_pre, 'warmup') as carry_state",
}


def report_table_queries(con: duckdb.DuckDBPyConnection,
                         state_at: str = "detection") -> dict[str, str]:
    """SQL for the report's small tables, from the core and phase2 marts. Event paths are split
    by the states the run's conditions matched (``state_at``)."""
    f_cols = require_relation(con, "features_v1")
    require_relation(con, "market_context")
    e_cols = require_relation(con, "event_registry")
    require_relation(con, "phase2_trades")
    require_relation(con, "candidate_plan")
    evidence = "string_agg(distinct e.evidence, ',' order by e.evidence)" if "evidence" in e_cols \
        else "cast(null as varchar)"
    liq_cond = " or ".join(f"{c} is not null" for c in ("liq_long_usd", "liq_short_usd") if c in f_cols) \
        or "false"
    horizon = max_horizon(con)
    dims = sorted(set(PATH_STATE_DIMENSION.values()) | {DEFAULT_PATH_STATE})
    assert all(d in ("vol_regime", "carry_state") for d in dims)
    case_dim = "case " + " ".join(f"when event_type = '{t}' then '{d}'"
                                  for t, d in sorted(PATH_STATE_DIMENSION.items())) \
        + f" else '{DEFAULT_PATH_STATE}' end"
    case_state = "case " + " ".join(f"when event_type = '{t}' then {d}"
                                    for t, d in sorted(PATH_STATE_DIMENSION.items())) \
        + f" else {DEFAULT_PATH_STATE} end"
    return {
        "state_occupancy": """
            select symbol, dimension, state, n_minutes,
                   n_minutes / sum(n_minutes) over (partition by symbol, dimension) as share
            from (
                select symbol, 'vol_regime' as dimension, vol_regime as state, count(*) as n_minutes
                from market_context where in_window group by all
                union all
                select symbol, 'carry_state', carry_state, count(*)
                from market_context where in_window group by all
            )""",
        "event_counts": f"""
            with syms as (select distinct symbol from features_v1),
                 types as (select distinct event_type from candidate_plan
                           union select distinct event_type from event_registry)
            select s.symbol, t.event_type, count(e.event_id) as n_events,
                   {evidence} as evidence
            from syms s cross join types t
            left join event_registry e
              on e.symbol = s.symbol and e.event_type = t.event_type and e.in_window
            group by all""",
        "trade_counts": """
            with syms as (select distinct symbol from features_v1),
                 types as (select distinct event_type from candidate_plan),
                 unc as (select candidate_id, event_type, symbol_scope from candidate_plan
                         where condition = 'all' and symbol_scope <> 'pooled'),
                 agg as (
                    select t.symbol, u.event_type, count(distinct u.candidate_id) as n_candidates,
                           count(*) filter (where t.trade_status = 'traded') as n_traded,
                           count(*) filter (where t.trade_status = 'skipped_overlap')
                               as n_skipped_overlap,
                           count(*) filter (where t.trade_status not in ('traded',
                                                                         'skipped_overlap'))
                               as n_dropped
                    from phase2_trades t join unc u using (candidate_id)
                    group by all)
            select s.symbol, t.event_type,
                   (select count(*) from unc where unc.event_type = t.event_type
                      and unc.symbol_scope = s.symbol) as n_candidates,
                   coalesce(a.n_traded, 0) as n_traded,
                   coalesce(a.n_skipped_overlap, 0) as n_skipped_overlap,
                   coalesce(a.n_dropped, 0) as n_dropped
            from syms s cross join types t
            left join agg a on a.symbol = s.symbol and a.event_type = t.event_type""",
        "data_coverage": f"""
            select symbol,
                   count(*) filter (where in_window) as n_bars,
                   count(*) filter (where in_window and is_gap) as n_gap_bars,
                   count(*) filter (where in_window and {('oi is not null' if 'oi' in f_cols else 'false')})
                       as n_bars_with_oi,
                   count(*) filter (where in_window and ({liq_cond})) as n_bars_with_liquidations,
                   count(*) filter (where in_window and {('basis_bps is not null' if 'basis_bps' in f_cols else 'false')})
                       as n_bars_with_basis
            from features_v1 group by symbol""",
        "event_paths": f"""
            with ev as (
                select event_type, symbol, event_id, direction, {EVENT_STATE_COLUMNS[state_at]},
                       detected_at + interval 1 minute as entry_time
                from event_registry where in_window
            ), entry as (
                select ev.*, f.open as entry_open
                from ev join features_v1 f on f.symbol = ev.symbol and f.open_time = ev.entry_time
                where f.open is not null and f.open > 0
            ), steps as (
                select range as k from range(1, {horizon} + 1)
            ), path as (
                select en.event_type, en.event_id, en.vol_regime, en.carry_state, s.k as minute,
                       (f.close / en.entry_open - 1) * 10000 * en.direction as ret_bps
                from entry en cross join steps s
                join features_v1 f on f.symbol = en.symbol
                 and f.open_time = en.entry_time + (s.k - 1) * interval 1 minute
                union all
                select event_type, event_id, vol_regime, carry_state, 0, 0.0 from entry
            ), labelled as (
                select *, {case_dim} as state_dimension, {case_state} as state from path
            )
            select event_type, state_dimension, state, minute,
                   count(ret_bps) as n_events, avg(ret_bps) as mean_ret_bps,
                   stddev_samp(ret_bps) as sd_ret_bps
            from labelled group by all
            union all
            select event_type, state_dimension, 'all', minute, count(ret_bps), avg(ret_bps),
                   stddev_samp(ret_bps)
            from labelled group by all""",
    }


def export_run(warehouse: Path, layout: ExportLayout, state_at: str = "detection") -> ExportResult:
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
        for name, sql in report_table_queries(con, state_at).items():
            table = fetch_query(con, sql, REPORT_TABLE_KEYS[name])
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
