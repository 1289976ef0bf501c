"""``lifthouse warehouse list|prune``: the data layers of an out dir's layer store
(:mod:`lifthouse.run.layer`) and the runs' warehouse files, with their disk use; ``prune``
removes the layers a newer one of the same base supersedes (or ``--all``, or those older than
``--older-than`` days) and the leftovers of interrupted publishes."""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
from pathlib import Path

from lifthouse.run.layer import LayerRecord, layer_dir, read_layers, record_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                help="list: the layers and warehouses; prune: remove layers")
    for name, help_ in (("list", "the stored data layers and the run warehouses, with disk use"),
                        ("prune", "remove superseded data layers and leftovers")):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--out-dir", "--out_dir", dest="out_dir", default=".",
                       help="the runs' out dir (default: the current directory); the store is "
                            "<out-dir>/warehouse/layers or $LIFTHOUSE_LAYER_DIR")
        if name == "prune":
            p.add_argument("--all", action="store_true", help="remove every stored layer")
            p.add_argument("--older-than", type=float, metavar="DAYS",
                           help="also remove layers created more than DAYS days ago")
            p.add_argument("--dry-run", action="store_true", help="say what would go, remove "
                                                                  "nothing")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(store: Path) -> list[Path]:
    """Files of interrupted publishes: a partial copy whose process is gone, a layer file
    without its record."""
    out = []
    if not store.is_dir():
        return out
    for f in store.glob(".*.partial"):
        parts = f.name.split(".")
        pid = int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 0
        if not pid or not _pid_alive(pid):
            out.append(f)
    for f in store.glob("*.duckdb"):
        if not record_path(store, f.stem).exists():
            out.append(f)
    return sorted(out)


def superseded(layers: list[LayerRecord]) -> list[LayerRecord]:
    """Per base, every layer but the newest (the latest end, then the latest created)."""
    newest: dict[str, LayerRecord] = {}
    for rec in layers:
        key = (rec.end_date, rec.record.get("created_at", ""))
        cur = newest.get(rec.base_id)
        if cur is None or key > (cur.end_date, cur.record.get("created_at", "")):
            newest[rec.base_id] = rec
    return [r for r in layers if newest[r.base_id] is not r]


def _remove_layer(store: Path, rec: LayerRecord) -> bool:
    """Remove a layer unless a run holds its lock (building or publishing it). A run copying
    it keeps reading the removed file's data until its copy ends (POSIX unlink)."""
    fd = os.open(store / f"{rec.layer_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        record_path(store, rec.layer_id).unlink(missing_ok=True)   # the record first
        rec.path.unlink(missing_ok=True)
        (store / f"{rec.layer_id}.lock").unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    store = layer_dir(out_dir)
    layers = read_layers(store)
    if args.action == "list":
        print(f"data layers in {store}:")
        if not layers:
            print("  (none)")
        for rec in sorted(layers, key=lambda r: r.record.get("created_at", "")):
            v = rec.record.get("base", {}).get("vars", {})
            syms = v.get("symbols") or []
            print(f"  {rec.layer_id}  {_mb(rec.path.stat().st_size):>10}  "
                  f"{v.get('bar_minutes')}m  {len(syms)} symbols  {v.get('start_date')} .. "
                  f"{rec.end_date}  {rec.record.get('mode')} by run "
                  f"{rec.record.get('built_by_run')} at {rec.record.get('created_at')}  "
                  f"base {rec.base_id}")
        left = leftovers(store)
        for f in left:
            print(f"  leftover (interrupted publish): {f.name}  {_mb(f.stat().st_size)}")
        warehouses = sorted((out_dir / "warehouse").glob("*.duckdb"))
        print(f"run warehouses in {out_dir / 'warehouse'}:")
        for f in warehouses:
            print(f"  {f.name}  {_mb(f.stat().st_size):>10}")
        total_layers = sum(r.path.stat().st_size for r in layers) + sum(
            f.stat().st_size for f in left)
        total_runs = sum(f.stat().st_size for f in warehouses)
        print(f"disk: layers {_mb(total_layers)}, run warehouses {_mb(total_runs)}, together "
              f"{_mb(total_layers + total_runs)}; superseded layers: "
              f"{len(superseded(layers))} (`lifthouse warehouse prune` removes them)")
        return 0
    now = dt.datetime.now(dt.timezone.utc)
    doomed = list(layers) if args.all else superseded(layers)
    if args.older_than is not None:
        for rec in layers:
            created = dt.datetime.fromisoformat(rec.record.get("created_at", now.isoformat()))
            if (now - created).total_seconds() > args.older_than * 86400 and rec not in doomed:
                doomed.append(rec)
    freed = 0
    for rec in doomed:
        size = rec.path.stat().st_size
        if args.dry_run:
            print(f"would remove layer {rec.layer_id} ({_mb(size)})")
        elif _remove_layer(store, rec):
            print(f"removed layer {rec.layer_id} ({_mb(size)})")
            freed += size
        else:
            print(f"kept layer {rec.layer_id}: a run is building or publishing it")
    for f in leftovers(store):
        size = f.stat().st_size
        if args.dry_run:
            print(f"would remove leftover {f.name} ({_mb(size)})")
        else:
            f.unlink(missing_ok=True)
            print(f"removed leftover {f.name} ({_mb(size)})")
            freed += size
    print(f"{'nothing removed (dry run)' if args.dry_run else 'freed ' + _mb(freed)}")
    return 0
