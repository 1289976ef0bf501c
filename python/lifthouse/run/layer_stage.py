"""The data layer within a run (:mod:`lifthouse.run.stages`): plan it once the preflight has
passed, hold its lock while building it, prepare the warehouse before dbt builds (copy a reused
layer, or copy and extend one), publish the run's layer in the background while the run
exports, and record what was done in the manifest (``data_layer``)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Callable

from lifthouse.data.lock import lock_timeout
from lifthouse.run.config import effective_vars
from lifthouse.run.dbt import dbt_failure_message, run_dbt
from lifthouse.run.errors import RunError
from lifthouse.run.layer_append import (SeamMismatch, bounds_for, narrow_args, narrow_vars,
                                        scratch_path, splice)
from lifthouse.run.layer import day_digests
from lifthouse.run.layer_plan import (LayerPlan, copy_layer, last_months, layer_lock, plan_layer,
                                      publish_layer)
from lifthouse.run.warehouse import ensure_unlocked


class LayerSession:
    """One run's use of the layer store: its plan, the lock of the layer it builds, the
    background publish."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.current: LayerPlan | None = None
        self._stack = contextlib.ExitStack()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def tentative_plan(self) -> LayerPlan | None:
        """The plan as the raw data stand before the preflight (for dbt's early start)."""
        try:
            return plan_layer(self.cfg, effective_vars(self.cfg))
        except Exception:  # noqa: BLE001 - the real plan, after the preflight, says why
            return None

    def plan(self, log: Callable[[str], None]) -> LayerPlan:
        t0 = time.perf_counter()
        plan = plan_layer(self.cfg, effective_vars(self.cfg))
        if plan.publishes:
            # one run builds a layer id; another run of the same fingerprint waits, then reuses
            waited = self._stack.enter_context(layer_lock(plan.store, plan.layer_id,
                                                          lock_timeout(), log))
            if waited:   # the other run has published it meanwhile (or failed: build it)
                again = plan_layer(self.cfg, effective_vars(self.cfg))
                if again.layer_id == plan.layer_id and again.mode == "reuse":
                    plan = again
        plan.seconds["plan"] = time.perf_counter() - t0
        log(f"data layer: {plan.mode} ({plan.reason})"
            + (f"; layer {plan.layer_id}" if plan.layer_id else ""))
        self.current = plan
        return plan

    def publish_in_background(self, log: Callable[[str], None]) -> None:
        plan = self.current
        if plan is None or not plan.publishes:
            return

        def work() -> None:
            t0 = time.perf_counter()
            try:
                days = day_digests(self.cfg.data_dir, list(self.cfg.symbols),
                                   last_months(plan.months))
                path = publish_layer(plan, self.cfg.warehouse_path, self.cfg.run_id, days)
                plan.seconds["publish"] = time.perf_counter() - t0
                log(f"data layer {plan.layer_id} published: {path} "
                    f"({path.stat().st_size / 1e6:,.0f} MB)")
            except BaseException as exc:  # noqa: BLE001 - reported by finish()
                self._error = exc

        self._thread = threading.Thread(target=work, name="publish-layer", daemon=True)
        self._thread.start()

    def finish(self, log: Callable[[str], None]) -> None:
        """Wait for the publish; a failed publish is a warning (the run's outputs stand)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            log(f"warning: the data layer could not be published ({self._error}); the next run "
                "builds it again")
            if self.current is not None:
                self.current.fell_back = f"publish failed: {self._error}"
            self._error = None
        self._stack.close()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self._stack.close()


def prepare_layer(cfg, plan: LayerPlan, log: Callable[[str], None]) -> None:
    """Before the build: copy a reused layer into the run's warehouse, or copy and extend one
    (an append whose seam differs falls back to a cold build, which the plan then says)."""
    if plan.mode not in ("reuse", "append"):
        return
    ensure_unlocked(cfg.warehouse_path)
    t0 = time.perf_counter()
    try:
        copy_layer(plan.source, cfg.warehouse_path)
    except FileNotFoundError:   # pruned since the plan: build it
        _fall_back(cfg, plan, "the layer's file was removed (pruned) before it was copied", log)
        return
    plan.seconds["copy"] = time.perf_counter() - t0
    log(f"data layer {plan.source.layer_id} copied into {cfg.warehouse_path} "
        f"in {plan.seconds['copy']:.1f} s")
    if plan.mode == "append":
        try:
            _append(cfg, plan, log)
        except SeamMismatch as exc:
            _fall_back(cfg, plan, f"the append's seam check failed ({exc})", log)


def _fall_back(cfg, plan: LayerPlan, why: str, log: Callable[[str], None]) -> None:
    log(f"data layer: {why}; building it cold")
    plan.fell_back = why
    plan.mode, plan.source, plan.cut = "cold", None, None
    for path in (cfg.warehouse_path, Path(str(cfg.warehouse_path) + ".wal")):
        path.unlink(missing_ok=True)


def _append(cfg, plan: LayerPlan, log: Callable[[str], None]) -> None:
    effective = effective_vars(cfg)
    bounds = bounds_for(cfg, effective, plan.cut)
    if bounds is None:  # plan_layer checked it; kept for safety
        raise SeamMismatch("the cut is too close to the window's start")
    load_from, check_from, splice_from = bounds
    scratch = scratch_path(cfg.warehouse_path)
    for path in (scratch, Path(str(scratch) + ".wal")):
        path.unlink(missing_ok=True)
    log(f"data layer: recomputing the layer's models from {load_from} (bars from {splice_from} "
        f"replace the layer's; [{check_from}, {splice_from}) must come out equal)")
    try:   # the scratch file never outlives the append (failed, interrupted or done)
        t0 = time.perf_counter()
        run = run_dbt(narrow_args(), warehouse=scratch, target_dir=cfg.target_dir / "append",
                      vars=narrow_vars(cfg.dbt_vars(), load_from), check=False)
        plan.seconds["append_build"] = time.perf_counter() - t0
        if run.returncode != 0:
            raise RunError("the data layer's append failed: " + dbt_failure_message(
                run.stdout, run.returncode, scratch), 1)
        t0 = time.perf_counter()
        seam = splice(cfg.warehouse_path, scratch, check_from, splice_from, log)
        plan.seam = {k: v for k, v in seam.items() if k != "rows"}
        plan.seconds["splice"] = time.perf_counter() - t0
    finally:
        for path in (scratch, Path(str(scratch) + ".wal")):
            path.unlink(missing_ok=True)
