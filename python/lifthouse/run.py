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
import json
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from lifthouse.dbt import REPO_ROOT, run_dbt
from lifthouse.export import (ExportLayout, WarehouseError, WarehouseLockedError, connect,
                              export_run, is_lock_error, lock_message, phase2_counts)
from lifthouse.manifest import write_manifest
from lifthouse.raw import DATASETS, RawDataError, list_files, normalize_symbol, resolve_data_dir

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
    engine: str = "duckdb"           # "duckdb" | "spark" (docs/spark.md)

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
        try:
            return fn()
        finally:
            secs = time.monotonic() - t
            self.stage_seconds[name] = secs
            self(f"[{k}/{self.n_stages}] {name} done in {secs:.1f}s")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n")


# --------------------------------------------------------------------------------------------
# stage 1: preflight (adapters to lifthouse.preflight / lifthouse.ingest / lifthouse.sample)


def check_coverage(cfg: RunConfig):
    from lifthouse.preflight import check_coverage as cc

    return cc(cfg.data_dir, cfg.symbols, cfg.start_date, cfg.end_date, cfg.lookback_days)


def fill_by_ingest(cfg: RunConfig, log: RunLog) -> None:
    from lifthouse.ingest import ingest, parse_datasets

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
    from lifthouse.sample import generate

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
    from lifthouse.sample.generator import GENERATOR_VERSION, TRUTH_DIR, TRUTH_FILE

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
    from lifthouse.sample.generator import TRUTH_DIR, TRUTH_FILE

    if (cfg.data_dir / TRUTH_DIR / TRUTH_FILE).exists():
        cfg.synthetic = True  # the report says the numbers come from the synthetic sample
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
    if cfg.fill == "generate":
        cfg.synthetic = True
    report = check_coverage(cfg)
    for line in report.render().splitlines():
        log.raw("  preflight| " + line)
    if not report.ok:
        raise RunError(f"pre-flight still fails after --{cfg.fill} (see above)", 2)


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
    engine_args, engine_env = spark_build_args(cfg) if cfg.engine == "spark" else ([], {})
    log(f"dbt {' '.join(args + engine_args)} -> {cfg.warehouse_path}")
    run = run_dbt([*args, *engine_args, "--no-use-colors"], warehouse=cfg.warehouse_path,
                  target_dir=cfg.target_dir, vars=cfg.dbt_vars(), check=False,
                  on_line=lambda line: log.raw("  dbt| " + line), extra_env=engine_env)
    if run.returncode != 0:
        raise RunError(dbt_failure_message(run.stdout, run.returncode, cfg.warehouse_path), 1)
    if cfg.engine == "spark":
        from lifthouse.spark import publish

        publish(spark_dir(cfg), cfg.warehouse_path)
    n_cand, n_trades = phase2_counts(cfg.warehouse_path)
    log(f"Phase 2 complete: {n_cand} candidates, {n_trades} trades "
        f"(warehouse {cfg.warehouse_path})")
    return run.run_results()


def spark_dir(cfg: RunConfig) -> Path:
    """The Spark build's tables and metastore, beside the warehouse file (docs/spark.md)."""
    return cfg.warehouse_path.with_suffix(".spark")


def spark_build_args(cfg: RunConfig) -> tuple[list[str], dict[str, str]]:
    from lifthouse.spark import spark_env

    return ["--target", "spark"], spark_env(spark_dir(cfg))


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
    from lifthouse.report import DEFAULT_MIN_DAYS, DEFAULT_MIN_N, ReportMeta

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
    from lifthouse.report import answers, load_inputs, write_report

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
    from lifthouse.manifest import build_manifest

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


