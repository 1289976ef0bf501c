"""``lifthouse run`` (the Milestone D run) and ``lifthouse demo``.

Stages, each timed and logged as ``[k/5]``:

1. preflight  — data coverage for the window + lookback (fail fast, or fill with --ingest /
                --generate and check again);
2. build      — ``dbt build --select +lift_summary +phase2_candidate_results +dq_perp_kline_gaps
                +path:models/marts/reporting`` into the run's own
                warehouse file (``<out>/warehouse/<run_id>.duckdb``); logs "Phase 2 complete";
3. export     — deterministic CSV / Parquet under ``<out>/data/reports/{ablation,phase2}/<run_id>/``
                and the report tables under ``<out>/data/reports/runs/<run_id>/tables/``;
                logs "Ablation report written";
4. report     — ``<out>/reports/<run_id>/executive_summary.md`` + ``figures/*.png``;
5. manifest   — ``<out>/data/reports/runs/<run_id>/manifest.json`` (vars, data fingerprint,
                versions, per-model timings and row counts, per-stage timings, output hashes).

See docs/running.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import re
import shlex
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from lifthouse.run.dbt import REPO_ROOT, run_dbt
from lifthouse.run.export import (ExportLayout, WarehouseError, WarehouseLockedError, connect,
                              export_run, is_lock_error, lock_message, phase2_counts)
from lifthouse.run.manifest import run_status, write_manifest
from lifthouse.data.raw import (DATASETS, GENERATED, RawDataError, file_origins, list_files,
                           normalize_symbol, resolve_data_dir)

STAGES = ("preflight", "build", "export", "report", "manifest")
DEFAULT_SYMBOLS = "BTC,ETH,SOL"
# the report's tables (models/marts/reporting/rpt_*) are built and tested with the run's models
DEFAULT_SELECT = ("+lift_summary", "+phase2_candidate_results", "+dq_perp_kline_gaps",
                  "+path:models/marts/reporting")
DEMO_RUN_ID = "demo"
DEMO_START = "2025-01-01"
DEMO_END = "2025-03-01"
DEFAULT_SAMPLE_SEED = 7
# vars that have their own option (a --var for them would silently disagree with the option)
RESERVED_VARS = ("run_id", "symbols", "start_date", "end_date", "lookback_days", "raw_dir")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RunError(RuntimeError):
    """A stage failed; the message says why and what to do. ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM arrived during a run (a BaseException, like KeyboardInterrupt, so no
    ``except Exception`` swallows it). Exit code 128 + the signal number, as a shell reports."""

    def __init__(self, signum: int):
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


# --------------------------------------------------------------------------------------------
# configuration


@dataclass
class RunConfig:
    run_id: str
    start_date: dt.date
    end_date: dt.date
    symbols: list[str]
    data_dir: Path
    out_dir: Path
    lookback_days: int = 7
    extra_vars: dict[str, Any] = field(default_factory=dict)
    fill: str | None = None          # None | "ingest" | "generate"
    warehouse: Path | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    reproduce: list[str] = field(default_factory=list)
    synthetic: bool = False
    sample_seed: int | None = None

    def __post_init__(self) -> None:
        if not RUN_ID_RE.match(self.run_id):
            raise RunError(f"run_id {self.run_id!r} must be letters, digits, '_', '-' or '.' "
                           "(it names files and folders)", 2)
        if self.end_date <= self.start_date:
            raise RunError(f"end_date {self.end_date} must be after start_date {self.start_date} "
                           "(the window is [start_date, end_date))", 2)
        if self.lookback_days < 0:
            raise RunError("--lookback-days must be >= 0", 2)
        self.symbols = [normalize_symbol(s) for s in self.symbols]
        if not self.symbols:
            raise RunError("no symbols given", 2)
        bad = sorted(set(self.extra_vars) & set(RESERVED_VARS))
        if bad:
            raise RunError(f"--var {', '.join(bad)}: use the dedicated option instead "
                           "(--run-id, --symbols, --start-date, --end-date, --lookback-days, "
                           "--data-dir)", 2)
        check_vars(self.extra_vars)

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.out_dir / "warehouse" / f"{self.run_id}.duckdb"

    @property
    def target_dir(self) -> Path:
        return self.out_dir / "target" / self.run_id

    @property
    def layout(self) -> ExportLayout:
        return ExportLayout(self.out_dir / "data" / "reports", self.run_id)

    @property
    def report_dir(self) -> Path:
        return self.out_dir / "reports" / self.run_id

    def dbt_vars(self) -> dict[str, Any]:
        v: dict[str, Any] = dict(self.extra_vars)
        v.update(run_id=self.run_id, symbols=list(self.symbols),
                 start_date=self.start_date.isoformat(), end_date=self.end_date.isoformat(),
                 lookback_days=self.lookback_days,
                 raw_dir=self.data_dir.resolve().as_posix())
        return dict(sorted(v.items()))


def project_vars(project_file: Path = REPO_ROOT / "dbt_project.yml") -> dict[str, Any]:
    """The var defaults of dbt_project.yml (what dbt uses for every var not passed)."""
    import yaml  # a dbt dependency

    data = yaml.safe_load(project_file.read_text()) or {}
    return dict(data.get("vars") or {})


def effective_vars(cfg: "RunConfig") -> dict[str, Any]:
    """Project defaults overridden by the run's vars: the values the build actually used."""
    v = project_vars()
    v.update(cfg.dbt_vars())
    return {k: v[k] for k in sorted(v)}


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "text",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def check_vars(extra: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
    """Refuse, before anything is built, a var dbt_project.yml does not declare (naming the
    close ones) and a value whose type differs from the declared default's (an integer var
    takes an integer, a number var an integer or a decimal, a true/false var true or false)."""
    defaults = project_vars() if defaults is None else defaults
    for key, value in sorted(extra.items()):
        if key not in defaults:
            close = difflib.get_close_matches(key, sorted(defaults), n=3, cutoff=0.6)
            raise RunError(f"--var {key}: dbt_project.yml declares no var {key!r}"
                           + (f"; did you mean {', '.join(close)}?" if close else "")
                           + " (every var is listed under vars: in dbt_project.yml)", 2)
        default = defaults[key]
        if default is None:
            continue
        ok = (isinstance(value, bool) if isinstance(default, bool)
              else isinstance(value, (int, float)) and not isinstance(value, bool)
              if isinstance(default, float)
              else isinstance(value, int) and not isinstance(value, bool)
              if isinstance(default, int)
              else isinstance(value, type(default)))
        if not ok:
            raise RunError(f"--var {key}={json.dumps(value) if not isinstance(value, str) else value}"
                           f": {key} takes {_type_name(default)} (default {json.dumps(default)} "
                           "in dbt_project.yml)", 2)


def parse_var(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it parses (numbers, true, lists), else text."""
    if "=" not in text:
        raise RunError(f"--var {text!r}: expected key=value", 2)
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise RunError(f"--var {text!r}: empty key", 2)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-01") from None


# --------------------------------------------------------------------------------------------
# progress / log


class RunLog:
    """Prints stage progress with elapsed times and keeps every line for the run log file."""

    def __init__(self, stream: TextIO | None = None, n_stages: int = len(STAGES)):
        self.stream = stream if stream is not None else sys.stdout
        self.n_stages = n_stages
        self.t0 = time.monotonic()
        self.lines: list[str] = []
        self.stage_seconds: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, message: str) -> None:
        line = f"[{self.elapsed():6.1f}s] {message}"
        self.lines.append(line)
        self.stream.write(line + "\n")
        self.stream.flush()

    def raw(self, line: str) -> None:
        self.lines.append(line)
        self.stream.write(line + "\n")
        self.stream.flush()

    def stage(self, name: str, fn: Callable[[], Any]) -> Any:
        k = STAGES.index(name) + 1 if name in STAGES else len(self.stage_seconds) + 1
        self(f"[{k}/{self.n_stages}] {name} ...")
        t = time.monotonic()
        outcome = "failed"
        try:
            result = fn()
            outcome = "done"
            return result
        except RunInterrupted as exc:
            outcome = f"interrupted ({exc.name})"
            raise
        finally:
            secs = time.monotonic() - t
            self.stage_seconds[name] = secs
            self(f"[{k}/{self.n_stages}] {name} {outcome} after {secs:.1f}s"
                 if outcome != "done" else f"[{k}/{self.n_stages}] {name} done in {secs:.1f}s")

    def write(self, path: Path) -> None:
        """The log file; a folder that cannot be written is a warning, not a traceback (the
        run's own error already names it)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(self.lines) + "\n")
        except OSError as exc:
            self.stream.write(f"(run log not written: {path}: {exc.strerror})\n")


# --------------------------------------------------------------------------------------------
# stage 1: preflight (adapters to lifthouse.data.preflight / lifthouse.data.ingest / lifthouse.data.sample)


def check_coverage(cfg: RunConfig):
    from lifthouse.data.preflight import check_coverage as cc

    return cc(cfg.data_dir, cfg.symbols, cfg.start_date, cfg.end_date, cfg.lookback_days)


def fill_by_ingest(cfg: RunConfig, log: RunLog) -> None:
    from lifthouse.data.ingest import ingest, parse_datasets

    funding_days = int(cfg.extra_vars.get("funding_lookback_days", 30))
    start = cfg.start_date - dt.timedelta(days=cfg.lookback_days)
    datasets = parse_datasets(None)
    others = [d for d in datasets if d != "um_funding_rate"]
    jobs = [(others, start)]
    if "um_funding_rate" in datasets:
        jobs.append((["um_funding_rate"], start - dt.timedelta(days=funding_days)))
    for ds, first in jobs:
        log(f"ingest {','.join(ds)} {','.join(cfg.symbols)} {first}..{cfg.end_date}")
        rep = ingest(cfg.symbols, ds, first, cfg.end_date, data_dir=cfg.data_dir,
                     progress_stream=None)
        for line in rep.render().splitlines():
            log.raw("  ingest| " + line)
        if rep.exit_code != 0:
            raise RunError("ingest failed (see above); re-run to resume", 1)


def fill_by_generate(cfg: RunConfig, log: RunLog) -> None:
    from lifthouse.data.sample import generate

    seed = cfg.sample_seed if cfg.sample_seed is not None else DEFAULT_SAMPLE_SEED
    log(f"generate the sample market (seed {seed}): {','.join(cfg.symbols)} "
        f"[{cfg.start_date}, {cfg.end_date}) + {cfg.lookback_days} lookback day(s) "
        f"into {cfg.data_dir}")
    t0 = time.monotonic()
    truth = generate(cfg.data_dir, seed=seed, symbols=list(cfg.symbols),
                     start=cfg.start_date.isoformat(), end=cfg.end_date.isoformat(),
                     lookback_days=cfg.lookback_days,
                     progress=lambda month, rows: log.raw(f"  sample| {month}: {rows:,} rows "
                                                          f"({time.monotonic() - t0:.1f} s)"))
    log(f"sample written: {sum(truth.rows_written.values()):,} rows, "
        f"{len(truth.episodes)} planted episodes")


def sample_present(cfg: RunConfig) -> bool:
    """True when ``cfg.data_dir`` already holds the sample this run would generate (its
    ground truth records the same seed, symbols, window and generator version)."""
    from lifthouse.data.sample.generator import GENERATOR_VERSION, TRUTH_DIR, TRUTH_FILE

    path = cfg.data_dir / TRUTH_DIR / TRUTH_FILE
    if not path.exists():
        return False
    try:
        params = json.loads(path.read_text()).get("params") or {}
    except (OSError, json.JSONDecodeError):
        return False
    seed = cfg.sample_seed if cfg.sample_seed is not None else DEFAULT_SAMPLE_SEED
    return (params.get("seed") == seed and params.get("null") is False
            and list(params.get("symbols") or []) == list(cfg.symbols)
            and str(params.get("start", "")).startswith(cfg.start_date.isoformat())
            and str(params.get("end", "")).startswith(cfg.end_date.isoformat())
            and params.get("lookback_days") == cfg.lookback_days
            and str(params.get("generator_version")) == str(GENERATOR_VERSION))


def stage_preflight(cfg: RunConfig, log: RunLog) -> None:
    if cfg.synthetic:  # the demo: the sample market, generated once per seed and window
        if sample_present(cfg):
            log(f"sample market already in {cfg.data_dir} (same seed and window): not regenerated")
        else:
            fill_by_generate(cfg, log)
    report = check_coverage(cfg)
    for line in report.render().splitlines():
        log.raw("  preflight| " + line)
    if report.ok:
        return
    if cfg.fill is None:
        cmd = getattr(report, "ingest_command", None)
        raise RunError(
            "pre-flight failed: the raw data does not cover the run window (see above).\n"
            + (f"  fill it with: {cmd}\n" if cmd else "")
            + "  or re-run with --ingest (Binance public archive) or --generate (sample market)", 2)
    (fill_by_ingest if cfg.fill == "ingest" else fill_by_generate)(cfg, log)
    report = check_coverage(cfg)
    for line in report.render().splitlines():
        log.raw("  preflight| " + line)
    if not report.ok:
        raise RunError(f"pre-flight still fails after --{cfg.fill} (see above)", 2)


def files_read(cfg: RunConfig) -> list[Path]:
    """The raw month files the build reads: the run's symbols, every dataset, the months that
    overlap the window plus its lookback (and the extra funding lookback)."""
    funding_days = int(effective_vars(cfg).get("funding_lookback_days", 0))
    first = cfg.start_date - dt.timedelta(days=cfg.lookback_days + funding_days)
    lo, hi = f"{first:%Y-%m}", f"{cfg.end_date - dt.timedelta(days=1):%Y-%m}"
    return [f for d in DATASETS for s in cfg.symbols for f in list_files(cfg.data_dir, d, s)
            if lo <= f.stem <= hi]


def legacy_sample_files(data_dir: Path) -> set[Path]:
    """Files a sample generator wrote before origins were recorded: the symbols and months its
    ground truth (``_sample/ground_truth.json``) names. Only files without a recorded origin are
    judged by this."""
    from lifthouse.data.sample.generator import SAMPLE_DATASETS, TRUTH_DIR, TRUTH_FILE

    try:
        doc = json.loads((Path(data_dir) / TRUTH_DIR / TRUTH_FILE).read_text())
        lo = str(doc["window"]["funding_start"])[:7]
        hi = str(doc["window"]["end"])[:7]
        symbols = list(doc["symbols"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {f for d in SAMPLE_DATASETS for s in symbols for f in list_files(data_dir, d, s)
            if lo <= f.stem <= hi}


def label_by_origin(cfg: RunConfig, log: RunLog) -> None:
    """Synthetic or real, by the recorded origin of the files the run reads (never by what
    else the data dir holds). A run that would mix generated and real files is refused."""
    legacy = legacy_sample_files(cfg.data_dir)
    origins = {f: ({GENERATED} if f in legacy else o) if o == {"unknown"} else o
               for f, o in ((f, file_origins(f)) for f in files_read(cfg))}
    generated = [f for f, o in origins.items() if o == {GENERATED}]
    real = [f for f, o in origins.items() if GENERATED not in o]
    if generated and real:
        raise RunError(
            f"the run would read generated sample files (e.g. {generated[0]}) and real files "
            f"(e.g. {real[0]}) together; its numbers would mean nothing.\n"
            "  keep real data and the sample in separate folders (--data-dir data/real, "
            "--data-dir data/sample)", 2)
    cfg.synthetic = bool(generated)
    log(f"data read: {len(origins)} raw file(s), "
        + ("generated sample (synthetic)" if cfg.synthetic else "real (not generated)"))


# --------------------------------------------------------------------------------------------
# stage 2: build


def ensure_unlocked(warehouse: Path) -> None:
    """Fail fast, before dbt spends time, when another process holds the warehouse."""
    if warehouse.exists():
        connect(warehouse, read_only=False).close()


def stage_build(cfg: RunConfig, log: RunLog) -> dict:
    ensure_unlocked(cfg.warehouse_path)
    # dbt unit tests check the SQL logic on hand-built fixtures, not this run's data; `make test`
    # runs them, the run skips them (about 4 s). Every data test still runs.
    args = ["build", "--select", *cfg.select, "--exclude-resource-type", "unit_test"]
    log(f"dbt {' '.join(args)} -> {cfg.warehouse_path}")
    run = run_dbt([*args, "--no-use-colors"], warehouse=cfg.warehouse_path,
                  target_dir=cfg.target_dir, vars=cfg.dbt_vars(), check=False,
                  on_line=lambda line: log.raw("  dbt| " + line))
    if run.returncode != 0:
        raise RunError(dbt_failure_message(run.stdout, run.returncode, cfg.warehouse_path), 1)
    n_cand, n_trades = phase2_counts(cfg.warehouse_path)
    log(f"Phase 2 complete: {n_cand} candidates, {n_trades} trades "
        f"(warehouse {cfg.warehouse_path})")
    return run.run_results()


_DBT_ERROR_MARKERS = ("Failure in", "Error in", "Compilation Error", "Runtime Error",
                      "Database Error", "Parsing Error", "Got ", "ERROR")


def dbt_failure_message(output: str, returncode: int, warehouse: Path) -> str:
    """A short message for a failed build: the error lines of dbt's summary (the full output
    was streamed above and is in the run log), plus the lock hint when relevant."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "Completed with" in line), None)
    summary = lines[start:] if start is not None else lines[-30:]
    picked = [line.strip() for line in summary
              if any(m in line for m in _DBT_ERROR_MARKERS) and "PASS=" not in line]
    msg = f"dbt build failed (exit {returncode})"
    if picked:
        msg += ":\n  " + "\n  ".join(picked[:20])
    msg += "\n  (full dbt output above and in the run log)"
    if is_lock_error(Exception(output)):
        msg += "\n" + lock_message(warehouse)
    return msg


# --------------------------------------------------------------------------------------------
# stages 3-5


def stage_export(cfg: RunConfig, log: RunLog):
    result = export_run(cfg.warehouse_path, cfg.layout)
    lay = cfg.layout
    log(f"Ablation report written: {lay.ablation_dir / 'lift_summary.csv'} "
        f"({result.rows.get('lift_summary', 0)} rows); phase 2 tables in {lay.phase2_dir}")
    return result


def report_meta(cfg: RunConfig):
    from lifthouse.run.report.markdown import DEFAULT_MIN_DAYS, DEFAULT_MIN_N, ReportMeta

    vars_ = effective_vars(cfg)
    alpha = vars_.get("lift_alpha")
    return ReportMeta(
        run_id=cfg.run_id, start_date=cfg.start_date.isoformat(),
        end_date=cfg.end_date.isoformat(), symbols=list(cfg.symbols), vars=vars_,
        reproduce=list(cfg.reproduce) or reproduce_commands(cfg), min_n=int(vars_.get("lift_min_n", DEFAULT_MIN_N)),
        min_days=int(vars_.get("lift_min_days", DEFAULT_MIN_DAYS)),
        ci_level=(1 - float(alpha)) if alpha is not None else None,
        lookback_days=cfg.lookback_days, synthetic=cfg.synthetic,
        manifest_path=str(cfg.layout.manifest_path),
    )


def stage_report(cfg: RunConfig, log: RunLog) -> dict[str, Path]:
    from lifthouse.run.report.markdown import answers, load_inputs, write_report

    inputs = load_inputs(cfg.layout)
    meta = report_meta(cfg)
    files = write_report(cfg.report_dir, inputs, meta)
    # the answers as lift_summary's question rows state them (the report renders the same)
    for a in answers(inputs.lift_summary):
        log(f"{a.key} {a.text} -> {a.verdict} ({a.reason})")
    log(f"Executive summary written: {files['executive_summary.md']}")
    return files


def stage_manifest(cfg: RunConfig, log: RunLog, run_results: dict,
                   outputs: dict[str, Path]) -> dict:
    """Build the manifest (written by run_pipeline once this stage's own time is known)."""
    from lifthouse.run.manifest import build_manifest

    lay = cfg.layout
    return build_manifest(
        run_id=cfg.run_id, vars=effective_vars(cfg), vars_passed=cfg.dbt_vars(),
        command=list(cfg.reproduce),
        data_dir=cfg.data_dir, symbols=cfg.symbols, repo=REPO_ROOT, run_results=run_results,
        warehouse=cfg.warehouse_path, outputs=outputs,
        stage_seconds=dict(log.stage_seconds),
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


def move_previous_outputs(cfg: RunConfig) -> list[Path]:
    """Move an earlier run's outputs of this run_id (exports, tables, manifest, log, report)
    to ``<out>/previous/<run_id>/`` (replacing an older copy there), so nothing stale sits
    beside the new build. Returns the folders moved."""
    lay = cfg.layout
    keep = cfg.out_dir / "previous" / cfg.run_id
    moved = []
    targets = {"ablation": lay.ablation_dir, "phase2": lay.phase2_dir, "runs": lay.run_dir,
               "reports": cfg.report_dir}
    try:
        if any(p.exists() for p in targets.values()) and keep.exists():
            shutil.rmtree(keep)
        for name, path in targets.items():
            if path.exists():
                keep.mkdir(parents=True, exist_ok=True)
                os.replace(path, keep / name)
                moved.append(path)
        lay.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot write the run's outputs under {cfg.out_dir}: {exc.strerror} "
                       f"({exc.filename})\n  choose a writable --out-dir or fix its "
                       "permissions", 2) from exc
    return moved


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
    restore = _stop_on_signals()
    stage = "setup"
    try:
        moved = move_previous_outputs(cfg)
        _status_manifest(cfg, "running", log)
        log(f"lifthouse run {cfg.run_id}: {','.join(cfg.symbols)} [{cfg.start_date}, "
            f"{cfg.end_date}) lookback {cfg.lookback_days}d, raw data {cfg.data_dir}")
        if moved:
            log(f"previous outputs of {cfg.run_id} moved to {cfg.out_dir / 'previous' / cfg.run_id}")
        stage = "preflight"
        log.stage("preflight", lambda: stage_preflight(cfg, log))
        label_by_origin(cfg, log)
        stage = "build"
        run_results = log.stage("build", lambda: stage_build(cfg, log))
        stage = "export"
        exported = log.stage("export", lambda: stage_export(cfg, log))
        stage = "report"
        report_files = log.stage("report", lambda: stage_report(cfg, log))
        outputs = {**exported.files, **{f"report/{k}": v for k, v in report_files.items()}}
        stage = "manifest"
        manifest = log.stage("manifest", lambda: stage_manifest(cfg, log, run_results, outputs))
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
    except (WarehouseLockedError, WarehouseError, RunError, RawDataError) as exc:
        log(f"run {cfg.run_id} failed during {stage} (manifest status: failed)")
        _final_status(cfg, "failed", log, stage=stage, error=str(exc))
        if isinstance(exc, (RunError, RawDataError)):
            raise
        raise RunError(str(exc), 1) from exc
    except Exception as exc:  # a bug: still never leave "running" behind
        log(f"run {cfg.run_id} failed during {stage}: {type(exc).__name__} (manifest status: "
            "failed)")
        _final_status(cfg, "failed", log, stage=stage, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        restore()
        log.write(cfg.layout.log_path)
    log(f"done in {log.elapsed():.1f}s: report {cfg.report_dir / 'executive_summary.md'}")
    log.write(cfg.layout.log_path)
    return RunOutcome(cfg.warehouse_path, cfg.layout, cfg.report_dir / "executive_summary.md",
                      manifest_path, dict(log.stage_seconds))


def _final_status(cfg: RunConfig, status: str, log: RunLog, **extra: Any) -> None:
    """Best effort: the status manifest of a failed or interrupted run (an unwritable out dir
    must not hide the run's own error)."""
    try:
        _status_manifest(cfg, status, log, **extra)
    except (OSError, RawDataError):
        pass


# --------------------------------------------------------------------------------------------
# CLI


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", "--data_dir", dest="data_dir",
                        help="raw data directory (default $LIFTHOUSE_DATA_DIR or data/raw)")
    parser.add_argument("--out-dir", "--out_dir", dest="out_dir", default=".",
                        help="root of the outputs: warehouse/, target/, data/reports/, reports/ "
                             "(default: the current directory)")
    parser.add_argument("--warehouse", type=Path,
                        help="warehouse file (default <out-dir>/warehouse/<run_id>.duckdb)")
    parser.add_argument("--var", dest="vars", action="append", default=[], metavar="KEY=VALUE",
                        help="a dbt var override (repeatable), e.g. --var n_boot=500")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", "--run_id", dest="run_id", required=True,
                        help="names the warehouse file and every output folder")
    parser.add_argument("--start-date", "--start_date", "--start", dest="start_date", required=True,
                        type=parse_date, help="first day of the analysis window (UTC)")
    parser.add_argument("--end-date", "--end_date", "--end", dest="end_date", required=True,
                        type=parse_date, help="day after the last one (exclusive)")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS,
                        help=f"comma-separated, BTC or BTCUSDT (default {DEFAULT_SYMBOLS})")
    parser.add_argument("--lookback-days", "--lookback_days", dest="lookback_days", type=int,
                        default=7, help="warm-up days loaded before start_date (default 7)")
    fill = parser.add_mutually_exclusive_group()
    fill.add_argument("--ingest", dest="fill", action="store_const", const="ingest",
                      help="download missing data from the Binance public archive")
    fill.add_argument("--generate", dest="fill", action="store_const", const="generate",
                      help="generate the synthetic sample market where data is missing")
    _add_common(parser)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS,
                        help=f"comma-separated (default {DEFAULT_SYMBOLS})")
    parser.add_argument("--seed", type=int, default=None,
                        help="sample generator seed (default: the generator's)")
    _add_common(parser)


def reproduce_commands(cfg: RunConfig) -> list[str]:
    """The commands that reproduce a run, computed when the report is written (after any
    --ingest / --generate fill, so reruns print the same lines): how the raw layout was filled
    (the generator for synthetic data; the import of local files when the klines carry OHLCV
    only, which an archive ingest would not reproduce; else the archive ingest of exactly the
    datasets the run read, window plus lookback), then the run itself."""
    symbols = ",".join(cfg.symbols)
    load_start = cfg.start_date - dt.timedelta(days=int(cfg.lookback_days))
    if cfg.synthetic:
        fill = ["lifthouse", "sample", "--data-dir", str(cfg.data_dir), "--symbols", symbols,
                "--start", cfg.start_date.isoformat(), "--end", cfg.end_date.isoformat(),
                "--lookback-days", str(cfg.lookback_days)]
        if cfg.sample_seed is not None:
            fill += ["--seed", str(cfg.sample_seed)]
        head = ["# generate the synthetic sample market into the raw layout", shlex.join(fill)]
    else:
        present = [d for d in DATASETS if list_files(Path(cfg.data_dir), d)]
        fill = ["lifthouse", "ingest", "--symbols", symbols, "--start", load_start.isoformat(),
                "--end", cfg.end_date.isoformat(), "--datasets", ",".join(present),
                "--data-dir", str(cfg.data_dir)]
        if klines_ohlcv_only(Path(cfg.data_dir)):
            head = _local_import_lines(cfg, present, fill)
        else:
            head = ["# fill the raw layout from Binance's public archive (12-column klines with",
                    "# quote volume; skip if the data is there)", shlex.join(fill)]
    return [*head, "# build, export and report", shlex.join(_run_command(cfg, symbols))]


def klines_ohlcv_only(data_dir: Path) -> bool:
    """True when the raw perp klines carry no quote volume (OHLCV-only local files, e.g. the
    shared real data); an archive ingest stores the 12-column klines with quote_volume."""
    import pyarrow.parquet as pq

    files = list_files(data_dir, "um_klines_1m")
    for f in files:
        if "quote_volume" in pq.read_schema(f).names:
            col = pq.read_table(f, columns=["quote_volume"]).column(0)
            if col.null_count < len(col):
                return False
    return bool(files)


def _local_import_lines(cfg: RunConfig, present: list[str], ingest: list[str]) -> list[str]:
    """What an OHLCV-only run read and the import commands that reproduce it exactly."""
    lines = ["# The perp klines this run read carry OHLCV only (no quote volume): they were",
             "# imported from local files (`lifthouse import`), not ingested from the archive.",
             "# Reproduce exactly by importing the same files; LOCAL is their folder (the",
             "# committed Milestone D runs imported ../shared/data/binance, one <SYMBOL>.parquet",
             "# per dataset folder).",
             'LOCAL="${LIFTHOUSE_LOCAL_DATA:-../shared/data/binance}"']
    lines += [shlex.join(["lifthouse", "import", "--dataset", d, "--data-dir",
                          str(cfg.data_dir)]) + f' "$LOCAL/{d}"/*.parquet' for d in present]
    lines += ["# An archive ingest instead gives 12-column klines with quote volume, which the",
              "# vacuum detector's `illiquidity` uses (notional = quote_volume, else volume x",
              "# close), so its liquidity_vacuum events can differ from this run's:",
              "#   " + shlex.join(ingest)]
    return lines


def _run_command(cfg: RunConfig, symbols: str) -> list[str]:
    parts = ["lifthouse", "run", "--run-id", cfg.run_id, "--start-date",
             cfg.start_date.isoformat(), "--end-date", cfg.end_date.isoformat(),
             "--symbols", symbols, "--lookback-days", str(cfg.lookback_days),
             "--data-dir", str(cfg.data_dir)]
    if str(cfg.out_dir) != ".":
        parts += ["--out-dir", str(cfg.out_dir)]
    if cfg.warehouse:
        parts += ["--warehouse", str(cfg.warehouse)]
    for key, value in sorted(cfg.extra_vars.items()):
        parts += ["--var", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return parts


def config_from_args(args: argparse.Namespace, *, run_id: str, start: dt.date, end: dt.date,
                     lookback_days: int, fill: str | None, reproduce: list[str],
                     synthetic: bool = False) -> RunConfig:
    return RunConfig(
        run_id=run_id, start_date=start, end_date=end,
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        data_dir=resolve_data_dir(args.data_dir), out_dir=Path(args.out_dir),
        lookback_days=lookback_days, extra_vars=dict(parse_var(v) for v in args.vars),
        fill=fill, warehouse=args.warehouse, reproduce=reproduce, synthetic=synthetic,
        sample_seed=getattr(args, "seed", None),
    )


def _main(build: Callable[[], RunConfig], log: RunLog | None = None,
          prog: str = "lifthouse run") -> int:
    try:
        cfg = build()
        outcome = run_pipeline(cfg, log)
    except RunInterrupted as exc:
        print(f"{prog}: {exc}; outputs are incomplete (manifest status: interrupted)",
              file=sys.stderr)
        return exc.exit_code
    except RunError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RawDataError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"Report: {outcome.report}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    return _main(lambda: config_from_args(
        args, run_id=args.run_id, start=args.start_date, end=args.end_date,
        lookback_days=args.lookback_days, fill=args.fill, reproduce=[]))


def run_demo(args: argparse.Namespace) -> int:
    start, end = dt.date.fromisoformat(DEMO_START), dt.date.fromisoformat(DEMO_END)
    data_dir = resolve_data_dir(args.data_dir)
    repro = ["lifthouse demo" + (f" --data-dir {shlex.quote(str(data_dir))}"
                                 if args.data_dir else "")
             + (f" --out-dir {shlex.quote(str(args.out_dir))}" if args.out_dir != "." else "")
             + (f" --symbols {args.symbols}" if args.symbols != DEFAULT_SYMBOLS else "")
             + (f" --seed {args.seed}" if args.seed is not None else "")
             + "".join(f" --var {shlex.quote(v)}" for v in args.vars)]

    def build() -> RunConfig:
        cfg = config_from_args(args, run_id=DEMO_RUN_ID, start=start, end=end, lookback_days=7,
                               fill="generate", reproduce=repro, synthetic=True)
        return cfg

    return _main(build, prog="lifthouse demo")
