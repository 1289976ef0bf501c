"""Sanity checks of the ablation (SPEC 9), as rows ``(check, scope, value, expected, ok,
detail)`` that lift_summary and the report show. ``ok`` is True / False, or NA for purely
informational rows (counts). Reasoning: docs/lift.md, section "Sanity checks".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.plan import plan_frame
from lifthouse.research.states import CARRY_STATES, VOL_STATES, is_set, obj_strings, state_masks

SANITY_COLUMNS = ["check", "scope", "value", "expected", "ok", "detail"]

# partition dimensions: name -> (vol states or None, carry states or None)
DIMENSIONS = {
    "vol": (VOL_STATES, None),
    "carry": (None, CARRY_STATES),
    "vol_x_carry": (VOL_STATES, CARRY_STATES),
}


def all_lifts_zero(lift_bps) -> bool:
    """The zero-lift rule (SPEC 9): there are finite lifts and every one is exactly 0, which a
    working condition filter and comparison never give (a probable bug)."""
    v = np.asarray(pd.to_numeric(pd.Series(lift_bps), errors="coerce"), dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and bool((v == 0.0).all())


def zero_lift_event_types(lift: pd.DataFrame) -> dict[str, str]:
    """Event types whose conditioned candidates all have lift exactly 0, or all have n_cond
    equal to their twin's n (a condition filter that does nothing): {event_type: why}."""
    out = {}
    for et, g in lift.groupby("event_type", sort=True):
        fin = g.loc[np.isfinite(g["lift_bps"])]
        if all_lifts_zero(g["lift_bps"]):
            out[str(et)] = f"all {len(fin)} conditioned lifts are exactly 0"
        elif len(g) and bool((g["n_cond"] == g["n_twin"]).all()) and int(g["n_twin"].sum()) > 0:
            out[str(et)] = f"all {len(g)} conditioned candidates have n_cond == n_twin"
    return out


def _dimension(vol_condition, carry_condition) -> str | None:
    v, c = is_set(vol_condition), is_set(carry_condition)
    return {(True, False): "vol", (False, True): "carry", (True, True): "vol_x_carry"}.get((v, c))


def _trades_frame(trades: pd.DataFrame) -> pd.DataFrame:
    """The considered rows with the columns the checks read, as plain object columns (str;
    None for a missing state). Built once by ``sanity_checks`` and shared by the checks."""
    def col(values) -> pd.Series:
        return pd.Series(values, dtype=object, index=trades.index)
    return pd.DataFrame({
        "candidate_id": col(trades["candidate_id"].astype(str).to_numpy(dtype=object)),
        "event_id": col(trades["event_id"].astype(str).to_numpy(dtype=object)),
        "symbol": col(trades["symbol"].astype(str).to_numpy(dtype=object)),
        "trade_status": col(trades["trade_status"].astype(str).to_numpy(dtype=object)),
        "vol": col(obj_strings(trades["vol_regime"])), "carry": col(obj_strings(trades["carry_state"])),
    }).reset_index(drop=True)


def _groups(values: np.ndarray) -> dict:
    """{value: row positions} for an object array (positions in row order)."""
    return pd.Series(np.arange(len(values))).groupby(values, sort=True).indices \
        if len(values) else {}


