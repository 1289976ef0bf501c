"""The samples a lift compares (SPEC 8): each candidate's traded trades in a canonical order, and
for a conditioned candidate its conditioned, twin and complement trades (per block if asked).
Trades are sorted by a total order before any sum, so the same inputs give bit-identical
outputs whatever the input row order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.research.bootstrap import resampled_means
from lifthouse.research.states import obj_strings, state_masks

TRADE_COLUMNS = ["candidate_id", "event_id", "symbol", "vol_regime", "carry_state",
                 "trade_status", "net_bps", "block", "trade_day"]


def mean_or_nan(x: np.ndarray) -> float:
    return float(np.sum(x) / len(x)) if len(x) else np.nan


@dataclass
class Trades:
    """One candidate's traded trades in a canonical order (trade_day, event_id, symbol)."""
    day: np.ndarray      # int64 days since epoch
    net: np.ndarray      # float64 net bps
    vol: np.ndarray      # object
    carry: np.ndarray    # object
    event: np.ndarray    # object
    block: np.ndarray    # object


EMPTY_TRADES = Trades(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object), np.zeros(0, object),
                 np.zeros(0, object), np.zeros(0, object))


def _day_numbers(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"
                                                                     ).astype(np.int64)


def _sort_codes(values: pa.Array) -> np.ndarray:
    """int64 codes of string values that order as the values do (rank of each distinct value)."""
    enc = pc.dictionary_encode(values)
    rank = pc.rank(enc.dictionary, sort_keys="ascending", tiebreaker="first").to_numpy()
    return rank.astype(np.int64)[enc.indices.to_numpy(zero_copy_only=False)]


def _strings(s: pd.Series) -> pa.Array:
    return pa.array(s.astype(str).to_numpy(dtype=object), pa.string())


def traded_by_candidate(trades: pd.DataFrame) -> dict[str, Trades]:
    """Traded rows grouped per candidate, each sorted by (trade_day, event_id, symbol) so that
    sums never depend on the input row order."""
    status = trades["trade_status"].astype(str).to_numpy(dtype=object)
    net = trades["net_bps"].astype(float).to_numpy()
    keep = np.flatnonzero((status == "traded") & ~np.isnan(net))
    if len(keep) == 0:
        return {}
    t = trades.iloc[keep]
    cid, event, symbol = (_strings(t[c]) for c in ("candidate_id", "event_id", "symbol"))
    day = _day_numbers(t["trade_day"])
    # (candidate_id, day, event_id, symbol) order as integer keys: lexsort is stable, so this
    # is the order of a stable sort by the values themselves
    order = np.lexsort((_sort_codes(symbol), _sort_codes(event), day, _sort_codes(cid)))
    states = t[["vol_regime", "carry_state", "block"]].iloc[order]
    cid = cid.take(order).to_numpy(zero_copy_only=False).astype(object)
    event = event.take(order).to_numpy(zero_copy_only=False).astype(object)
    day, net = day[order], net[keep][order]
    vol, carry = obj_strings(states["vol_regime"]), obj_strings(states["carry_state"])
    block = obj_strings(states["block"])
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
    ends = np.r_[starts[1:], len(cid)]
    return {str(cid[a]): Trades(day[a:b], net[a:b], vol[a:b], carry[a:b], event[a:b],
                                 block[a:b]) for a, b in zip(starts, ends)}


@dataclass
class LiftParts:
    cond: Trades
    twin: Trades
    comp: Trades


def lift_parts(row, by_cand: dict[str, Trades]) -> LiftParts:
    cond = by_cand.get(row.candidate_id, EMPTY_TRADES)
    twin = by_cand.get(row.twin_candidate_id, EMPTY_TRADES)
    matches, known = state_masks(twin.vol, twin.carry, row.vol_condition, row.carry_condition)
    m = known & ~matches
    comp = Trades(twin.day[m], twin.net[m], twin.vol[m], twin.carry[m], twin.event[m],
                   twin.block[m])
    return LiftParts(cond, twin, comp)


def in_block(t: Trades, block: str) -> Trades:
    m = t.block == block
    return Trades(t.day[m], t.net[m], t.vol[m], t.carry[m], t.event[m], t.block[m])


def block_parts(parts: LiftParts, block: str) -> LiftParts:
    return LiftParts(in_block(parts.cond, block), in_block(parts.twin, block),
                  in_block(parts.comp, block))


def lift_draws(weights, universe, parts: LiftParts) -> tuple[np.ndarray, np.ndarray]:
    means = resampled_means(weights, universe, [(parts.cond.day, parts.cond.net),
                                                (parts.twin.day, parts.twin.net),
                                                (parts.comp.day, parts.comp.net)])
    return means[:, 0] - means[:, 1], means[:, 0] - means[:, 2]
