"""Extending a data layer to new or changed bars (a plan of mode ``append``,
:mod:`lifthouse.run.layer_plan`): the run's warehouse is a copy of the earlier layer; the
layer's models are built again only over the bars from the cut on plus the history they read
(``append_load_from``, macros/run_window.sql) into a scratch file beside it; the rows of a day
before the cut must come out equal to the layer's (the seam check), then every layer table's
rows from the day before the cut on are replaced by the new ones.

A seam that differs (a model whose rows depend on more history than the append reads) stops
the append: the run builds cold instead and says why. Nothing half-spliced is ever published:
the layer is copied into the store only after the whole build has passed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import duckdb

from lifthouse.run.layer import LAYER_KEYS, LAYER_MODELS, LAYER_TABLES
from lifthouse.run.layer_plan import append_bounds, history_minutes


class SeamMismatch(RuntimeError):
    """The recomputed rows before the cut differ from the layer's: the append is not exact."""


def scratch_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name.removesuffix(".duckdb") + ".append.duckdb")


def narrow_vars(dbt_vars: dict[str, Any], load_from: dt.datetime) -> dict[str, Any]:
    return {**dbt_vars, "append_load_from": load_from.isoformat(sep=" ")}


def narrow_args() -> list[str]:
    """dbt arguments of the recomputation: the layer's models and their data tests."""
    return ["build", "--select", *LAYER_MODELS, "--exclude-resource-type", "unit_test",
            "--no-use-colors"]


def bounds_for(cfg, effective: dict[str, Any], cut: dt.datetime):
    load_start = dt.datetime.combine(cfg.start_date, dt.time()) - dt.timedelta(
        days=cfg.lookback_days)
    return append_bounds(cut, load_start, cfg.bar_minutes, history_minutes(effective))


def _ts(value: dt.datetime) -> str:
    return f"timestamp '{value.isoformat(sep=' ')}'"


# the seam check's tolerance for floating-point columns (relative): DuckDB sums a window frame
# in a segment tree over a bin of partitions whose layout follows the data's size, so a window
# sum recomputed over fewer rows can differ from the first build's in its last bits (measured
# at 20 x 365: at most 1.8e-15 relative, on zmove_5m); a wrong history moves values by far more
SEAM_REL_TOL = 1e-9


def _float_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_catalog = 'appended' "
        "and table_schema = 'main' and table_name = ? and data_type in ('DOUBLE', 'FLOAT') "
        "order by ordinal_position", [table]).fetchall()]


def seam_differences(con: duckdb.DuckDBPyConnection, table: str, seam: str
                     ) -> tuple[int, int, float]:
    """(rows that differ beyond the tolerance, float cells that differ within it, the largest
    relative difference) between ``main.<table>`` and ``appended.main.<table>`` on ``seam``."""
    # each side's seam rows read once (the tables are not sorted by time: a filter scans them)
    con.execute(f'create or replace temp table seam_a as select * from main."{table}" '
                f'where {seam}')
    con.execute(f'create or replace temp table seam_b as select * from appended.main."{table}" '
                f'where {seam}')
    exact = con.execute(
        "select count(*) from ((from seam_a except all from seam_b) union all "
        "(from seam_b except all from seam_a))").fetchone()[0]
    if not exact:
        return 0, 0, 0.0
    key = LAYER_KEYS[table]
    floats = [c for c in _float_columns(con, table) if c not in key]
    others = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_catalog = 'appended' "
        "and table_schema = 'main' and table_name = ? order by ordinal_position",
        [table]).fetchall() if r[0] not in key and r[0] not in floats]
    on = " and ".join(f'a."{k}" is not distinct from b."{k}"' for k in key)
    same_other = " and ".join(f'a."{c}" is not distinct from b."{c}"' for c in others) or "true"
    rel = [f'case when a."{c}" is distinct from b."{c}" then abs(a."{c}" - b."{c}") / '
           f'greatest(abs(a."{c}"), abs(b."{c}")) end' for c in floats]
    close = " and ".join(
        f'((a."{c}" is null and b."{c}" is null) or (a."{c}" is not null and b."{c}" is not null '
        f'and (a."{c}" = b."{c}" or {r} <= {SEAM_REL_TOL})))' for c, r in zip(floats, rel)) \
        or "true"
    moved = " + ".join(f'(a."{c}" is distinct from b."{c}")::int' for c in floats) or "0"
    biggest = ("greatest(" + ", ".join(f"coalesce({r}, 0)" for r in rel) + ")") if rel else "0"
    row = con.execute(
        f'select count(*) filter (where a."{key[0]}" is null or b."{key[0]}" is null '
        f'or not ({same_other}) or not ({close})), sum({moved}), max({biggest}) '
        f'from seam_a a full outer join seam_b b on {on}').fetchone()
    return int(row[0] or 0), int(row[1] or 0), float(row[2] or 0.0)


def splice(warehouse: Path, scratch: Path, check_from: dt.datetime,
           splice_from: dt.datetime, log: Callable[[str], None]) -> dict[str, Any]:
    """Check the seam of every layer table, then replace its rows from ``splice_from`` on with
    the scratch build's. Raises :class:`SeamMismatch` (nothing written) when a seam differs
    beyond :data:`SEAM_REL_TOL`. Returns the rows inserted per table and what the seams held."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"attach '{scratch.as_posix()}' as appended (read_only)")
        cells, worst = 0, 0.0
        for table, col in LAYER_TABLES.items():
            seam = f'"{col}" >= {_ts(check_from)} and "{col}" < {_ts(splice_from)}'
            n_seam = con.execute(f'select count(*) from main."{table}" where {seam}').fetchone()[0]
            bad, moved, rel = seam_differences(con, table, seam)
            if bad:
                raise SeamMismatch(f"{table}: {bad} of its {n_seam} rows in [{check_from}, "
                                   f"{splice_from}) differ between the layer and the "
                                   "recomputation")
            cells, worst = cells + moved, max(worst, rel)
        inserted: dict[str, int] = {}
        con.execute("begin transaction")
        for table, col in LAYER_TABLES.items():
            con.execute(f'delete from main."{table}" where "{col}" >= {_ts(splice_from)}')
            con.execute(f'insert into main."{table}" by name select * from '
                        f'appended.main."{table}" where "{col}" >= {_ts(splice_from)}')
            inserted[table] = con.execute(f'select count(*) from main."{table}" where '
                                          f'"{col}" >= {_ts(splice_from)}').fetchone()[0]
        con.execute("commit")
        con.execute("detach appended")
        con.execute("checkpoint")
    finally:
        con.close()
    log(f"data layer: seams equal ({cells} floating-point cells differ in their last bits, at "
        f"most {worst:.1e} relative); rows from {splice_from} on replaced in {len(inserted)} "
        f"tables ({sum(inserted.values()):,} rows)")
    return {"rows": inserted, "seam_float_cells_differing": cells, "seam_max_rel_diff": worst}
