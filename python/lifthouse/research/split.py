"""The time split of the analysis window by entry time (SPEC 6): discovery, embargo, holdout.

The rule "the embargo is never shorter than the longest horizon" lives here once
(:func:`split_for_plan`), for every model that splits trades into blocks."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from lifthouse.research.params import from_config

MINUTE_US = 60_000_000  # microseconds per minute


@dataclasses.dataclass(frozen=True)
class Split:
    """Time split of the analysis window [start_date, end_date) by entry_time."""

    start_date: pd.Timestamp
    end_date: pd.Timestamp
    phase2_discovery_fraction: float = 0.7
    phase2_embargo_minutes: int = 240

    def boundaries_us(self) -> tuple[int, int, int, int]:
        """(start, discovery_end, holdout_start, end) as int64 microseconds since the epoch."""
        start = _ts_us(self.start_date)
        end = _ts_us(self.end_date)
        if not end > start:
            raise ValueError("end_date must be after start_date")
        if not 0.0 < self.phase2_discovery_fraction < 1.0:
            raise ValueError("phase2_discovery_fraction must be in (0, 1)")
        disc_end = start + int(round((end - start) * self.phase2_discovery_fraction))
        hold_start = disc_end + int(self.phase2_embargo_minutes) * MINUTE_US
        return start, disc_end, hold_start, end

    def block_days(self) -> dict[str, float]:
        """Calendar length of each block in days (used to annualise Sharpe ratios)."""
        start, disc_end, hold_start, end = self.boundaries_us()
        day = 86_400_000_000
        return {
            "discovery": (disc_end - start) / day,
            "embargo": (min(hold_start, end) - disc_end) / day,
            "holdout": max(end - hold_start, 0) / day,
        }


def _ts_us(ts) -> int:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.to_datetime64().astype("datetime64[us]").astype(np.int64))


def assign_block(entry_us: np.ndarray, split: Split) -> np.ndarray:
    """Block label per entry time (int64 us): discovery / embargo / holdout (object array)."""
    start, disc_end, hold_start, _end = split.boundaries_us()
    entry_us = np.asarray(entry_us, dtype=np.int64)
    out = np.full(entry_us.shape, "holdout", dtype=object)
    out[entry_us < hold_start] = "embargo"
    out[entry_us < disc_end] = "discovery"
    return out


def split_for_plan(get: Callable[[str], Any], horizons: Iterable[int]) -> Split:
    """The split of a build from the model config (vars start_date, end_date,
    phase2_discovery_fraction, phase2_embargo_minutes); the embargo is never shorter than the
    longest horizon of the plan, so no discovery trade is still open when the holdout starts."""
    split = from_config(Split, get, start_date=pd.Timestamp(get("start_date")),
                        end_date=pd.Timestamp(get("end_date")))
    longest = max((int(h) for h in horizons), default=0)
    return dataclasses.replace(split, phase2_embargo_minutes=max(split.phase2_embargo_minutes,
                                                                 longest))
