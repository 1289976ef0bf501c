"""The commands that reproduce a run (the report's last section)."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

from lifthouse.data.raw import list_files
from lifthouse.data.schema import DATASETS, perp_klines_dataset
from lifthouse.run.config import RunConfig


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
        if cfg.bar_minutes != 1:
            fill += ["--bar-minutes", str(cfg.bar_minutes)]
        head = ["# generate the synthetic sample market into the raw layout", shlex.join(fill)]
    else:
        present = [d for d in DATASETS if list_files(Path(cfg.data_dir), d)]
        fill = ["lifthouse", "ingest", "--symbols", symbols, "--start", load_start.isoformat(),
                "--end", cfg.end_date.isoformat(), "--datasets", ",".join(present),
                "--data-dir", str(cfg.data_dir)]
        if klines_ohlcv_only(Path(cfg.data_dir), cfg.bar_minutes):
            head = _local_import_lines(cfg, present, fill)
        else:
            head = ["# fill the raw layout from Binance's public archive (12-column klines with",
                    "# quote volume; skip if the data is there)", shlex.join(fill)]
    return [*head, "# build, export and report", shlex.join(_run_command(cfg, symbols))]


def klines_ohlcv_only(data_dir: Path, bar_minutes: int = 1) -> bool:
    """True when the raw perp klines of the grain carry no quote volume (OHLCV-only local
    files, e.g. the shared real data); an archive ingest stores the 12-column klines with
    quote_volume."""
    import pyarrow.parquet as pq

    files = list_files(data_dir, perp_klines_dataset(bar_minutes))
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
                          str(cfg.data_dir)]) + f' "$LOCAL/{_local_folder(d, cfg.bar_minutes)}"/*.parquet'
              for d in present]
    lines += ["# An archive ingest instead gives 12-column klines with quote volume, which the",
              "# vacuum detector's `illiquidity` uses (notional = quote_volume, else volume x",
              "# close), so its liquidity_vacuum events can differ from this run's:",
              "#   " + shlex.join(ingest)]
    return lines


def _local_folder(dataset: str, bar_minutes: int) -> str:
    """The folder of a dataset in the shared real data (../shared/data/binance): the 5m klines
    and the funding that spans their 415 days are under long_5m/."""
    if bar_minutes != 1 and dataset in (perp_klines_dataset(bar_minutes),
                                        f"spot_klines_{bar_minutes}m", "um_funding_rate"):
        return f"long_{bar_minutes}m/{dataset}"
    return dataset


def _run_command(cfg: RunConfig, symbols: str) -> list[str]:
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
    if cfg.bar_minutes != 1:
        parts += ["--bar-minutes", str(cfg.bar_minutes)]
    for key, value in sorted(cfg.extra_vars.items()):
        parts += ["--var", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return parts