def partition_checks(plan: pd.DataFrame, trades: pd.DataFrame,
                     t: pd.DataFrame | None = None) -> list[dict]:
    """Per unconditioned twin and state dimension: the conditioned candidates of one state each
    partition the twin's (non-warm-up) events, and greedy one-position-at-a-time selection on a
    subset takes at least as many trades as the twin took in it and at most as many as there
    were tradable events, so  twin_n_known <= sum(n_cond) <= twin_n_known + twin_skipped_known.
    ``t``: ``_trades_frame(trades)`` when the caller already has it."""
    p = plan_frame(plan)
    t = _trades_frame(trades) if t is None else t
    cand = t["candidate_id"].to_numpy(dtype=object)
    status = t["trade_status"].to_numpy(dtype=object)
    vol, carry = t["vol"].to_numpy(dtype=object), t["carry"].to_numpy(dtype=object)
    # value_counts hashes the object strings; np.unique would sort them (1 s at 1.2 M rows)
    n_traded = pd.Series(cand[status == "traded"], dtype=object).value_counts(sort=False).to_dict()
    rows_of = _groups(cand)
    kids_of: dict[str, list] = {}
    for k in p.loc[p["is_conditioned"]].itertuples(index=False):
        kids_of.setdefault(k.twin_candidate_id, []).append(
            (k.candidate_id, k.vol_condition, k.carry_condition,
             _dimension(k.vol_condition, k.carry_condition)))
    rows = []
    for twin in p.loc[~p["is_conditioned"]].itertuples(index=False):
        kids = kids_of.get(twin.candidate_id, [])
        for dim, (vs, cs) in DIMENSIONS.items():
            k = [x for x in kids if x[3] == dim]
            if not k:
                continue
            need = {(v, c) for v in (vs or (None,)) for c in (cs or (None,))}
            have = {(x[1], x[2]) for x in k}
            scope = f"{twin.candidate_id}|{dim}"
            if not need <= have:
                rows.append(dict(check="partition_bounds", scope=scope, value=np.nan,
                                 expected="complete partition", ok=pd.NA,
                                 detail=f"not evaluated: plan has {len(have & need)} of "
                                        f"{len(need)} states of {dim}"))
                continue
            idx = rows_of.get(twin.candidate_id, np.zeros(0, dtype=np.int64))
            _, known = state_masks(vol[idx], carry[idx], "x" if vs else None,
                                   "x" if cs else None)
            lo = int(((status[idx] == "traded") & known).sum())
            skipped = int(((status[idx] == "skipped_overlap") & known).sum())
            hi = lo + skipped
            total = int(sum(int(n_traded.get(x[0], 0)) for x in k))
            ok = lo <= total <= hi
            detail = (f"sum over {len(k)} {dim} states of n_cond = {total}; twin traded "
                      f"{lo} non-warm-up (+{skipped} skipped_overlap)")
            if not ok:
                detail += ("; ABOVE the bound: a condition filter that does nothing?"
                           if total > hi else "; BELOW the bound: trades lost by the filter?")
            rows.append(dict(check="partition_bounds", scope=scope, value=float(total),
                             expected=f"[{lo}, {hi}]", ok=ok, detail=detail))
    return rows


def _sorted_contains(sorted_unique: np.ndarray, values: np.ndarray) -> np.ndarray:
    """np.isin(values, sorted_unique) for a sorted array without duplicates, by binary search
    (np.isin sorts both arrays again: 1.4 s at 1.2 M trades)."""
    if len(sorted_unique) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), len(sorted_unique) - 1)
    return sorted_unique[at] == values


def filter_checks(plan: pd.DataFrame, trades: pd.DataFrame,
                  t: pd.DataFrame | None = None) -> list[dict]:
    """Per event type: every conditioned candidate's considered events match its condition,
    and are events its twin considered too. ``t``: ``_trades_frame(trades)``."""
    p = plan_frame(plan)
    t = _trades_frame(trades) if t is None else t
    pos = pd.Index(p["candidate_id"]).get_indexer(t["candidate_id"].to_numpy(dtype=object))
    in_plan = pos >= 0
    pos = pos[in_plan]
    event = t["event_id"].to_numpy(dtype=object)[in_plan]
    vol = t["vol"].to_numpy(dtype=object)[in_plan]
    carry = t["carry"].to_numpy(dtype=object)[in_plan]
    p_type = p["event_type"].astype(str).to_numpy(dtype=object)
    p_cond = p["is_conditioned"].to_numpy(dtype=bool)
    # (candidate, event) pairs as integer codes; a twin outside the plan never matches
    ev_code, _ = pd.factorize(event)
    n_ev = max(len(event), 1)
    considered = np.unique(pos.astype(np.int64) * n_ev + ev_code)
    twin_pos = pd.Index(p["candidate_id"]).get_indexer(p["twin_candidate_id"])[pos]
    twin_pair = np.where(twin_pos >= 0, twin_pos.astype(np.int64) * n_ev + ev_code, -1)
    orphan_row = ~_sorted_contains(considered, twin_pair)
    # rows grouped by the (vol_condition, carry_condition) of their candidate
    cond_code = pd.factorize(np.array([f"{v}|{c}" for v, c in zip(p["vol_condition"],
                                                                   p["carry_condition"])],
                                      dtype=object))[0][pos]
    rows = []
    for et in sorted(set(p["event_type"].astype(str))):
        sel = (p_type[pos] == et) & p_cond[pos]
        bad = 0
        for k in np.unique(cond_code[sel]):   # one condition at a time
            r = sel & (cond_code == k)
            j = pos[r][0]
            m, _ = state_masks(vol[r], carry[r], p["vol_condition"].iat[j],
                               p["carry_condition"].iat[j])
            bad += int((~m).sum())
        n = int(sel.sum())
        rows.append(dict(check="condition_filter", scope=et, value=float(bad), expected="0",
                         ok=bad == 0, detail=f"{bad} of {n} conditioned rows have an "
                                             "event state outside their condition"))
        orphan = int((orphan_row & sel).sum())
        rows.append(dict(check="cond_events_in_twin", scope=et, value=float(orphan),
                         expected="0", ok=orphan == 0,
                         detail=f"{orphan} of {n} conditioned rows are events their "
                                "twin never considered"))
    return rows


