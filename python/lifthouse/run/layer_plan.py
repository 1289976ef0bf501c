"""Per run: which data layer to use (:func:`plan_layer`), the lock that lets one run build a
layer while another with the same fingerprint waits (:func:`layer_lock`), copying a layer into
the run's warehouse (:func:`copy_layer`) and publishing the run's layer into the store
(:func:`publish_layer`). The fingerprint and the store: :mod:`lifthouse.run.layer`."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb

from lifthouse.run.layer import (DAY_DIGEST_MONTHS, LAYER_MODELS, LAYER_TABLES, LayerRecord,
                                 base_id, code_digest, day_digests, first_changed,
                                 first_changed_day, layer_base, layer_dir, layer_id, layer_path,
                                 month_digests, months_read, read_layers, record_path)

# the rows of an append are recomputed from whole grid blocks of the first build (DuckDB's
# window aggregates combine 64 x 64 rows per node: a block of 4,096 bars sums in the same
# order whatever precedes it, so the recomputed bars are bit-identical to a cold build's)
GRID_BLOCK_BARS = 4096


@dataclass
class LayerPlan:
    """What a run does with the data layer.

    mode: ``reuse`` (copy the finished layer ``source``), ``append`` (copy ``source`` and
    recompute from ``cut`` on), ``cold`` (build it, then publish it) or ``off`` (build it, keep
    no layer: ``--fresh`` keeps publishing; the Spark engine and a custom selection do not)."""
    mode: str
    reason: str
    store: Path
    layer_id: str = ""
    base_id: str = ""
    base: dict[str, Any] = field(default_factory=dict)
    months: dict[str, str] = field(default_factory=dict)
    end_date: str = ""
    source: LayerRecord | None = None
    cut: dt.datetime | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    fell_back: str = ""
    seam: dict[str, Any] = field(default_factory=dict)

    @property
    def publishes(self) -> bool:
        return self.mode in ("cold", "append")

    def stored_models(self) -> dict[str, str]:
        """The models the run takes from the stored layer instead of building them (the build
        leaves them out), each ``reused`` as stored or ``appended`` (its rows extended by the
        append; the layer's views hold the window, so an append re-creates them)."""
        if self.mode == "reuse":
            return {m: "reused" for m in LAYER_MODELS}
        if self.mode == "append":
            return {m: "appended" for m in LAYER_TABLES}
        return {}

    def manifest(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "reason": self.reason, "layer_id": self.layer_id or None,
            "base_id": self.base_id or None, "store": str(self.store),
            "source_layer": self.source.layer_id if self.source else None,
            "cut": self.cut.isoformat(sep=" ") if self.cut else None,
            "fell_back": self.fell_back or None, "seam": self.seam or None,
            "fingerprint": {"base": self.base, "months": self.months, "end_date": self.end_date},
        }


def history_minutes(effective: dict[str, Any]) -> int:
    """Minutes of history an append recomputes before the rows it checks: the longest trailing
    window of the layer's features and states, plus a day."""
    return (max(int(effective["vol_regime_window_days"]) * 1440,
                int(effective["baseline_minutes"]),
                int(effective.get("vacuum_baseline_minutes") or 0)) + 1440)


def append_bounds(cut: dt.datetime, load_start: dt.datetime, bar_minutes: int,
                  history: int) -> tuple[dt.datetime, dt.datetime, dt.datetime] | None:
    """(load_from, check_from, splice_from) of an append whose rows from ``cut`` on are new or
    changed: rows from ``splice_from`` (a day before the cut, so a bar that looks at the next
    row is redone too) replace the layer's; rows in [check_from, splice_from) are computed again
    and must equal the layer's (the seam check); the recomputation loads from ``load_from``, a
    whole number of grid blocks after the first build's load start, at least ``history``
    minutes before ``check_from``. None when the cut is too close to the start to gain."""
    splice_from = cut - dt.timedelta(days=1)
    check_from = splice_from - dt.timedelta(days=1)
    block = dt.timedelta(minutes=GRID_BLOCK_BARS * bar_minutes)
    latest = check_from - dt.timedelta(minutes=history)
    if latest <= load_start:
        return None
    n_blocks = (latest - load_start) // block
    if n_blocks < 1:
        return None
    return load_start + n_blocks * block, check_from, splice_from


def plan_layer(cfg, effective: dict[str, Any]) -> LayerPlan:
    """The run's :class:`LayerPlan`: reuse a layer of the same fingerprint; else extend the
    layer of the same base whose data differ latest (new days, or a changed month: recomputed
    from that month on); else build cold."""
    from lifthouse.run.config import DEFAULT_SELECT

    store = layer_dir(cfg.out_dir)
    if cfg.engine != "duckdb":
        return LayerPlan("off", f"the {cfg.engine} engine builds cold (docs/spark.md)", store)
    if tuple(cfg.select) != DEFAULT_SELECT:
        return LayerPlan("off", "a custom --select builds cold", store)
    base = layer_base(effective, code_digest())
    months = month_digests(cfg.data_dir, list(cfg.symbols),
                           months_read(cfg.start_date, cfg.end_date, cfg.lookback_days,
                                       int(effective["funding_lookback_days"])))
    end = cfg.end_date.isoformat()
    bid, lid = base_id(base), layer_id(base, months, end)
    plan = LayerPlan("cold", "", store, lid, bid, base, months, end)
    if cfg.fresh:
        plan.reason = "--fresh: built cold (and published)"
        return plan
    stored = read_layers(store)
    found = next((r for r in stored if r.layer_id == lid), None)
    if found is not None and found.intact():
        plan.mode, plan.source = "reuse", found
        plan.reason = f"the layer {lid} has the same fingerprint"
        return plan
    if found is not None:
        plan.reason = (f"the layer {lid} was changed after it was published (size or "
                       "modification time): built again")
        return plan
    load_start = dt.datetime.combine(cfg.start_date, dt.time()) - dt.timedelta(
        days=cfg.lookback_days)
    best: tuple[dt.datetime, LayerRecord] | None = None
    for rec in stored:
        if rec.base_id != bid or rec.end_date > cfg.end_date or not rec.intact():
            continue
        changed = first_changed(rec.months, months)
        cut = dt.datetime.combine(rec.end_date, dt.time())
        if changed is not None:
            cut = min(cut, _changed_from(cfg, rec, changed))
        if append_bounds(cut, load_start, cfg.bar_minutes, history_minutes(effective)) is None:
            continue
        if best is None or cut > best[0]:
            best = (cut, rec)
    if best is not None:
        plan.mode, plan.cut, plan.source = "append", best[0], best[1]
        plan.reason = (f"the layer {best[1].layer_id} covers the same base up to "
                       f"{best[1].end_date}; rows from {best[0]:%Y-%m-%d %H:%M} on are recomputed")
        return plan
    plan.reason = ("no layer of this fingerprint" if not any(r.base_id == bid for r in stored) else
                   "the layers of this base differ too early to extend (a change near the "
                   "window's start) or cover a later end")
    return plan


def _changed_from(cfg, rec: LayerRecord, month: str) -> dt.datetime:
    """Where the data of a changed month start to differ: the first changed day when the layer
    recorded that month's day digests (its last months: a day landing in the current month),
    else the month's start."""
    start = dt.datetime.strptime(month, "%Y-%m")
    old_days = rec.record.get("days") or {}
    if not any(k.rsplit("/", 1)[1].startswith(month) for k in old_days):
        return start
    day = first_changed_day(old_days, day_digests(cfg.data_dir, list(cfg.symbols), [month]),
                            month)
    if day is None:   # the file changed, its rows did not (metadata): nothing to redo
        return dt.datetime.combine(rec.end_date, dt.time())
    return dt.datetime.fromisoformat(day)


def last_months(months: dict[str, str], n: int = DAY_DIGEST_MONTHS) -> list[str]:
    return sorted({k.rsplit("/", 1)[1] for k in months})[-n:]


# ----------------------------------------------------------------------------------------------
# locks, copies, publishing

@contextlib.contextmanager
def layer_lock(store: Path, lid: str, timeout: float, log=print) -> Iterator[bool]:
    """An exclusive lock on one layer id while a run builds it: a second run of the same
    fingerprint waits here (at most ``timeout`` seconds), then finds the layer published.
    Yields whether it waited (only then can the store have changed since the plan)."""
    store.mkdir(parents=True, exist_ok=True)
    fd = os.open(store / f"{lid}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said:
                    log(f"another run is building the data layer {lid}: waiting for it "
                        f"(at most {timeout:.0f} s, $LIFTHOUSE_LOCK_TIMEOUT)")
                    said = True
                if time.monotonic() > deadline:
                    from lifthouse.run.errors import RunError

                    raise RunError(
                        f"the data layer {lid} stayed locked by another run for {timeout:.0f} s "
                        f"({store / (lid + '.lock')}): that run is still building it\n  fix: "
                        "wait for it and re-run (the layer is then reused), raise "
                        "$LIFTHOUSE_LOCK_TIMEOUT, or pass --fresh with another --out-dir", 1
                    ) from None
                time.sleep(0.5)
        yield said
    finally:
        os.close(fd)


def _fresh_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temp file and a rename; a stale WAL of ``dst`` (a crashed
    earlier build) is removed, or DuckDB would replay it into the copy."""
    tmp = dst.with_name(dst.name + ".copying")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, tmp)
        dst.with_name(dst.name + ".wal").unlink(missing_ok=True)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def copy_layer(source: LayerRecord, warehouse: Path) -> None:
    """The run's warehouse starts as a copy of the layer's file (the layer itself is never
    written after it is published)."""
    _fresh_copy(source.path, warehouse)


def publish_layer(plan: LayerPlan, warehouse: Path, run_id: str,
                  days: dict[str, str] | None = None) -> Path:
    """Copy the run's warehouse into the store as the layer ``plan.layer_id``: every relation
    that is not a layer model is dropped from the copy, then the file is renamed into place and
    its record written last (a layer without a record is never reused). Returns the file."""
    store = plan.store
    store.mkdir(parents=True, exist_ok=True)
    final = layer_path(store, plan.layer_id)
    tmp = store / f".{plan.layer_id}.{os.getpid()}.partial"
    try:
        shutil.copyfile(warehouse, tmp)
        con = duckdb.connect(str(tmp))
        try:
            rows = con.execute("select table_name, table_type from information_schema.tables "
                               "where table_schema = 'main'").fetchall()
            for name, kind in rows:
                if name not in LAYER_MODELS:
                    con.execute(f'drop {"view" if kind == "VIEW" else "table"} '
                                f'if exists main."{name}"')
            con.execute("checkpoint")
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    record = {
        "layer_id": plan.layer_id, "base_id": plan.base_id, "base": plan.base,
        "months": plan.months, "end_date": plan.end_date, "days": days or {},
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "built_by_run": run_id, "mode": plan.mode,
        "source_layer": plan.source.layer_id if plan.source else None,
        "bytes": final.stat().st_size, "mtime_ns": final.stat().st_mtime_ns,
    }
    rec_tmp = record_path(store, plan.layer_id).with_suffix(".json.partial")
    rec_tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    os.replace(rec_tmp, record_path(store, plan.layer_id))
    return final
