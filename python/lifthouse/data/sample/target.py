"""Where a sample generation may write (lifthouse.data.sample.generator): the datasets it
writes at each grain, the window it accepts, and the files of an earlier generation it may
replace. Real data (any file whose recorded origin is not the generator's) is never deleted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from lifthouse import defaults
from lifthouse.data import raw
from lifthouse.data.schema import (BAR_MINUTES, RawDataError, check_bar_minutes,
                                   perp_klines_dataset, spot_klines_dataset)

# what every generation writes; a generation at bar_minutes 5 adds its klines aggregated to 5m
SAMPLE_DATASETS = ("um_klines_1m", "spot_klines_1m", "um_funding_rate", "um_open_interest_5m",
                   "um_liquidations")
TRUTH_DIR = raw.SAMPLE_DIR
TRUTH_FILE = "ground_truth.json"


def check_window(t_end: np.datetime64, lookback_days: int) -> None:
    """Refuse, before anything is written, a negative lookback (the bars would start inside
    the window) and a window whose last bar is in the future (the raw layer refuses stamps
    after now)."""
    if int(lookback_days) < 0:
        raise RawDataError(
            f"--lookback-days {lookback_days} is negative: the bars would start "
            f"{-int(lookback_days)} day(s) inside the window instead of before it, leaving the "
            "window's first days without bars or warm-up",
            hint=f"pass --lookback-days 0 or more (default {defaults.LOOKBACK_DAYS}, the dbt "
                 "var lookback_days); nothing was written")
    from lifthouse.data.validate import latest_plausible_us

    last_bar = (t_end - np.timedelta64(1, "m")).astype("datetime64[us]").astype(np.int64)
    if int(last_bar) > latest_plausible_us():
        today = np.datetime64("now", "D")
        raise RawDataError(
            f"the window ends {t_end}, after now: its last bars would be in the future, which "
            "the raw layer refuses (market data is never from the future)",
            hint=f"pass an --end on or before {today}; nothing was written")


def sample_datasets(bar_minutes: int = 1) -> tuple[str, ...]:
    """The datasets a generation at ``bar_minutes`` writes: :data:`SAMPLE_DATASETS`, plus the
    perp and spot klines of that grain when it is not 1."""
    bar_minutes = check_bar_minutes(bar_minutes)
    if bar_minutes == 1:
        return SAMPLE_DATASETS
    return SAMPLE_DATASETS + (perp_klines_dataset(bar_minutes), spot_klines_dataset(bar_minutes))


# every dataset some generation writes (what --force and a re-generation may delete)
ALL_SAMPLE_DATASETS = tuple(dict.fromkeys(d for m in BAR_MINUTES for d in sample_datasets(m)))


def existing_sample_files(data_dir: Path, symbols: list[str]) -> list[Path]:
    """The files of every dataset a generation may write (any grain) for ``symbols``."""
    return [f for ds in ALL_SAMPLE_DATASETS for s in symbols
            for f in raw.list_files(data_dir, ds, s)]


def same_market(stored: dict, mine: dict) -> bool:
    """True when two generations' params describe the same market: the generator version and
    the grain do not count (every generation writes the same 1m market; a 5m one adds its
    aggregate), so a generation's files are its own to rebuild at either grain."""
    drop = ("generator_version", "bar_minutes")
    a = {k: v for k, v in stored.items() if k not in drop}
    b = {k: v for k, v in mine.items() if k not in drop}
    return bool(a) and a == b


def check_target(data_dir: Path, symbols: list[str], params: dict, force: bool) -> None:
    """Make room for the sample: remove the files an earlier generation wrote for these symbols
    (when it was this same generation, or with ``force``). Real data (any file whose recorded
    origin is not the generator's) is never deleted: it is an error, whatever ``force`` says."""
    found = existing_sample_files(data_dir, symbols)
    truth = data_dir / TRUTH_DIR / TRUTH_FILE
    if not found:
        return
    same = False
    if truth.exists():
        try:
            stored = dict(json.loads(truth.read_text()).get("params") or {})
        except (OSError, json.JSONDecodeError):
            stored = {}
        same = same_market(stored, dict(params))
    origins = {f: raw.file_origins(f) for f in found}
    # files of this same generation written before origins were recorded are the sample's own
    legacy = {"unknown"} if same else set()
    real = [f for f, o in origins.items() if not o <= {raw.GENERATED} | legacy]
    if real:
        syms = sorted({f.parent.name.split("=", 1)[1] for f in real})
        kinds = sorted(set().union(*(origins[f] for f in real)) - {raw.GENERATED})
        raise RawDataError(
            f"{data_dir} holds real data for {syms} ({len(real)} file(s), origin "
            f"{', '.join(kinds)}; e.g. {real[0]}); the sample never deletes or overwrites it",
            hint="generate the sample into its own folder: lifthouse sample --data-dir "
                 "data/sample (and run the demo with that --data-dir)")
    # the same generation run again (its ground truth says so, whatever generator version wrote
    # it): the files are the sample's own, so they are rebuilt from scratch (also picks up a
    # changed generator)
    if not (same or force):
        raise RawDataError(
            f"{data_dir} already holds generated sample data for "
            f"{sorted({p.parent.name[7:] for p in found})} ({len(found)} file(s)) from another "
            "sample generation (other seed, window or symbols)",
            hint="use a fresh --data-dir, or --force to delete those generated files first "
                 "(only files the generator wrote are deleted)")
    for folder in sorted({f.parent for f in found}):
        with raw.partition_lock(folder):  # not while another writer merges into it
            for f in found:
                if f.parent == folder and raw.file_origins(f) <= {raw.GENERATED} | legacy:
                    f.unlink()
    if truth.parent.exists():
        shutil.rmtree(truth.parent)