def lift_checks(lift: pd.DataFrame, roll: pd.DataFrame | None = None) -> list[dict]:
    """A lift of exactly 0 across a whole event type (or a filter that keeps every twin trade)
    is a probable bug; so is a lift that exists without data on both sides, and a roll-up lift
    of exactly 0."""
    rows = []
    zero = zero_lift_event_types(lift)
    for et, g in lift.groupby("event_type", sort=True):
        fin = g.loc[np.isfinite(g["lift_bps"])]
        share = float((fin["lift_bps"] == 0.0).mean()) if len(fin) else np.nan
        same_n = int((g["n_cond"] == g["n_twin"]).sum())
        rows.append(dict(check="zero_lift_event_type", scope=str(et), value=share,
                         expected="< 1", ok=str(et) not in zero,
                         detail=(f"probable bug: {zero[str(et)]}" if str(et) in zero else
                                 f"{int((fin['lift_bps'] == 0.0).sum())} of {len(fin)} lifts "
                                 f"exactly 0; {same_n} of {len(g)} with n_cond == n_twin")))
    empty = (lift["n_cond"] == 0) | (lift["n_twin"] == 0)
    bad = int((empty & np.isfinite(lift["lift_bps"])).sum())
    rows.append(dict(check="lift_needs_both_sides", scope="all", value=float(bad),
                     expected="0", ok=bad == 0,
                     detail=f"{bad} lifts defined although a side has no trades; "
                            f"{int(empty.sum())} of {len(lift)} candidates have an empty side"))
    if roll is not None and len(roll):
        for r in roll.loc[roll["row_type"] == "rollup"].itertuples(index=False):
            flagged = isinstance(r.flag, str) and r.flag != ""
            by_construction = r.lift_bps == 0.0 and r.n_cond == r.n_twin and r.n_cond > 0
            rows.append(dict(check="zero_lift_rollup", scope=f"{r.event_type}|{r.condition}",
                             value=float(r.lift_bps), expected="!= 0", ok=not flagged,
                             detail=r.flag if flagged else
                             (f"lift 0 by construction: the condition holds for all "
                              f"{int(r.n_twin)} twin events" if by_construction
                              else "roll-up lift not 0")))
    return rows


def count_checks(plan: pd.DataFrame, trades: pd.DataFrame,
                 t: pd.DataFrame | None = None) -> list[dict]:
    """Per (symbol, event type): events considered, and trade / skipped-overlap counts summed
    over the unconditioned single-symbol candidates (horizons x rules). Informational.
    ``t``: ``_trades_frame(trades)``."""
    p = plan_frame(plan).set_index("candidate_id")
    t = _trades_frame(trades) if t is None else t
    t = t.loc[t["candidate_id"].isin(p.index)].join(
        p[["event_type", "is_conditioned", "symbol_scope"]], on="candidate_id")
    rows = []
    for (sym, et), g in t.groupby(["symbol", "event_type"], sort=True):
        u = g.loc[~g["is_conditioned"] & (g["symbol_scope"] != "pooled")]
        n_u = int(u["candidate_id"].nunique())
        scope = f"{sym}|{et}"
        rows.append(dict(check="events_per_symbol", scope=scope,
                         value=float(g["event_id"].nunique()), expected="", ok=pd.NA,
                         detail="distinct events considered by any candidate"))
        for check, status in (("trades_per_symbol", "traded"),
                              ("skipped_overlap_per_symbol", "skipped_overlap")):
            rows.append(dict(check=check, scope=scope,
                             value=float((u["trade_status"] == status).sum()), expected="",
                             ok=pd.NA, detail=f"summed over {n_u} unconditioned "
                                              "single-symbol candidates"))
    return rows


def sanity_checks(plan: pd.DataFrame, trades: pd.DataFrame, lift: pd.DataFrame,
                  roll: pd.DataFrame | None = None) -> pd.DataFrame:
    t = _trades_frame(trades)
    rows = (partition_checks(plan, trades, t) + filter_checks(plan, trades, t)
            + lift_checks(lift, roll) + count_checks(plan, trades, t))
    out = pd.DataFrame(rows, columns=SANITY_COLUMNS)
    out["value"] = out["value"].astype(np.float64)
    out["ok"] = pd.array(out["ok"], dtype="boolean")
    return out.sort_values(["check", "scope"], kind="mergesort").reset_index(drop=True)