def run_pipeline(cfg: RunConfig, log: RunLog | None = None) -> RunOutcome:
    """All five stages. Raises RunError (or RawDataError) with a message for the user."""
    log = log or RunLog()
    log(f"lifthouse run {cfg.run_id}: {','.join(cfg.symbols)} [{cfg.start_date}, "
        f"{cfg.end_date}) lookback {cfg.lookback_days}d, raw data {cfg.data_dir}")
    try:
        log.stage("preflight", lambda: stage_preflight(cfg, log))
        run_results = log.stage("build", lambda: stage_build(cfg, log))
        exported = log.stage("export", lambda: stage_export(cfg, log))
        report_files = log.stage("report", lambda: stage_report(cfg, log))
        outputs = {**exported.files, **{f"report/{k}": v for k, v in report_files.items()}}
        manifest = log.stage("manifest", lambda: stage_manifest(cfg, log, run_results, outputs))
        timing = manifest["timing"]
        timing["stages_seconds"] = {k: round(v, 3) for k, v in log.stage_seconds.items()}
        timing["total_seconds"] = round(log.elapsed(), 3)
        manifest_path = write_manifest(manifest, cfg.layout.manifest_path)
        log(f"Manifest written: {manifest_path}")
    except (WarehouseLockedError, WarehouseError) as exc:
        raise RunError(str(exc), 1) from exc
    finally:
        log.write(cfg.layout.log_path)
    log(f"done in {log.elapsed():.1f}s: report {cfg.report_dir / 'executive_summary.md'}")
    log.write(cfg.layout.log_path)
    return RunOutcome(cfg.warehouse_path, cfg.layout, cfg.report_dir / "executive_summary.md",
                      manifest_path, dict(log.stage_seconds))


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
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="build on DuckDB (default) or on Apache Spark via dbt-spark "
                             "(`make setup-spark`; master from LIFTHOUSE_SPARK_MASTER, docs/spark.md)")
    parser.add_argument("--var", dest="vars", action="append", default=[], metavar="KEY=VALUE",
                        help="a dbt var override (repeatable), e.g. --var n_boot=500")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", "--run_id", dest="run_id", required=True,
                        help="names the warehouse file and every output folder")
    parser.add_argument("--start-date", "--start_date", dest="start_date", required=True,
                        type=parse_date, help="first day of the analysis window (UTC)")
    parser.add_argument("--end-date", "--end_date", dest="end_date", required=True,
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
    (the generator for synthetic data; else the archive ingest of exactly the datasets the run
    read, window plus lookback), then the run itself."""
    symbols = ",".join(cfg.symbols)
    load_start = cfg.start_date - dt.timedelta(days=int(cfg.lookback_days))
    if cfg.synthetic or cfg.fill == "generate":
        fill = ["lifthouse", "sample", "--data-dir", str(cfg.data_dir), "--symbols", symbols,
                "--start", cfg.start_date.isoformat(), "--end", cfg.end_date.isoformat(),
                "--lookback-days", str(cfg.lookback_days)]
        if cfg.sample_seed is not None:
            fill += ["--seed", str(cfg.sample_seed)]
        head = ["# generate the synthetic sample market into the raw layout"]
    else:
        present = [d for d in DATASETS if list_files(Path(cfg.data_dir), d)]
        fill = ["lifthouse", "ingest", "--symbols", symbols, "--start", load_start.isoformat(),
                "--end", cfg.end_date.isoformat(), "--datasets", ",".join(present),
                "--data-dir", str(cfg.data_dir)]
        head = ["# fill the raw layout from Binance's public archive (or load local copies with",
                "# `lifthouse import --dataset <name> FILE...`; skip if the data is there)"]
    parts = ["lifthouse", "run", "--run-id", cfg.run_id, "--start-date",
             cfg.start_date.isoformat(), "--end-date", cfg.end_date.isoformat(),
             "--symbols", symbols, "--lookback-days", str(cfg.lookback_days),
             "--data-dir", str(cfg.data_dir)]
    if str(cfg.out_dir) != ".":
        parts += ["--out-dir", str(cfg.out_dir)]
    if cfg.warehouse:
        parts += ["--warehouse", str(cfg.warehouse)]
    if cfg.engine != "duckdb":
        parts += ["--engine", cfg.engine]
    for key, value in sorted(cfg.extra_vars.items()):
        parts += ["--var", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return [*head, shlex.join(fill), "# build, export and report", shlex.join(parts)]


def config_from_args(args: argparse.Namespace, *, run_id: str, start: dt.date, end: dt.date,
                     lookback_days: int, fill: str | None, reproduce: list[str],
                     synthetic: bool = False) -> RunConfig:
    return RunConfig(
        run_id=run_id, start_date=start, end_date=end,
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        data_dir=resolve_data_dir(args.data_dir), out_dir=Path(args.out_dir),
        lookback_days=lookback_days, extra_vars=dict(parse_var(v) for v in args.vars),
        fill=fill, warehouse=args.warehouse, reproduce=reproduce, synthetic=synthetic,
        sample_seed=getattr(args, "seed", None), engine=getattr(args, "engine", "duckdb"),
    )


def _main(build: Callable[[], RunConfig], log: RunLog | None = None,
          prog: str = "lifthouse run") -> int:
    try:
        cfg = build()
        outcome = run_pipeline(cfg, log)
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
