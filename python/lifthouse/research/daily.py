"""Each candidate's net P&L per UTC day (phase2_candidate_daily): the T x k matrix of the
grid-level snooping tests (lifthouse.research.snooping_grid, docs/phase2.md "Data snooping").

Calendar time: every UTC day of a block is a row for every candidate, 0 on a day without a
trade, so every column covers the same days. A trade counts on the UTC day of its entry
(``trade_day``), in its block (discovery or holdout, lifthouse.research.split). The day that
holds the discovery end appears once in each block it overlaps, with that block's trades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.split import Split

DAILY_COLUMNS = ["candidate_id", "block", "day", "net_bps", "n_trades"]
BLOCKS = ("discovery", "holdout")
DAY_US = 86_400_000_000


def block_calendar(split: Split) -> dict[str, pd.DatetimeIndex]:
    """The UTC days that overlap each block: discovery [start, discovery_end), holdout
    [holdout_start, end); an empty holdout (the embargo reaches the end) has no day."""
    start, disc_end, hold_start, end = split.boundaries_us()
    out = {}
    for name, (lo, hi) in {"discovery": (start, disc_end), "holdout": (hold_start, end)}.items():
        if hi <= lo:
            out[name] = pd.DatetimeIndex([], dtype="datetime64[us]")
            continue
        first, last = lo // DAY_US * DAY_US, (hi - 1) // DAY_US * DAY_US
        out[name] = pd.DatetimeIndex(np.arange(first, last + 1, DAY_US).astype("datetime64[us]"))
    return out


def daily_pnl(traded: pd.DataFrame, candidate_ids, split: Split) -> pd.DataFrame:
    """The dense daily series: one row per (candidate, block, day) for every candidate of
    ``candidate_ids`` and every day of ``block_calendar(split)``.

    traded: the traded trades, candidate_id, block, trade_day, net_bps (and entry_time,
        event_id when present: the sums then add the trades in time order, so the result does
        not depend on the order the engine returned them in)."""
    ids = np.asarray(sorted(set(map(str, candidate_ids))), dtype=object)
    frames = []
    for block, days in block_calendar(split).items():
        grid = pd.DataFrame({"candidate_id": np.repeat(ids, len(days)),
                             "block": block,
                             "day": np.tile(days.to_numpy(), len(ids))})
        frames.append(grid)
    dense = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DAILY_COLUMNS)
    sparse = traded.loc[traded["block"].isin(BLOCKS)].copy()
    sparse["candidate_id"] = sparse["candidate_id"].astype(str)
    sparse["day"] = pd.to_datetime(sparse["trade_day"]).astype("datetime64[us]")
    order = ["candidate_id", "block", "day"] + [c for c in ("entry_time", "event_id")
                                                if c in sparse.columns]
    sparse = sparse.sort_values(order, kind="mergesort")
    sparse = sparse.groupby(["candidate_id", "block", "day"], sort=False, as_index=False).agg(
        net_bps=("net_bps", "sum"), n_trades=("net_bps", "size"))
    dense["day"] = dense["day"].astype("datetime64[us]")
    out = dense.merge(sparse, on=["candidate_id", "block", "day"], how="left", validate="one_to_one")
    out["net_bps"] = out["net_bps"].fillna(0.0).astype("float64")
    out["n_trades"] = out["n_trades"].fillna(0).astype("int64")
    return out.sort_values(["candidate_id", "block", "day"], kind="mergesort").reset_index(
        drop=True)[DAILY_COLUMNS]


def pnl_matrix(daily: pd.DataFrame, block: str | tuple[str, ...],
               candidate_ids=None) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """(matrix T x k of net_bps, the candidate ids of its columns, its days) for one block, or
    several blocks' days one block after the other (the PBO reads discovery then holdout).
    Columns in ``candidate_ids`` order (default: sorted), rows by day. Linear in the rows of
    ``daily`` (codes by factorize and searchsorted, no sort of the 2-D keys)."""
    blocks = (block,) if isinstance(block, str) else tuple(block)
    ids = (np.asarray(sorted(daily["candidate_id"].astype(str).unique()), dtype=object)
           if candidate_ids is None else np.asarray(list(candidate_ids), dtype=object))
    parts, all_days = [], []
    for b in blocks:
        d = daily.loc[daily["block"].to_numpy() == b]
        day = pd.to_datetime(d["day"]).to_numpy(dtype="datetime64[us]").astype(np.int64)
        days = np.unique(day)
        x = np.zeros((len(days), len(ids)), dtype=np.float64)
        if len(d) and len(ids):
            codes, uniques = pd.factorize(d["candidate_id"].astype(str).to_numpy(dtype=object))
            col_of_unique = pd.Index(ids).get_indexer(np.asarray(uniques, dtype=object))
            c = col_of_unique[codes]
            keep = c >= 0
            r = np.searchsorted(days, day)
            x[r[keep], c[keep]] = d["net_bps"].to_numpy(dtype=np.float64)[keep]
        parts.append(x)
        all_days.append(days)
    x = np.vstack(parts) if parts else np.zeros((0, len(ids)))
    days = np.concatenate(all_days) if all_days else np.zeros(0, dtype=np.int64)
    return x, ids, pd.DatetimeIndex(days.astype("datetime64[us]"))
