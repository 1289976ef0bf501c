"""The stages of ``lifthouse run`` (the Milestone D run) and the pipeline that runs them; the
command line is :mod:`lifthouse.run.command`.

Stages, each timed and logged as ``[k/5]``:

1. preflight  — data coverage for the window + lookback (fail fast, or fill with --ingest /
                --generate and check again);
2. build      — ``dbt build --select +lift_summary +phase2_candidate_results +phase2_grid_tests +dq_perp_kline_gaps
                +path:models/marts/reporting`` into the run's own
                warehouse file (``<out>/warehouse/<run_id>.duckdb``); logs "Phase 2 complete".
                dbt is started before stage 1 and parses meanwhile; it builds only once
                stage 1 has passed (``start_build``, ``lifthouse.run.gate``);
3. export     — deterministic CSV / Parquet under ``<out>/data/reports/{ablation,phase2}/<run_id>/``
                and the report tables under ``<out>/data/reports/runs/<run_id>/tables/``;
                logs "Ablation report written";
4. report     — ``<out>/reports/<run_id>/executive_summary.md`` + ``figures/*.png``;
5. manifest   — ``<out>/data/reports/runs/<run_id>/manifest.json`` (vars, data fingerprint,
                versions, per-model timings and row counts, per-stage timings, output hashes).

See docs/running.md.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lifthouse.data.schema import RawDataError
from lifthouse.run.config import RunConfig, effective_vars
from lifthouse.run.dbt import (REPO_ROOT, StartedDbt, dbt_failure_message, failed_test_rows,
                               start_dbt)
from lifthouse.run.errors import RunError, RunInterrupted
from lifthouse.run.export import ExportLayout, export_run, phase2_counts
from lifthouse.run.fill import label_by_origin, stage_preflight
from lifthouse.run.log import RunLog
from lifthouse.run.manifest import (build_manifest, fingerprint_in_background, run_status,
                                    write_manifest)
from lifthouse.run.progress import DbtProgress
from lifthouse.run.report.answers import answers
from lifthouse.run.report.figures import preload_in_background as preload_figures
from lifthouse.run.report.inputs import ReportMeta, load_inputs
from lifthouse.run.report.write import write_report
from lifthouse.run.resources import resolve as resolve_resources
from lifthouse.run.reproduce import reproduce_commands
from lifthouse.run.previous import check_before_outputs, move_previous_outputs
from lifthouse.run.layer_plan import LayerPlan
from lifthouse.run.layer_stage import LayerSession, prepare_layer
from lifthouse.run.warehouse import WarehouseError, WarehouseLockedError, ensure_unlocked


# --------------------------------------------------------------------------------------------
# stage 2: build


def build_command(cfg: RunConfig, plan: LayerPlan | None = None
                  ) -> tuple[list[str], dict[str, str]]:
    """The run's dbt arguments and the environment of its engine. A reused data layer's models
    are left out (an appended layer's views are re-created: they hold the window)."""
    # dbt unit tests check the SQL logic on hand-built fixtures, not this run's data; `make test`
    # runs them, the run skips them (about 4 s). Every data test still runs.
    args = ["build", "--select", *cfg.select, "--exclude-resource-type", "unit_test"]
    stored = plan.stored_models() if plan is not None else {}
    if stored:
        args += ["--exclude", *stored]
    engine_args, engine_env = engine_build_args(cfg)
    return [*args, *engine_args], engine_env


def _dbt_call(cfg: RunConfig, args: list[str], engine_env: dict[str, str]) -> dict[str, Any]:
    """The arguments of ``start_dbt`` (and of ``StartedDbt.runs``) for the run's build."""
    return dict(args=[*args, "--no-use-colors"], vars=cfg.dbt_vars(), extra_env=engine_env,
                warehouse=cfg.warehouse_path, target_dir=cfg.target_dir)


def start_build(cfg: RunConfig, plan: LayerPlan | None = None) -> StartedDbt | None:
    """The run's dbt build, started before the preflight: dbt imports itself and parses the
    project meanwhile, then waits at its gate (``lifthouse.run.gate``) until ``stage_build``
    releases it, so nothing is built before the preflight has passed. None when the
    warehouse is held by another process now (``stage_build`` says so, as before)."""
    try:
        ensure_unlocked(cfg.warehouse_path)
    except (WarehouseLockedError, WarehouseError):
        return None
    return start_dbt(**_dbt_call(cfg, *build_command(cfg, plan)), gated=True)


def stage_build(cfg: RunConfig, log: RunLog, started: StartedDbt | None = None,
                plan: LayerPlan | None = None) -> dict:
    """dbt build (released from ``start_build``'s gate, or started now), streamed through the
    progress log, over the data layer ``plan`` prepares (``lifthouse.run.layer_stage``); raises
    RunError with dbt's error lines and failing rows when it fails."""
    if plan is not None:
        prepare_layer(cfg, plan, log)
    args, engine_env = build_command(cfg, plan)
    call = _dbt_call(cfg, args, engine_env)
    if started is not None and not started.runs(**call):
        started.abort()      # the run changed after the early start: build what it is now
        started = None
    if started is None:
        ensure_unlocked(cfg.warehouse_path)
        started = start_dbt(**call)
    log(f"dbt {' '.join(args)} -> {cfg.warehouse_path}")
    log(resolve_resources(cfg.warehouse_path).describe())
    progress = DbtProgress(log, verbose=cfg.verbose, raw=log.raw)
    run = started.finish(on_line=progress)
    if run.returncode != 0:
        raise RunError(dbt_failure_message(run.stdout, run.returncode, cfg.warehouse_path,
                                           failed_test_rows(run.run_results(),
                                                            cfg.warehouse_path)), 1)
    if cfg.engine == "spark":
        # the export, report and manifest stages read a Spark build as they read a DuckDB one
        from lifthouse.run.spark import publish

        publish(cfg.spark_dir, cfg.warehouse_path)
    n_cand, n_trades = phase2_counts(cfg.warehouse_path)
    log(f"Phase 2 complete: {n_cand} candidates, {n_trades} trades "
        f"(warehouse {cfg.warehouse_path})")
    return run.run_results()


def engine_build_args(cfg: RunConfig) -> tuple[list[str], dict[str, str]]:
    """dbt arguments and environment of the run's engine (none for DuckDB, the default target)."""
    if cfg.engine != "spark":
        return [], {}
    from lifthouse.run.spark import spark_env

    return ["--target", "spark"], spark_env(cfg.spark_dir)


# --------------------------------------------------------------------------------------------
# stages 3-5


def stage_export(cfg: RunConfig, log: RunLog):
    result = export_run(cfg.warehouse_path, cfg.layout)
    lay = cfg.layout
    log(f"Ablation report written: {lay.ablation_dir / 'lift_summary.csv'} "
        f"({result.rows.get('lift_summary', 0)} rows); phase 2 tables in {lay.phase2_dir}")
    return result


def report_meta(cfg: RunConfig):
    vars_ = effective_vars(cfg)
    return ReportMeta(
        run_id=cfg.run_id, start_date=cfg.start_date.isoformat(),
        end_date=cfg.end_date.isoformat(), symbols=list(cfg.symbols), vars=vars_,
        reproduce=list(cfg.reproduce) or reproduce_commands(cfg),
        min_n=int(vars_["lift_min_n"]), min_days=int(vars_["lift_min_days"]),
        ci_level=1 - float(vars_["lift_alpha"]),
        lookback_days=cfg.lookback_days, synthetic=cfg.synthetic,
        manifest_path=str(cfg.layout.manifest_path),
    )


def stage_report(cfg: RunConfig, log: RunLog) -> dict[str, Path]:
    inputs = load_inputs(cfg.layout)
    meta = report_meta(cfg)
    files = write_report(cfg.report_dir, inputs, meta)
    # the answers as lift_summary's question rows state them (the report renders the same)
    for a in answers(inputs.lift_summary):
        log(f"{a.key} {a.text} -> {a.verdict} ({a.reason})")
    log(f"Executive summary written: {files['executive_summary.md']}")
    return files


def stage_manifest(cfg: RunConfig, log: RunLog, run_results: dict,
                   outputs: dict[str, Path],
                   data_fingerprint: Callable[[], dict] | None = None,
                   plan: LayerPlan | None = None) -> dict:
    """Build the manifest (written by run_pipeline once this stage's own time is known).
    ``data_fingerprint``: waits for the raw files' hashes taken as the build started."""
    lay = cfg.layout
    return build_manifest(
        data_fingerprint=data_fingerprint() if data_fingerprint is not None else None,
        run_id=cfg.run_id, vars=effective_vars(cfg), vars_passed=cfg.dbt_vars(),
        command=list(cfg.reproduce), engine=cfg.engine,
        data_dir=cfg.data_dir, symbols=cfg.symbols, repo=REPO_ROOT, run_results=run_results,
        warehouse=cfg.warehouse_path, outputs=outputs,
        stage_seconds=dict(log.stage_seconds),
        reused=plan.stored_models() if plan is not None else None,
        paths={"warehouse": str(cfg.warehouse_path), "ablation": str(lay.ablation_dir),
               "phase2": str(lay.phase2_dir), "report": str(cfg.report_dir),
               "target": str(cfg.target_dir), "run_log": str(lay.log_path)},
    )


@dataclass
class RunOutcome:
    warehouse: Path
    layout: ExportLayout
    report: Path
    manifest: Path
    stage_seconds: dict[str, float]


def _stop_on_signals() -> Callable[[], None]:
    """Turn SIGINT / SIGTERM into RunInterrupted (the dbt child is stopped by run_dbt as the
    exception unwinds). Returns the function that restores the previous handlers."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, _frame):
        raise RunInterrupted(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    return restore


def _status_manifest(cfg: RunConfig, status: str, log: RunLog, **extra: Any) -> None:
    write_manifest(run_status(run_id=cfg.run_id, status=status, command=list(cfg.reproduce),
                              vars_passed=cfg.dbt_vars(), stage_seconds=log.stage_seconds,
                              **extra), cfg.layout.manifest_path)


def run_pipeline(cfg: RunConfig, log: RunLog | None = None) -> RunOutcome:
    """All five stages. Raises RunError (or RawDataError) with a message for the user, or
    RunInterrupted on SIGINT / SIGTERM. The manifest is written first (status ``running``)
    and last (``complete``, ``failed`` or ``interrupted``)."""
    log = log or RunLog()
    check_before_outputs(cfg)
    restore = _stop_on_signals()
    stage = "setup"
    started: StartedDbt | None = None
    layers = LayerSession(cfg)
    try:
        moved = move_previous_outputs(cfg)
        _status_manifest(cfg, "running", log)
        log(f"lifthouse run {cfg.run_id}: {','.join(cfg.symbols)} [{cfg.start_date}, "
            f"{cfg.end_date}) lookback {cfg.lookback_days}d, {cfg.bar_minutes}-minute bars, "
            f"raw data {cfg.data_dir}")
        for folder in moved:
            log(f"previous outputs of {cfg.run_id} moved to {folder}")
        # dbt parses during the preflight, builds after it (the layer plan is checked again
        # once the preflight may have filled data)
        started = start_build(cfg, layers.tentative_plan())
        stage = "preflight"
        log.stage("preflight", lambda: stage_preflight(cfg, log))
        label_by_origin(cfg, log)
        stage = "build"
        raw_fingerprint = fingerprint_in_background(cfg.data_dir, cfg.symbols)
        preload_figures()
        run_results = log.stage("build", lambda: stage_build(cfg, log, started,
                                                             layers.plan(log)))
        layers.publish_in_background(log)
        stage = "export"
        exported = log.stage("export", lambda: stage_export(cfg, log))
        stage = "report"
        report_files = log.stage("report", lambda: stage_report(cfg, log))
        outputs = {**exported.files, **{f"report/{k}": v for k, v in report_files.items()}}
        stage = "manifest"
        layers.finish(log)
        manifest = log.stage("manifest", lambda: stage_manifest(cfg, log, run_results, outputs,
                                                                  raw_fingerprint,
                                                                  layers.current))
        if layers.current is not None:
            manifest["data_layer"] = layers.current.manifest()
            manifest["timing"]["data_layer_seconds"] = {
                k: round(v, 3) for k, v in layers.current.seconds.items()}
        timing = manifest["timing"]
        timing["stages_seconds"] = {k: round(v, 3) for k, v in log.stage_seconds.items()}
        timing["total_seconds"] = round(log.elapsed(), 3)
        manifest_path = write_manifest(manifest, cfg.layout.manifest_path)
        log(f"Manifest written: {manifest_path} (status complete)")
    except RunInterrupted as exc:
        log(f"run {cfg.run_id} interrupted by {exc.name} during {stage}; its outputs are "
            "incomplete (manifest status: interrupted)")
        _final_status(cfg, "interrupted", log, stage=stage, error=str(exc))
        raise
    except (WarehouseLockedError, WarehouseError, RunError, RawDataError, OSError) as exc:
        full = _disk_full(exc, cfg, stage)  # a full disk is named as such, never blamed on dbt
        log(f"run {cfg.run_id} failed during {stage} (manifest status: failed)")
        _final_status(cfg, "failed", log, stage=stage, error=str(full or exc))
        if full is not None:
            raise full from exc
        if isinstance(exc, (RunError, RawDataError)):
            raise
        if isinstance(exc, OSError):
            raise RunError(f"cannot write {exc.filename or 'an output'} during {stage}: "
                           f"{exc.strerror or exc}\n  fix: make {cfg.out_dir} writable (or choose "
                           "another --out-dir) and re-run", 1) from exc
        raise RunError(str(exc), 1) from exc
    except Exception as exc:  # a bug: still never leave "running" behind
        log(f"run {cfg.run_id} failed during {stage}: {type(exc).__name__} (manifest status: "
            "failed)")
        _final_status(cfg, "failed", log, stage=stage, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if started is not None and started.pending:
            started.abort()          # the run stopped before its build: dbt built nothing
        layers.close()               # releases the layer's lock (a failed run publishes nothing)
        restore()
        log.write(cfg.layout.log_path)
    log(f"done in {log.elapsed():.1f}s: report {cfg.report_dir / 'executive_summary.md'}")
    log.write(cfg.layout.log_path)
    return RunOutcome(cfg.warehouse_path, cfg.layout, cfg.report_dir / "executive_summary.md",
                      manifest_path, dict(log.stage_seconds))


def _final_status(cfg: RunConfig, status: str, log: RunLog, **extra: Any) -> None:
    """Best effort: the status manifest of a failed or interrupted run (an unwritable out dir
    must not hide the run's own error). On a full disk the atomic write (a new temp file) fails,
    so the status is written over the ``running`` manifest's own bytes, in place (the error cut
    to fit them); if even that fails the ``running`` manifest is removed: it never stays."""
    try:
        _status_manifest(cfg, status, log, **extra)
        return
    except (OSError, RawDataError) as exc:
        cause = exc
    path = cfg.layout.manifest_path
    try:
        import json

        doc = run_status(run_id=cfg.run_id, status=status, command=list(cfg.reproduce),
                         vars_passed=cfg.dbt_vars(), stage_seconds=log.stage_seconds, **extra)
        text = json.dumps(doc, default=str)
        room = path.stat().st_size
        if len(text) > room and doc.get("error"):
            keep = max(0, len(doc["error"]) - (len(text) - room) - 24)
            doc["error"] = doc["error"][:keep] + " ... (cut: disk full)"
            text = json.dumps(doc, default=str)
        with open(path, "r+b") as fh:
            fh.write(text.encode())
            fh.truncate()
        log(f"manifest {path}: status {status} written in place (a new file could not be "
            f"written: {cause})")
    except OSError:
        try:
            path.unlink()
            log(f"manifest {path} removed: its status {status} could not be written ({cause})")
        except OSError:
            pass


_DISK_FULL = ("No space left on device", "Errno 28", "ENOSPC", "disk is full", "Disk full")


def _disk_full(exc: BaseException, cfg: RunConfig, stage: str) -> RunError | None:
    """A RunError naming a full disk (with the fix) when ``exc`` is one: an OSError ENOSPC in
    export, report or manifest, or a dbt build whose output says so; else None."""
    import errno as _errno

    if isinstance(exc, OSError) and exc.errno == _errno.ENOSPC:
        where = f" while writing {exc.filename}" if exc.filename else ""
    elif any(m in str(exc) for m in _DISK_FULL):
        where = (f" while DuckDB wrote the warehouse {cfg.warehouse_path} (or its spill folder)"
                 if stage == "build" else "")
    else:
        return None
    return RunError(
        f"no space left on device{where} during {stage}: the disk is full (not a problem of "
        f"dbt, the models or the data); the outputs of {cfg.run_id} are incomplete (manifest "
        f"status: failed), the last complete ones are in "
        f"{cfg.out_dir / 'previous' / cfg.run_id}\n"
        f"  fix: free disk space on the device of {cfg.out_dir} (df -h {cfg.out_dir}), or "
        "choose another --out-dir, then re-run the same command", 1)
