"""Phase 2 backtest kernel (SPEC 6): event-driven trades for every candidate of the plan.

Pure pandas/numpy: ``run_backtest(events, bars, funding, candidates, costs, split)`` returns one
row per (candidate_id, event_id) that was considered. No dbt, no DuckDB, no I/O, so the same
function can run under Spark's ``applyInPandas`` later.

Rules (times are naive UTC):

* Only ``in_window`` events are considered (warm-up buffer rows are never traded).
* A candidate matches an event when ``event_type`` is equal, the event's symbol is in the
  candidate's scope, and each non-null condition column equals the state at detection
  (``vol_condition`` vs ``vol_regime``, ``carry_condition`` vs ``carry_state``). The state
  ``warmup`` never equals a condition, so it never matches a conditioned candidate. The
  unconditioned candidate (both condition columns null, condition ``all``) takes every in-window
  event, including those whose state is ``warmup``: the unconditioned rule does not look at
  state, so twin n(events) = sum of its state partitions + warm-up events (SPEC 9).
* Entry at the OPEN of the bar after detection: ``entry_time = detected_at + 1 min``. Exit at the
  CLOSE of the horizon's last bar (``open_time = entry_time + (h-1) min``): the scheduled
  ``exit_time = entry_time + h min``. When that bar is missing (absent, a gap, or no close), the
  position is held through the missing bars and exits at the close of the first bar that exists
  after it; ``exit_time_used`` is the close actually used (= ``exit_time`` when the bar exists).
* ``side = direction`` (follow) or ``-direction`` (fade); ``gross_bps = side*(exit/entry-1)*1e4``.
* Costs on both legs: ``fee_bps = 2*fee_bps_per_side``, ``slippage_bps = 2*slippage_bps_per_side``
  (round-trip totals per trade row).
* Funding: every settlement strictly inside (entry, exit), ``entry_time < funding_time <
  exit_time_used``, is paid by a long and received by a short (a settlement at the entry open or
  at the exit close is not: the position opens after it / closes before it, SPEC 6):
  ``funding_bps = side * sum(funding_rate) * 1e4`` (positive = paid).
* ``net_bps = gross_bps - fee_bps - slippage_bps - funding_bps``.
* Whether a trade is taken is decided at its entry with what is known then (SPEC 2), never by
  whether its exit bar exists. One position at a time per (candidate, symbol), events in
  ``detected_at`` order: an event with ``detected_at < exit_time_used`` of the open trade is
  ``skipped_overlap``; a missing / gap entry bar is ``dropped_gap`` (known at entry); a trade
  with no bar to exit at before the symbol's data end (scheduled exit after the data end, or
  every bar from the horizon's last bar to the end missing) is ``dropped_past_end``. Dropped
  trades never open a position. A past-end trade not blocking later events changes no trade:
  every later event of the sequence is past the end too.
* Blocks by entry_time: ``discovery`` = [start, start + f*(end-start)), ``embargo`` =
  [disc_end, disc_end + embargo), ``holdout`` = the rest up to end.

Speed: trade legs (prices, funding, statuses) are computed once per (event, horizon) with
``numpy.searchsorted``; the overlap walk runs once per (event_type, condition, horizon, symbol)
on event times only; candidates (direction rules, pooled vs per-symbol scopes) are fanned out
with array indexing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifthouse.research.split import MINUTE_US, Split, assign_block
from lifthouse.research.states import state_masks


TRADE_STATUSES = ("traded", "skipped_overlap", "dropped_past_end", "dropped_gap")

TRADE_COLUMNS = [
    "candidate_id", "event_id", "symbol", "detected_at", "vol_regime", "carry_state",
    "direction", "trade_status", "side", "entry_time", "entry_price", "exit_time",
    "exit_time_used", "exit_price",
    "gross_bps", "fee_bps", "slippage_bps", "funding_bps", "net_bps", "n_settlements", "block",
    "trade_day",
]


@dataclass(frozen=True)
class Costs:
    """Per-side trading costs in bps (charged on entry AND exit)."""

    phase2_fee_bps_per_side: float = 4.5
    phase2_slippage_bps_per_side: float = 1.5


# --------------------------------------------------------------------------------------------
# helpers


def _to_us(values) -> np.ndarray:
    """Datetime-like array/Series -> int64 microseconds since the epoch (naive UTC)."""
    s = pd.to_datetime(pd.Series(values).reset_index(drop=True))
    if s.dt.tz is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[us]").astype(np.int64)


def _us_to_dt(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[us]")


def _scope_symbols(candidates: pd.DataFrame, all_symbols: list[str]) -> list[list[str]]:
    """Symbols of each candidate's scope: ``scope_symbols`` (comma list) when present, else the
    symbol_scope itself, with ``pooled`` = every symbol seen in the events."""
    has_list = "scope_symbols" in candidates.columns
    out = []
    for i, scope in enumerate(candidates["symbol_scope"].to_numpy()):
        listed = candidates["scope_symbols"].iat[i] if has_list else None
        if isinstance(listed, str) and listed:
            out.append([s for s in listed.split(",") if s])
        elif scope == "pooled":
            out.append(list(all_symbols))
        else:
            out.append([scope])
    return out


def _rows_by_symbol(symbols: pd.Series) -> dict[str, np.ndarray]:
    """symbol -> the positions of its rows, ascending (one pass over the column: comparing a
    10 M-row string column with each symbol in turn was most of the backtest at 20 x 365)."""
    codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(u): order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniques)}


def _nullable_str(values) -> np.ndarray:
    """Object array with None for missing values (NaN / pd.NA / None / '')."""
    s = pd.Series(values, dtype=object)
    s = s.where(s.notna() & (s.astype(str) != ""), None)
    return s.to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------
# stage 1: trade legs per (event, horizon)


def check_horizons(horizons, bar_minutes: int) -> np.ndarray:
    """The distinct horizons (minutes), ascending; ValueError naming one that is not a whole
    number of bars of ``bar_minutes`` (a horizon stays in minutes at any grain)."""
    out = np.asarray(sorted(set(int(h) for h in horizons)), dtype=np.int64)
    bad = [int(h) for h in out if h <= 0 or h % int(bar_minutes)]
    if bad:
        raise ValueError(f"horizon_min {bad} is not a positive multiple of bar_minutes "
                         f"{bar_minutes}: change seeds/candidate_horizons.csv or the grain")
    return out


def compute_legs(events: pd.DataFrame, bars: pd.DataFrame, funding: pd.DataFrame,
                 horizons, bar_minutes: int = 1) -> dict[str, np.ndarray]:
    """Entry/exit prices, long-side gross return, funding and leg status for every
    (event, horizon). ``events`` are the in-window events (any order); ``bars`` are on a grid
    of ``bar_minutes``: entry at the open of the bar after the detection bar, exit at the close
    of the horizon's last bar. Returns arrays of shape (n_events, n_horizons) keyed by name, in
    the row order of ``events``."""
    horizons = check_horizons(horizons, bar_minutes)
    bar_us = int(bar_minutes) * MINUTE_US
    n_ev, n_h = len(events), len(horizons)
    sym = events["symbol"].to_numpy(dtype=object)
    det = _to_us(events["detected_at"])
    entry = det + bar_us
    entry2 = np.repeat(entry[:, None], n_h, axis=1)
    exit_ = entry2 + horizons[None, :] * MINUTE_US
    exit_bar = exit_ - bar_us

    entry_px = np.full((n_ev, n_h), np.nan)
    exit_px = np.full((n_ev, n_h), np.nan)
    exit_used = exit_.copy()  # close actually used; the scheduled exit where there is none
    fund = np.zeros((n_ev, n_h))
    n_set = np.zeros((n_ev, n_h), dtype=np.int64)
    past_end = np.ones((n_ev, n_h), dtype=bool)

    bar_t = _to_us(bars["open_time"])
    bar_o = pd.to_numeric(bars["open"], errors="coerce").to_numpy(dtype=float)
    bar_c = pd.to_numeric(bars["close"], errors="coerce").to_numpy(dtype=float)
    if "is_gap" in bars.columns:
        gap = bars["is_gap"].fillna(False).to_numpy(dtype=bool)
        bar_o = np.where(gap, np.nan, bar_o)
        bar_c = np.where(gap, np.nan, bar_c)
    f_sym = funding["symbol"].to_numpy(dtype=object)
    f_t = _to_us(funding["funding_time"]) if len(funding) else np.zeros(0, dtype=np.int64)
    f_r = pd.to_numeric(funding["funding_rate"], errors="coerce").fillna(0.0).to_numpy(dtype=float)

    bar_rows = _rows_by_symbol(bars["symbol"])
    for s in pd.unique(sym):
        ev = np.flatnonzero(sym == s)
        bm = bar_rows.get(s, np.zeros(0, dtype=np.int64))
        t, o, c = bar_t[bm], bar_o[bm], bar_c[bm]
        order = np.argsort(t, kind="stable")
        t, o, c = t[order], o[order], c[order]
        if len(t):
            data_end = t[-1] + bar_us  # close of the last bar
            idx = np.clip(np.searchsorted(t, entry2[ev]), 0, len(t) - 1)
            entry_px[ev] = np.where(t[idx] == entry2[ev], o[idx], np.nan)
            # exit: the first bar with a close at or after the horizon's last bar (held
            # through missing bars); none before the data end -> past the end
            has_close = np.isfinite(c)
            tc, cc = t[has_close], c[has_close]
            k = np.searchsorted(tc, exit_bar[ev])
            found = (k < len(tc)) & (exit_[ev] <= data_end)
            k = np.minimum(k, max(len(tc) - 1, 0))
            if len(tc):
                exit_px[ev] = np.where(found, cc[k], np.nan)
                exit_used[ev] = np.where(found, tc[k] + bar_us, exit_[ev])
            past_end[ev] = ~found
        fm = f_sym == s
        ft, fr = f_t[fm], f_r[fm]
        order = np.argsort(ft, kind="stable")
        ft, fr = ft[order], fr[order]
        cum = np.concatenate([[0.0], np.cumsum(fr)])
        lo = np.searchsorted(ft, entry2[ev], side="right")     # first settlement > entry
        hi = np.searchsorted(ft, exit_used[ev], side="left")   # settlements < exit used
        fund[ev] = (cum[hi] - cum[lo]) * 1e4
        n_set[ev] = hi - lo

    status = np.full((n_ev, n_h), 0, dtype=np.int8)  # index into TRADE_STATUSES
    bad_entry = ~(np.isfinite(entry_px) & (entry_px > 0))
    status[bad_entry] = 3
    status[past_end] = 2  # past the data end wins over a missing bar there
    with np.errstate(invalid="ignore", divide="ignore"):
        long_gross = (exit_px / entry_px - 1.0) * 1e4
    return {
        "horizons": horizons, "entry_us": entry2, "exit_us": exit_, "exit_used_us": exit_used,
        "entry_px": entry_px,
        "exit_px": exit_px, "long_gross_bps": long_gross, "long_funding_bps": fund,
        "n_settlements": n_set, "leg_status": status,
    }


# --------------------------------------------------------------------------------------------
# stage 2: one-position-at-a-time walk


def walk_positions(det_us: np.ndarray, exit_us: np.ndarray, leg_status: np.ndarray) -> np.ndarray:
    """Trade status codes for one (candidate, symbol) event sequence sorted by detection time.
    An event detected before the open trade's exit (``exit_us`` = the exit actually used) is
    skipped (1); a dropped leg (2, 3) keeps its status and opens no position; otherwise it
    trades (0) and blocks until its exit."""
    out = np.empty(len(det_us), dtype=np.int8)
    open_until = np.iinfo(np.int64).min
    for i, (d, x, st) in enumerate(zip(det_us.tolist(), exit_us.tolist(), leg_status.tolist())):
        if d < open_until:
            out[i] = 1
        elif st != 0:
            out[i] = st
        else:
            out[i] = 0
            open_until = x
    return out


# --------------------------------------------------------------------------------------------
# the backtest


def run_backtest(events: pd.DataFrame, bars: pd.DataFrame, funding: pd.DataFrame,
                 candidates: pd.DataFrame, costs: Costs, split: Split, *,
                 ignore_condition_filter: bool = False, bar_minutes: int = 1) -> pd.DataFrame:
    """All considered (candidate, event) rows with their trade status and PnL (TRADE_COLUMNS).

    events: event_id, event_type, symbol, detected_at, direction (+1/-1), vol_regime,
        carry_state, in_window.
    bars: symbol, open_time, open, close (optional is_gap); every bar that may be an entry or
        exit bar, on a grid of ``bar_minutes`` (1 or 5). A symbol's data end is the close of
        its last bar.
    funding: symbol, funding_time, funding_rate (decimal).
    candidates: candidate_id, event_type, vol_condition, carry_condition (null = any),
        horizon_min, direction_rule (follow|fade), symbol_scope (+ optional scope_symbols).
    ignore_condition_filter: FAULT INJECTION for tests only (dbt var
        fault_ignore_condition_filter): conditions are ignored, so every conditioned candidate
        takes all of its twin's events - the broken filter the SPEC 9 sanity checks must catch.
    """
    ev = events.loc[events["in_window"].fillna(False).astype(bool)].copy()
    ev = ev.sort_values(["symbol", "detected_at", "event_id"], kind="stable").reset_index(drop=True)
    cands = candidates.reset_index(drop=True)
    if len(ev) == 0 or len(cands) == 0:
        return _empty_trades()

    legs = compute_legs(ev, bars, funding, cands["horizon_min"].unique(), bar_minutes)
    h_index = {int(h): j for j, h in enumerate(legs["horizons"])}

    ev_type = ev["event_type"].to_numpy(dtype=object)
    ev_sym = ev["symbol"].to_numpy(dtype=object)
    ev_vol = _nullable_str(ev["vol_regime"])
    ev_carry = _nullable_str(ev["carry_state"])
    ev_det = _to_us(ev["detected_at"])
    ev_dir = ev["direction"].to_numpy(dtype=np.int64)
    all_symbols = sorted(pd.unique(ev_sym).tolist())

    c_vol = _nullable_str(cands["vol_condition"])
    c_carry = _nullable_str(cands["carry_condition"])
    c_type = cands["event_type"].to_numpy(dtype=object)
    c_h = cands["horizon_min"].to_numpy(dtype=np.int64)
    rule = cands["direction_rule"].to_numpy(dtype=object)
    if not set(rule.tolist()) <= {"follow", "fade"}:
        raise ValueError(f"unknown direction_rule in {sorted(set(rule.tolist()))}")
    c_mult = np.where(rule == "fade", -1, 1)
    scopes = _scope_symbols(cands, all_symbols)

    # which events match a condition: the one rule of lifthouse.research.states
    matched: dict[tuple, np.ndarray] = {}

    def condition_match(vc, cc) -> np.ndarray:
        if (vc, cc) not in matched:
            matched[(vc, cc)] = state_masks(ev_vol, ev_carry, vc, cc)[0]
        return matched[(vc, cc)]

    # the events of one (event_type, symbol), ascending
    type_symbol: dict[tuple, np.ndarray] = {}

    def type_symbol_rows(etype, s) -> np.ndarray:
        if (etype, s) not in type_symbol:
            type_symbol[(etype, s)] = np.flatnonzero((ev_type == etype) & (ev_sym == s))
        return type_symbol[(etype, s)]

    # walk once per (event_type, vol_condition, carry_condition, horizon, symbol)
    walked: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def selection(etype, vc, cc, h, s) -> tuple[np.ndarray, np.ndarray]:
        key = (etype, vc, cc, h, s)
        if key not in walked:
            idx = type_symbol_rows(etype, s)  # already sorted by detected_at within the symbol
            if not ignore_condition_filter:
                idx = idx[condition_match(vc, cc)[idx]]
            j = h_index[h]
            st = walk_positions(ev_det[idx], legs["exit_used_us"][idx, j],
                                legs["leg_status"][idx, j])
            walked[key] = (idx, st)
        return walked[key]

    row_ev, row_st, row_cand = [], [], []
    for ci in range(len(cands)):
        for s in scopes[ci]:
            idx, st = selection(c_type[ci], c_vol[ci], c_carry[ci], int(c_h[ci]), s)
            if len(idx) == 0:
                continue
            row_ev.append(idx)
            row_st.append(st)
            row_cand.append(np.full(len(idx), ci, dtype=np.int64))
    if not row_ev:
        return _empty_trades()
    e = np.concatenate(row_ev)
    st = np.concatenate(row_st)
    c = np.concatenate(row_cand)
    j = np.array([h_index[int(h)] for h in c_h], dtype=np.int64)[c]

    side = ev_dir[e] * c_mult[c]
    traded = st == 0
    entry_us = legs["entry_us"][e, j]
    exit_us = legs["exit_us"][e, j]
    gross = np.where(traded, side * legs["long_gross_bps"][e, j], np.nan)
    fee = np.where(traded, 2.0 * costs.phase2_fee_bps_per_side, np.nan)
    slip = np.where(traded, 2.0 * costs.phase2_slippage_bps_per_side, np.nan)
    fund = np.where(traded, side * legs["long_funding_bps"][e, j], np.nan)
    net = gross - fee - slip - fund

    out = pd.DataFrame({
        "candidate_id": cands["candidate_id"].to_numpy(dtype=object)[c],
        "event_id": ev["event_id"].to_numpy(dtype=object)[e],
        "symbol": ev_sym[e],
        "detected_at": _us_to_dt(ev_det[e]),
        "vol_regime": ev["vol_regime"].to_numpy(dtype=object)[e],
        "carry_state": ev["carry_state"].to_numpy(dtype=object)[e],
        "direction": ev_dir[e],
        "trade_status": np.asarray(TRADE_STATUSES, dtype=object)[st],
        "side": side.astype(np.int64),
        "entry_time": _us_to_dt(entry_us),
        "entry_price": np.where(st == 0, legs["entry_px"][e, j], np.nan),
        "exit_time": _us_to_dt(exit_us),
        "exit_time_used": np.where(traded, _us_to_dt(legs["exit_used_us"][e, j]),
                                   np.datetime64("NaT", "us")),
        "exit_price": np.where(st == 0, legs["exit_px"][e, j], np.nan),
        "gross_bps": gross,
        "fee_bps": fee,
        "slippage_bps": slip,
        "funding_bps": fund,
        "net_bps": net,
        "n_settlements": np.where(traded, legs["n_settlements"][e, j], 0).astype(np.int64),
        "block": assign_block(entry_us, split),
        "trade_day": _us_to_dt(entry_us).astype("datetime64[D]").astype("datetime64[us]"),
    })
    out = out.sort_values(["candidate_id", "entry_time", "symbol", "event_id"], kind="stable")
    return out.reset_index(drop=True)[TRADE_COLUMNS]


def _empty_trades() -> pd.DataFrame:
    dt = "datetime64[us]"
    dtypes = {
        "candidate_id": object, "event_id": object, "symbol": object, "detected_at": dt,
        "vol_regime": object, "carry_state": object, "direction": np.int64,
        "trade_status": object, "side": np.int64, "entry_time": dt, "entry_price": float,
        "exit_time": dt, "exit_time_used": dt, "exit_price": float, "gross_bps": float, "fee_bps": float,
        "slippage_bps": float, "funding_bps": float, "net_bps": float,
        "n_settlements": np.int64, "block": object, "trade_day": dt,
    }
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in dtypes.items()})[TRADE_COLUMNS]
