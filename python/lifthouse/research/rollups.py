"""Roll-ups per (event_type, condition) (SPEC 8): the edge rule per horizon, chosen on the
discovery block by the unconditioned twin, and the lift averaged over horizons with one shared
day-block bootstrap draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.bootstrap import bootstrap_p, day_draws, percentile_ci, row_rng
from lifthouse.research.lift import candidate_lift
from lifthouse.research.lift_samples import (EMPTY_TRADES, Trades, lift_draws, lift_parts,
                                            mean_or_nan, traded_by_candidate)
from lifthouse.research.params import LiftParams
from lifthouse.research.plan import plan_frame
from lifthouse.research.sanity import zero_lift_event_types
from lifthouse.research.verdicts import verdicts


def rollup_scope(plan: pd.DataFrame, event_type: str) -> str | None:
    """'pooled' when the plan has it for the event type, else the only scope there is."""
    scopes = sorted(set(plan.loc[plan["event_type"] == event_type, "symbol_scope"].astype(str)))
    if "pooled" in scopes:
        return "pooled"
    return scopes[0] if len(scopes) == 1 else None


def edge_rules(plan: pd.DataFrame, trades: pd.DataFrame,
               by_cand: dict[str, Trades] | None = None) -> pd.DataFrame:
    """Per (event_type, horizon_min) in the roll-up scope: the direction rule whose
    unconditioned twin has the higher DISCOVERY-block mean net bps (ties: 'follow')."""
    p = plan_frame(plan)
    by_cand = traded_by_candidate(trades) if by_cand is None else by_cand
    rows = []
    for et in sorted(set(p["event_type"].astype(str))):
        scope = rollup_scope(p, et)
        if scope is None:
            continue
        u = p.loc[(p["event_type"] == et) & (p["symbol_scope"] == scope) & ~p["is_conditioned"]]
        for h in sorted(set(u["horizon_min"].astype(int))):
            means = {}
            for rule in ("follow", "fade"):
                ids = u.loc[(u["horizon_min"] == h) & (u["direction_rule"] == rule),
                            "candidate_id"].tolist()
                tr = by_cand.get(ids[0], EMPTY_TRADES) if ids else EMPTY_TRADES
                means[rule] = mean_or_nan(tr.net[tr.block == "discovery"])
            f, d = means["follow"], means["fade"]
            if np.isfinite(f) and (not np.isfinite(d) or f >= d):
                rule, why = "follow", "higher discovery mean"
            elif np.isfinite(d):
                rule, why = "fade", "higher discovery mean"
            else:
                rule, why = None, "no discovery trades for either rule"
            rows.append(dict(event_type=et, horizon_min=int(h), symbol_scope=scope,
                             edge_rule=rule, disc_mean_follow_bps=f, disc_mean_fade_bps=d,
                             reason=why))
    return pd.DataFrame(rows, columns=["event_type", "horizon_min", "symbol_scope", "edge_rule",
                                       "disc_mean_follow_bps", "disc_mean_fade_bps", "reason"])


ROLLUP_COLUMNS = [
    "row_type", "event_type", "condition", "direction_rule", "symbol_scope", "n_horizons",
    "horizons", "edge_rules", "n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days",
    "n_boot_valid", "mean_cond_bps", "mean_twin_bps", "mean_complement_bps",
    "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value",
    "lift_vs_complement_bps", "lift_vs_complement_ci_low", "lift_vs_complement_ci_high",
    "lift_vs_complement_p_value", "flag",
]


def _rollup_row(key: str, members: list, by_cand, params: LiftParams) -> dict:
    """Average over horizons of the members' lifts; one day draw shared by all members."""
    parts = [lift_parts(m, by_cand) for m in members]
    universe = np.unique(np.concatenate([np.concatenate([x.cond.day, x.twin.day])
                                         for x in parts]))
    cond_events = {(d, e) for x in parts for d, e in zip(x.cond.day, x.cond.event)}
    r = dict(
        n_cond=len({e for _, e in cond_events}), n_cond_days=len({d for d, _ in cond_events}),
        n_twin=len({e for x in parts for e in x.twin.event}),
        n_complement=len({e for x in parts for e in x.comp.event}),
        n_boot_days=len(universe),
        mean_cond_bps=float(np.mean([mean_or_nan(x.cond.net) for x in parts])),
        mean_twin_bps=float(np.mean([mean_or_nan(x.twin.net) for x in parts])),
        mean_complement_bps=float(np.mean([mean_or_nan(x.comp.net) for x in parts])),
    )
    r["lift_bps"] = float(np.mean([mean_or_nan(x.cond.net) - mean_or_nan(x.twin.net) for x in parts]))
    r["lift_vs_complement_bps"] = float(np.mean([mean_or_nan(x.cond.net) - mean_or_nan(x.comp.net)
                                                 for x in parts]))
    r.update(n_boot_valid=0, lift_ci_low=np.nan, lift_ci_high=np.nan, lift_p_value=np.nan,
             lift_vs_complement_ci_low=np.nan, lift_vs_complement_ci_high=np.nan,
             lift_vs_complement_p_value=np.nan)
    if len(universe) == 0 or params.n_boot <= 0:
        return r
    w = day_draws(row_rng(key, params.bootstrap_seed), len(universe), params.n_boot)
    dl, dc = zip(*(lift_draws(w, universe, x) for x in parts))
    d_lift = np.mean(np.column_stack(dl), axis=1)   # NaN if any horizon undefined in a draw
    d_comp = np.mean(np.column_stack(dc), axis=1)
    ok, okc = np.isfinite(d_lift), np.isfinite(d_comp)
    r["n_boot_valid"] = int(ok.sum())
    if ok.sum() >= params.min_valid_share * params.n_boot:
        r["lift_ci_low"], r["lift_ci_high"] = percentile_ci(d_lift[ok], params.lift_alpha)
        r["lift_p_value"] = bootstrap_p(d_lift[ok])
    if okc.sum() >= params.min_valid_share * params.n_boot:
        r["lift_vs_complement_ci_low"], r["lift_vs_complement_ci_high"] = \
            percentile_ci(d_comp[okc], params.lift_alpha)
        r["lift_vs_complement_p_value"] = bootstrap_p(d_comp[okc])
    return r


