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
    ``candidate_ids`` and every day of ``block_calendar(split)``, sorted by those keys.

    traded: the traded trades, candidate_id, block, trade_day, net_bps (and entry_time,
        event_id when present: each day's sum then adds its trades in time order, so the
        result does not depend on the order the engine returned them in)."""
    ids = np.asarray(sorted(set(map(str, candidate_ids))), dtype=object)
    t = traded.loc[traded["block"].isin(BLOCKS)]
    order = ["candidate_id", "block", "trade_day"] + [c for c in ("entry_time", "event_id")
                                                      if c in t.columns]
    t = t.sort_values(order, kind="mergesort")
    col = pd.Index(ids).get_indexer(t["candidate_id"].astype(str).to_numpy(dtype=object))
    day = pd.to_datetime(t["trade_day"]).to_numpy(dtype="datetime64[us]").astype(np.int64)
    block = t["block"].to_numpy(dtype=object)
    frames = []
    for name, days in block_calendar(split).items():
        d = days.to_numpy(dtype="datetime64[us]").astype(np.int64)
        n = len(d)
        sel = (block == name) & (col >= 0)
        row = np.searchsorted(d, day[sel]) if n else np.zeros(0, dtype=np.int64)
        inside = (row < n) & (d[np.minimum(row, max(n - 1, 0))] == day[sel]) if n else row > 0
        flat = (col[sel] * n + row)[inside]
        # bincount adds the weights in input order: the trades of a day in time order
        pnl = np.bincount(flat, weights=t["net_bps"].to_numpy(dtype=np.float64)[sel][inside],
                          minlength=len(ids) * n)
        cnt = np.bincount(flat, minlength=len(ids) * n)
        frames.append(pd.DataFrame({
            "candidate_id": np.repeat(ids, n), "block": name,
            "day": np.tile(d, len(ids)).astype("datetime64[us]"),
            "net_bps": pnl.astype(np.float64), "n_trades": cnt.astype(np.int64)}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["candidate_id", "block", "day"], kind="mergesort").reset_index(
        drop=True)[DAILY_COLUMNS]


def pnl_matrix(daily: pd.DataFrame, block: str | tuple[str, ...],
               candidate_ids=None, calendar: dict[str, np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """(matrix T x k of net_bps, the candidate ids of its columns, its days) for one block, or
    several blocks' days one block after the other (the PBO reads discovery then holdout).
    Columns in ``candidate_ids`` order (default: sorted), rows by day. ``daily`` may hold only
    the non-zero days when ``calendar`` gives each block's days (the missing cells are 0).
    Linear in the rows of ``daily`` (codes by factorize and searchsorted)."""
    blocks = (block,) if isinstance(block, str) else tuple(block)
    ids = (np.asarray(sorted(daily["candidate_id"].astype(str).unique()), dtype=object)
           if candidate_ids is None else np.asarray(list(candidate_ids), dtype=object))
    parts, all_days = [], []
    for b in blocks:
        d = daily.loc[daily["block"].to_numpy() == b]
        day = pd.to_datetime(d["day"]).to_numpy(dtype="datetime64[us]").astype(np.int64)
        days = (np.unique(day) if calendar is None else
                np.asarray(pd.to_datetime(calendar.get(b, [])).to_numpy(dtype="datetime64[us]")
                           ).astype(np.int64))
        x = np.zeros((len(days), len(ids)), dtype=np.float64)
        if len(d) and len(ids):
            codes, uniques = pd.factorize(d["candidate_id"].astype(str).to_numpy(dtype=object))
            col_of_unique = pd.Index(ids).get_indexer(np.asarray(uniques, dtype=object))
            c = col_of_unique[codes]
            keep = c >= 0
            r = np.searchsorted(days, day)
            keep &= (r < len(days)) & (days[np.minimum(r, max(len(days) - 1, 0))] == day)
            x[r[keep], c[keep]] = d["net_bps"].to_numpy(dtype=np.float64)[keep]
        parts.append(x)
        all_days.append(days)
    x = np.vstack(parts) if parts else np.zeros((0, len(ids)))
    days = np.concatenate(all_days) if all_days else np.zeros(0, dtype=np.int64)
    return x, ids, pd.DatetimeIndex(days.astype("datetime64[us]"))
