"""Stage 1 of a run, preflight (SPEC 1-2): check the raw data covers the window plus its
lookback, filling it first when asked (--ingest: the Binance archive; --generate / demo: the
sample market); then label the run synthetic or real by the origin of the files it reads."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from lifthouse import defaults
from lifthouse.data.preflight import check_coverage as preflight_coverage
from lifthouse.data.origins import GENERATED, file_origins
from lifthouse.data.raw import list_files
from lifthouse.data.schema import BAR_MINUTES, DATASETS
from lifthouse.run.config import RunConfig, effective_vars
from lifthouse.run.errors import RunError
from lifthouse.run.log import RunLog


def check_coverage(cfg: RunConfig):
    return preflight_coverage(cfg.data_dir, cfg.symbols, cfg.start_date, cfg.end_date,
                              cfg.lookback_days, bar_minutes=cfg.bar_minutes)


def fill_by_ingest(cfg: RunConfig, log: RunLog) -> None:
    from lifthouse.data.ingest import ingest, parse_datasets

    funding_days = int(effective_vars(cfg)["funding_lookback_days"])
    start = cfg.start_date - dt.timedelta(days=cfg.lookback_days)
    datasets = parse_datasets(None, bar_minutes=cfg.bar_minutes)
    others = [d for d in datasets if d != "um_funding_rate"]
    jobs = [(others, start)]
    if "um_funding_rate" in datasets:
        jobs.append((["um_funding_rate"], start - dt.timedelta(days=funding_days)))
    for ds, first in jobs:
        log(f"ingest {','.join(ds)} {','.join(cfg.symbols)} {first}..{cfg.end_date}")
        rep = ingest(cfg.symbols, ds, first, cfg.end_date, data_dir=cfg.data_dir,
                     progress_stream=None, bar_minutes=cfg.bar_minutes)
        for line in rep.render().splitlines():
            log.raw("  ingest| " + line)
        if rep.exit_code != 0:
            raise RunError("ingest failed (see above); re-run to resume", 1)


def fill_by_generate(cfg: RunConfig, log: RunLog) -> None:
    from lifthouse.data.sample import generate

    seed = cfg.sample_seed if cfg.sample_seed is not None else defaults.SAMPLE_SEED
    log(f"generate the sample market (seed {seed}): {','.join(cfg.symbols)} "
        f"[{cfg.start_date}, {cfg.end_date}) + {cfg.lookback_days} lookback day(s) "
        f"into {cfg.data_dir}")
    t0 = time.monotonic()
    truth = generate(cfg.data_dir, seed=seed, symbols=list(cfg.symbols),
                     start=cfg.start_date.isoformat(), end=cfg.end_date.isoformat(),
                     lookback_days=cfg.lookback_days, bar_minutes=cfg.bar_minutes,
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
    seed = cfg.sample_seed if cfg.sample_seed is not None else defaults.SAMPLE_SEED
    return (params.get("seed") == seed and params.get("null") is False
            and list(params.get("symbols") or []) == list(cfg.symbols)
            and str(params.get("start", "")).startswith(cfg.start_date.isoformat())
            and str(params.get("end", "")).startswith(cfg.end_date.isoformat())
            and params.get("lookback_days") == cfg.lookback_days
            and (cfg.bar_minutes == 1 or int(params.get("bar_minutes") or 1) == cfg.bar_minutes)
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
    future = getattr(report, "future", None)
    if future and cfg.fill != "generate":   # no ingest can fill days that have not ended
        raise RunError(f"pre-flight failed: {future}\n  (--generate fills any window with the "
                       "synthetic sample market)", 2)
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
    """The raw month files the build reads: the run's symbols, every dataset (the klines of the
    run's grain only), the months that overlap the window plus its lookback (and the extra
    funding lookback)."""
    funding_days = int(effective_vars(cfg)["funding_lookback_days"])
    first = cfg.start_date - dt.timedelta(days=cfg.lookback_days + funding_days)
    lo, hi = f"{first:%Y-%m}", f"{cfg.end_date - dt.timedelta(days=1):%Y-%m}"
    return [f for d in datasets_read(cfg.bar_minutes) for s in cfg.symbols
            for f in list_files(cfg.data_dir, d, s) if lo <= f.stem <= hi]


def datasets_read(bar_minutes: int) -> list[str]:
    """The raw datasets a build at ``bar_minutes`` reads: every dataset except the perp and
    spot klines of the other grains."""
    other = {f"{kind}_klines_{g}m" for kind in ("um", "spot") for g in BAR_MINUTES
             if g != bar_minutes}
    return [d for d in DATASETS if d not in other]


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