def rollups(plan: pd.DataFrame, trades: pd.DataFrame, params: LiftParams = LiftParams(),
            lift: pd.DataFrame | None = None,
            by_cand: dict[str, Trades] | None = None) -> pd.DataFrame:
    """Roll-up rows (columns ROLLUP_COLUMNS + q/verdict):
    - row_type 'rollup': per (event_type, condition), the average over horizons of the
      roll-up-scope candidates that use each horizon's edge rule;
    - row_type 'rollup_rule': per (event_type, condition, direction_rule), the average over
      horizons of that rule's candidates (transparency; follow = -fade by construction).
    q-values are BH within each row_type.

    ``lift``: the candidate lift table of the same plan and trades (``candidate_lift``), used
    for the zero-lift flag; computed here (point estimates only) when not given. ``by_cand``:
    ``traded_by_candidate(trades)`` when the caller already has it."""
    p = plan_frame(plan)
    by_cand = traded_by_candidate(trades) if by_cand is None else by_cand
    edges = edge_rules(p, trades, by_cand)
    rows = []
    for et in sorted(set(p["event_type"].astype(str))):
        scope = rollup_scope(p, et)
        if scope is None:
            continue
        e = edges.loc[edges["event_type"] == et]
        edge = {int(h): r for h, r in zip(e["horizon_min"], e["edge_rule"]) if r is not None}
        c = p.loc[(p["event_type"] == et) & (p["symbol_scope"] == scope) & p["is_conditioned"]]
        for cond in sorted(set(c["condition"].astype(str))):
            cc = list(c.loc[c["condition"] == cond].sort_values(["horizon_min", "direction_rule"]
                                                                 ).itertuples(index=False))
            groups = [("rollup", "edge",
                       [m for m in cc if edge.get(int(m.horizon_min)) == m.direction_rule])]
            for rule in sorted({str(m.direction_rule) for m in cc}):
                groups.append(("rollup_rule", rule, [m for m in cc if m.direction_rule == rule]))
            for row_type, rule, members in groups:
                if not members:
                    continue
                key = f"{row_type}|{et}|{cond}|{rule}"
                r = dict(row_type=row_type, event_type=et, condition=cond, direction_rule=rule,
                         symbol_scope=scope, n_horizons=len(members),
                         horizons=",".join(str(int(m.horizon_min)) for m in members),
                         edge_rules=",".join(f"h{int(m.horizon_min)}:{m.direction_rule}"
                                             for m in members))
                r.update(_rollup_row(key, members, by_cand, params))
                rows.append(r)
    out = pd.DataFrame(rows, columns=[c for c in ROLLUP_COLUMNS if c != "flag"])
    # flag: probable bug when the event type's conditioned lifts are all exactly 0 (or the
    # filter does nothing), or when a roll-up lift with data is exactly 0 although the
    # condition leaves out some of the twin's events (a condition that holds for every twin
    # event, n_cond == n_twin, gives lift 0 by construction: e.g. vol_high vacuums at 5m)
    if lift is None:
        lift = candidate_lift(plan, trades, LiftParams(n_boot=0))
    zero = zero_lift_event_types(lift)
    flags = []
    for r in out.itertuples(index=False):
        f = []
        if r.event_type in zero:
            f.append(f"probable bug: {zero[r.event_type]} for {r.event_type}")
        if r.n_cond > 0 and r.lift_bps == 0.0 and r.n_cond != r.n_twin:
            f.append("probable bug: roll-up lift exactly 0")
        flags.append("; ".join(f) if f else None)
    out["flag"] = pd.Series(flags, dtype=object)
    parts = [verdicts(g, params) for _, g in out.groupby("row_type", sort=True)] if len(out) else []
    res = pd.concat(parts) if parts else verdicts(out, params)
    return res.sort_values(["row_type", "event_type", "condition", "direction_rule"],
                           kind="mergesort").reset_index(drop=True)
