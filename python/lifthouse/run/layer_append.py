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

from lifthouse.run.layer import LAYER_MODELS, LAYER_TABLES
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


def splice(warehouse: Path, scratch: Path, check_from: dt.datetime,
           splice_from: dt.datetime, log: Callable[[str], None]) -> dict[str, int]:
    """Check the seam of every layer table, then replace its rows from ``splice_from`` on with
    the scratch build's. Raises :class:`SeamMismatch` (nothing written) when a seam differs.
    Returns the rows inserted per table."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"attach '{scratch.as_posix()}' as appended (read_only)")
        for table, col in LAYER_TABLES.items():
            seam = f'"{col}" >= {_ts(check_from)} and "{col}" < {_ts(splice_from)}'
            n_diff = con.execute(
                f'select count(*) from ((select * from main."{table}" where {seam} '
                f'except all select * from appended.main."{table}" where {seam}) union all '
                f'(select * from appended.main."{table}" where {seam} except all '
                f'select * from main."{table}" where {seam}))').fetchone()[0]
            n_seam = con.execute(f'select count(*) from main."{table}" where {seam}').fetchone()[0]
            if n_diff:
                raise SeamMismatch(f"{table}: {n_diff} rows of [{check_from}, {splice_from}) "
                                   f"differ between the layer and the recomputation "
                                   f"({n_seam} rows in the layer)")
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
    log(f"data layer: seams equal, rows from {splice_from} on replaced in "
        f"{len(inserted)} tables ({sum(inserted.values()):,} rows)")
    return inserted
