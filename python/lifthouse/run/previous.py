"""A run id's earlier outputs (docs/running.md, "Status, reruns and interruptions"): what is
checked before they are touched, and where they go when a rerun starts, so any number of failed
reruns never lose the last complete outputs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lifthouse.run.config import RunConfig
from lifthouse.run.errors import RunError
from lifthouse.run.warehouse import WarehouseError, ensure_unlocked


def check_before_outputs(cfg: RunConfig) -> None:
    """Everything that can fail before the build and is known now: the DuckDB settings of the
    environment (``lifthouse.run.resources``) and the warehouse lock. Runs before the run id's
    earlier outputs are touched, so a rerun refused here leaves them exactly as they were."""
    from lifthouse.run.resources import check_environment

    try:
        check_environment(cfg.warehouse_path)
    except ValueError as exc:
        raise RunError(f"{exc}\n  fix: set a valid value or unset the variable (docs/running.md, "
                       "\"Memory and threads\"); the outputs of "
                       f"{cfg.run_id} were not touched", 2) from exc
    try:
        ensure_unlocked(cfg.warehouse_path)
    except WarehouseError as exc:
        raise RunError(f"{exc}\n  the outputs of {cfg.run_id} were not touched", 1) from exc


def _outputs_complete(cfg: RunConfig) -> bool | None:
    """Whether the outputs now under the run id are a finished run (their manifest says
    ``complete``); None when there is no readable manifest (an older layout)."""
    try:
        return json.loads(cfg.layout.manifest_path.read_text()).get("status") == "complete"
    except (OSError, ValueError, AttributeError):
        return None


def move_previous_outputs(cfg: RunConfig) -> list[Path]:
    """Move an earlier run's outputs of this run_id (exports, tables, manifest, log, report)
    out of the way, so nothing stale sits beside the new build. ``<out>/previous/<run_id>/``
    keeps the last *complete* outputs: only a complete set replaces it. Outputs of a failed
    or interrupted attempt go to ``<out>/previous/<run_id>.incomplete/`` instead (replacing an
    older incomplete set), so any number of failed reruns never lose the last good report.
    Returns the folders moved."""
    lay = cfg.layout
    targets = {"ablation": lay.ablation_dir, "phase2": lay.phase2_dir, "runs": lay.run_dir,
               "reports": cfg.report_dir}
    present = {name: path for name, path in targets.items() if path.exists()}
    good = cfg.out_dir / "previous" / cfg.run_id
    complete = _outputs_complete(cfg)
    keep = good if complete or (complete is None and not good.exists()) else \
        good.with_name(f"{cfg.run_id}.incomplete")
    try:
        if present and keep.exists():
            shutil.rmtree(keep)
        for name, path in present.items():
            keep.mkdir(parents=True, exist_ok=True)
            os.replace(path, keep / name)
        lay.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot write the run's outputs under {cfg.out_dir}: {exc.strerror} "
                       f"({exc.filename})\n  choose a writable --out-dir or fix its "
                       "permissions", 2) from exc
    return [keep] if present else []
