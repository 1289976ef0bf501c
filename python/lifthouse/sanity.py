"""Sanity checks of the ablation (SPEC 9), as rows ``(check, scope, value, expected, ok,
detail)`` that lift_summary and the report show. ``ok`` is True / False, or NA for purely
informational rows (counts). Reasoning: docs/lift.md, section "Sanity checks".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.lift import (CARRY_STATES, VOL_STATES, _is_set, _obj, _plan_frame, state_masks,
                            zero_lift_event_types)

SANITY_COLUMNS = ["check", "scope", "value", "expected", "ok", "detail"]

# partition dimensions: name -> (vol states or None, carry states or None)
DIMENSIONS = {
    "vol": (VOL_STATES, None),
    "carry": (None, CARRY_STATES),
    "vol_x_carry": (VOL_STATES, CARRY_STATES),
}


def _dimension(vol_condition, carry_condition) -> str | None:
    v, c = _is_set(vol_condition), _is_set(carry_condition)
    return {(True, False): "vol", (False, True): "carry", (True, True): "vol_x_carry"}.get((v, c))


def _trades_frame(trades: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "candidate_id": trades["candidate_id"].astype(str).to_numpy(),
        "event_id": trades["event_id"].astype(str).to_numpy(),
        "symbol": trades["symbol"].astype(str).to_numpy(),
        "trade_status": trades["trade_status"].astype(str).to_numpy(),
        "vol": _obj(trades["vol_regime"]), "carry": _obj(trades["carry_state"]),
    })


def partition_checks(plan: pd.DataFrame, trades: pd.DataFrame) -> list[dict]:
    """Per unconditioned twin and state dimension: the conditioned candidates of one state each
    partition the twin's (non-warm-up) events, and greedy one-position-at-a-time selection on a
    subset takes at least as many trades as the twin took in it and at most as many as there
    were tradable events, so  twin_n_known <= sum(n_cond) <= twin_n_known + twin_skipped_known."""
    p = _plan_frame(plan)
    t = _trades_frame(trades)
    traded = t.loc[t["trade_status"] == "traded"]
    n_traded = traded.groupby("candidate_id").size()
    by_cand = {c: g for c, g in t.groupby("candidate_id", sort=True)}
    p["dim"] = [_dimension(v, c) for v, c in zip(p["vol_condition"], p["carry_condition"])]
    rows = []
    for twin in p.loc[~p["is_conditioned"]].itertuples(index=False):
        kids = p.loc[p["is_conditioned"] & (p["twin_candidate_id"] == twin.candidate_id)]
        for dim, (vs, cs) in DIMENSIONS.items():
            k = kids.loc[kids["dim"] == dim]
            if k.empty:
                continue
            need = {(v, c) for v in (vs or (None,)) for c in (cs or (None,))}
            have = set(zip(k["vol_condition"], k["carry_condition"]))
            scope = f"{twin.candidate_id}|{dim}"
            if not need <= have:
                rows.append(dict(check="partition_bounds", scope=scope, value=np.nan,
                                 expected="complete partition", ok=pd.NA,
                                 detail=f"not evaluated: plan has {len(have & need)} of "
                                        f"{len(need)} states of {dim}"))
                continue
            tw = by_cand.get(twin.candidate_id, t.iloc[0:0])
            _, known = state_masks(tw["vol"].to_numpy(), tw["carry"].to_numpy(),
                                   "x" if vs else None, "x" if cs else None)
            lo = int(((tw["trade_status"] == "traded").to_numpy() & known).sum())
            skipped = int(((tw["trade_status"] == "skipped_overlap").to_numpy() & known).sum())
            hi = lo + skipped
            total = int(sum(int(n_traded.get(c, 0)) for c in k["candidate_id"]))
            ok = lo <= total <= hi
            detail = (f"sum over {len(k)} {dim} states of n_cond = {total}; twin traded "
                      f"{lo} non-warm-up (+{skipped} skipped_overlap)")
            if not ok:
                detail += ("; ABOVE the bound: a condition filter that does nothing?"
                           if total > hi else "; BELOW the bound: trades lost by the filter?")
            rows.append(dict(check="partition_bounds", scope=scope, value=float(total),
                             expected=f"[{lo}, {hi}]", ok=ok, detail=detail))
    return rows


def filter_checks(plan: pd.DataFrame, trades: pd.DataFrame) -> list[dict]:
    """Per event type: every conditioned candidate's considered events match its condition,
    and are events its twin considered too."""
    p = _plan_frame(plan).set_index("candidate_id")
    t = _trades_frame(trades)
    t = t.loc[t["candidate_id"].isin(p.index)]
    t = t.join(p[["event_type", "is_conditioned", "vol_condition", "carry_condition",
                  "twin_candidate_id"]], on="candidate_id")
    twin_events = set(zip(t["candidate_id"], t["event_id"]))
    rows = []
    for et in sorted(set(p["event_type"].astype(str))):
        g = t.loc[(t["event_type"] == et) & t["is_conditioned"]]
        bad = 0
        for (vc, cc), gg in g.groupby(["vol_condition", "carry_condition"], dropna=False,
                                      sort=True):
            vc = None if vc is None or (isinstance(vc, float) and np.isnan(vc)) else vc
            cc = None if cc is None or (isinstance(cc, float) and np.isnan(cc)) else cc
            m, _ = state_masks(gg["vol"].to_numpy(), gg["carry"].to_numpy(), vc, cc)
            bad += int((~m).sum())
        rows.append(dict(check="condition_filter", scope=et, value=float(bad), expected="0",
                         ok=bad == 0, detail=f"{bad} of {len(g)} conditioned rows have an "
                                             "event state outside their condition"))
        orphan = sum((tw, e) not in twin_events for tw, e in zip(g["twin_candidate_id"],
                                                                  g["event_id"]))
        rows.append(dict(check="cond_events_in_twin", scope=et, value=float(orphan),
                         expected="0", ok=orphan == 0,
                         detail=f"{orphan} of {len(g)} conditioned rows are events their "
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
            rows.append(dict(check="zero_lift_rollup", scope=f"{r.event_type}|{r.condition}",
                             value=float(r.lift_bps), expected="!= 0", ok=not flagged,
                             detail=r.flag if flagged else "roll-up lift not 0"))
    return rows


def count_checks(plan: pd.DataFrame, trades: pd.DataFrame) -> list[dict]:
    """Per (symbol, event type): events considered, and trade / skipped-overlap counts summed
    over the unconditioned single-symbol candidates (horizons x rules). Informational."""
    p = _plan_frame(plan).set_index("candidate_id")
    t = _trades_frame(trades)
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
    rows = (partition_checks(plan, trades) + filter_checks(plan, trades)
            + lift_checks(lift, roll) + count_checks(plan, trades))
    out = pd.DataFrame(rows, columns=SANITY_COLUMNS)
    out["value"] = out["value"].astype(np.float64)
    out["ok"] = pd.array(out["ok"], dtype="boolean")
    return out.sort_values(["check", "scope"], kind="mergesort").reset_index(drop=True)
