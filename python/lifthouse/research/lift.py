"""Lift of a state condition over its unconditioned twin (SPEC 8), with a paired day-block
bootstrap, BH q-values, verdicts, roll-ups per (event_type, condition) and the fallback
promotion rate (SPEC 7). Pure numpy/pandas; the dbt models in models/marts/ablation are thin
wrappers around these functions. Definitions and reasoning: docs/lift.md.

Determinism: every bootstrap uses its own ``numpy.random.Generator(PCG64(seed))`` whose seed is
a SHA-256 of (bootstrap_seed, row key), never Python's ``hash()``; trades are sorted by a total
order before any sum, and resampled sums use ``np.einsum(..., optimize=False)`` (no BLAS
threading), so the same inputs give bit-identical outputs whatever the input row order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifthouse.research.stats import bh_qvalues

VOL_STATES = ("vol_low", "vol_mid", "vol_high")
CARRY_STATES = ("carry_pos", "carry_neutral", "carry_neg")
UNKNOWN_STATES = ("warmup",)  # plus NULL: never match a condition, never in a complement

TRADE_COLUMNS = ["candidate_id", "event_id", "symbol", "vol_regime", "carry_state",
                 "trade_status", "net_bps", "block", "trade_day"]
PLAN_COLUMNS = ["candidate_id", "family_id", "twin_candidate_id", "event_type", "condition",
                "vol_condition", "carry_condition", "is_conditioned", "horizon_min",
                "direction_rule", "symbol_scope"]

LIFT_COLUMNS = [
    "candidate_id", "twin_candidate_id", "event_type", "condition", "horizon_min",
    "direction_rule", "symbol_scope",
    "n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
    "mean_cond_bps", "mean_twin_bps", "mean_complement_bps",
    "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value",
    "lift_vs_complement_bps", "lift_vs_complement_ci_low", "lift_vs_complement_ci_high",
    "lift_vs_complement_p_value",
    # the promotion lift (SPEC 7): discovery block only, and the holdout lift as replication
    "n_cond_disc", "disc_lift_bps", "disc_lift_ci_low", "disc_lift_ci_high", "disc_lift_p_value",
    "n_cond_hold", "hold_lift_bps",
]
BLOCK_LIFT_INT_COLUMNS = ["n_cond_disc", "n_cond_hold"]


@dataclass(frozen=True)
class LiftParams:
    """The ablation vars of dbt_project.yml."""
    bootstrap_seed: int = 20250101
    n_boot: int = 2000
    alpha: float = 0.05        # CIs at 1 - alpha
    q_max: float = 0.10        # verdict needs BH q <= q_max
    min_n: int = 10            # verdict needs n_cond >= min_n ...
    min_days: int = 5          # ... on at least min_days distinct UTC days
    min_valid_share: float = 0.5  # share of bootstrap draws with every mean defined

    @classmethod
    def from_config(cls, get) -> "LiftParams":
        """Build from a dbt ``config.get``-like callable (values may arrive as strings)."""
        d = cls()
        def val(name, default, typ):
            v = get(name)
            return default if v is None or v == "" else typ(v)
        return cls(
            bootstrap_seed=val("bootstrap_seed", d.bootstrap_seed, int),
            n_boot=val("n_boot", d.n_boot, int),
            alpha=val("lift_alpha", d.alpha, float),
            q_max=val("lift_q_max", d.q_max, float),
            min_n=val("lift_min_n", d.min_n, int),
            min_days=val("lift_min_days", d.min_days, int),
        )


# --------------------------------------------------------------------------------------------
# seeds, states, bootstrap primitives
# --------------------------------------------------------------------------------------------

def row_seed(key: str, bootstrap_seed: int) -> int:
    """A 64-bit seed from a stable hash of (bootstrap_seed, key)."""
    digest = hashlib.sha256(f"{int(bootstrap_seed)}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def row_rng(key: str, bootstrap_seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(row_seed(key, bootstrap_seed)))


def _is_set(x) -> bool:
    return x is not None and not (isinstance(x, float) and np.isnan(x)) and x is not pd.NA \
        and str(x) != ""


def state_masks(vol: np.ndarray, carry: np.ndarray, vol_condition, carry_condition
                ) -> tuple[np.ndarray, np.ndarray]:
    """(matches, known) for arrays of event states against one condition (None = any).

    ``known``: the state is neither NULL nor warm-up on every dimension the condition
    constrains. ``matches`` implies ``known``."""
    n = len(vol)
    matches = np.ones(n, dtype=bool)
    known = np.ones(n, dtype=bool)
    for states, cond in ((vol, vol_condition), (carry, carry_condition)):
        if _is_set(cond):
            s = np.asarray(states, dtype=object)
            ok = ~pd.isna(s) & (s != "")
            for u in UNKNOWN_STATES:
                ok &= s != u
            known &= ok
            matches &= ok & (s == cond)
    return matches, known


def day_draws(rng: np.random.Generator, n_days: int, n_boot: int) -> np.ndarray:
    """(n_boot, n_days) float matrix: how often each day is drawn when n_days days are drawn
    with replacement (a multinomial draw, built from uniform integer picks)."""
    idx = rng.integers(0, n_days, size=(n_boot, n_days))
    idx += (np.arange(n_boot, dtype=idx.dtype) * n_days)[:, None]   # row b -> bins of row b
    counts = np.bincount(idx.ravel(), minlength=n_boot * n_days).reshape(n_boot, n_days)
    return counts.astype(np.float64)


def _day_agg(universe: np.ndarray, days: np.ndarray, values: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    pos = np.searchsorted(universe, days)
    d = len(universe)
    return (np.bincount(pos, weights=values, minlength=d),
            np.bincount(pos, minlength=d).astype(np.float64))


def resampled_means(weights: np.ndarray, universe: np.ndarray,
                    groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(n_boot, len(groups)) resampled means; each group is (days, values). NaN where a draw
    holds no observation of the group."""
    cols = []
    for days, values in groups:
        s, c = _day_agg(universe, days, values)
        cols += [s, c]
    agg = np.einsum("bd,dk->bk", weights, np.column_stack(cols), optimize=False)
    sums, counts = agg[:, 0::2], agg[:, 1::2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)


def percentile_ci(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    if len(draws) == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'the statistic is 0': 2 * min share on either side of 0,
    with the +1 correction, capped at 1."""
    b = len(draws)
    if b == 0:
        return np.nan
    le = int(np.count_nonzero(draws <= 0.0))
    ge = int(np.count_nonzero(draws >= 0.0))
    return float(min(1.0, 2.0 * (1 + min(le, ge)) / (b + 1)))


def _mean(x: np.ndarray) -> float:
    return float(np.sum(x) / len(x)) if len(x) else np.nan


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

@dataclass
class _Trades:
    """One candidate's traded trades in a canonical order (trade_day, event_id, symbol)."""
    day: np.ndarray      # int64 days since epoch
    net: np.ndarray      # float64 net bps
    vol: np.ndarray      # object
    carry: np.ndarray    # object
    event: np.ndarray    # object
    block: np.ndarray    # object


_EMPTY = _Trades(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object), np.zeros(0, object),
                 np.zeros(0, object), np.zeros(0, object))


def _day_numbers(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"
                                                                     ).astype(np.int64)


def _obj(s: pd.Series) -> np.ndarray:
    """Object array of ``str`` with ``None`` for missing values (None, NaN, NA). Vectorised:
    iterating an Arrow-backed string column element by element is the slow path."""
    s = s if isinstance(s, pd.Series) else pd.Series(s, dtype=object)
    a = s.to_numpy(dtype=object, na_value=None)
    if not isinstance(s.dtype, pd.StringDtype):   # object columns may hold non-str values
        a = np.array([v if v is None or type(v) is str else str(v) for v in a], dtype=object)
    return a


def traded_by_candidate(trades: pd.DataFrame) -> dict[str, _Trades]:
    """Traded rows grouped per candidate, each sorted by (trade_day, event_id, symbol) so that
    sums never depend on the input row order."""
    t = trades.loc[trades["trade_status"].astype(str) == "traded"]
    t = t.loc[t["net_bps"].notna()]
    if t.empty:
        return {}
    t = pd.DataFrame({
        "candidate_id": t["candidate_id"].astype(str).to_numpy(),
        "day": _day_numbers(t["trade_day"]),
        "event_id": t["event_id"].astype(str).to_numpy(),
        "symbol": t["symbol"].astype(str).to_numpy(),
        "net": t["net_bps"].astype(float).to_numpy(),
        "vol": _obj(t["vol_regime"]), "carry": _obj(t["carry_state"]),
        "block": _obj(t["block"]),
    })
    t = t.sort_values(["candidate_id", "day", "event_id", "symbol"], kind="mergesort")
    cid = t["candidate_id"].to_numpy(object)
    day, net = t["day"].to_numpy(np.int64), t["net"].to_numpy(np.float64)
    vol, carry = t["vol"].to_numpy(object), t["carry"].to_numpy(object)
    event, block = t["event_id"].to_numpy(object), t["block"].to_numpy(object)
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
    ends = np.r_[starts[1:], len(cid)]
    return {str(cid[a]): _Trades(day[a:b], net[a:b], vol[a:b], carry[a:b], event[a:b],
                                 block[a:b]) for a, b in zip(starts, ends)}


def _plan_frame(plan: pd.DataFrame) -> pd.DataFrame:
    p = plan.copy()
    # plain object columns: keep None (pandas 3 would infer str/NaN), and filtering object
    # columns is much faster than Arrow-backed strings
    for c in ("vol_condition", "carry_condition", "family_id", "event_type", "condition",
              "direction_rule", "symbol_scope"):
        if c in p.columns:
            p[c] = pd.Series(_obj(p[c]), dtype=object, index=p.index)
    p["is_conditioned"] = p["is_conditioned"].astype(bool)
    for c in ("candidate_id", "twin_candidate_id"):
        p[c] = pd.Series(p[c].astype(str).to_numpy(dtype=object), dtype=object, index=p.index)
    return p.sort_values("candidate_id", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# per-candidate lift
# --------------------------------------------------------------------------------------------

@dataclass
class _Parts:
    cond: _Trades
    twin: _Trades
    comp: _Trades


def _parts(row, by_cand: dict[str, _Trades]) -> _Parts:
    cond = by_cand.get(row.candidate_id, _EMPTY)
    twin = by_cand.get(row.twin_candidate_id, _EMPTY)
    matches, known = state_masks(twin.vol, twin.carry, row.vol_condition, row.carry_condition)
    m = known & ~matches
    comp = _Trades(twin.day[m], twin.net[m], twin.vol[m], twin.carry[m], twin.event[m],
                   twin.block[m])
    return _Parts(cond, twin, comp)


def _in_block(t: _Trades, block: str) -> _Trades:
    m = t.block == block
    return _Trades(t.day[m], t.net[m], t.vol[m], t.carry[m], t.event[m], t.block[m])


def _block_parts(parts: _Parts, block: str) -> _Parts:
    return _Parts(_in_block(parts.cond, block), _in_block(parts.twin, block),
                  _in_block(parts.comp, block))


def _block_lift(key: str, parts: _Parts, params: LiftParams) -> dict:
    """Lift of one block's trades (the promotion lift, SPEC 7): point estimate, and a paired
    day-block bootstrap CI / p-value with its own seeded draw (key = candidate | block)."""
    universe = np.unique(np.concatenate([parts.cond.day, parts.twin.day]))
    lift = _mean(parts.cond.net) - _mean(parts.twin.net)
    ci, p = (np.nan, np.nan), np.nan
    if len(parts.cond.net) and len(parts.twin.net) and params.n_boot > 0:
        w = day_draws(row_rng(key, params.bootstrap_seed), len(universe), params.n_boot)
        d_lift, _ = _lift_draws(w, universe, parts)
        ok = np.isfinite(d_lift)
        if ok.sum() >= params.min_valid_share * params.n_boot:
            ci, p = percentile_ci(d_lift[ok], params.alpha), bootstrap_p(d_lift[ok])
    return dict(n=len(parts.cond.net), lift=lift, ci_low=ci[0], ci_high=ci[1], p=p)


def _lift_draws(weights, universe, parts: _Parts) -> tuple[np.ndarray, np.ndarray]:
    means = resampled_means(weights, universe, [(parts.cond.day, parts.cond.net),
                                                (parts.twin.day, parts.twin.net),
                                                (parts.comp.day, parts.comp.net)])
    return means[:, 0] - means[:, 1], means[:, 0] - means[:, 2]


def candidate_lift(plan: pd.DataFrame, trades: pd.DataFrame, params: LiftParams = LiftParams()
                   ) -> pd.DataFrame:
    """One row per conditioned candidate of the plan (columns LIFT_COLUMNS), sorted by
    candidate_id. ``lift_*`` / ``lift_vs_complement_*`` use traded trades of every block
    (discovery + embargo + holdout: the ablation's estimate); ``disc_lift_*`` the discovery
    block only (the promotion lift, SPEC 7) and ``hold_lift_bps`` the holdout block only (its
    replication, a point estimate)."""
    p = _plan_frame(plan)
    by_cand = traded_by_candidate(trades)
    rows = []
    for row in p.loc[p["is_conditioned"]].itertuples(index=False):
        parts = _parts(row, by_cand)
        universe = np.unique(np.concatenate([parts.cond.day, parts.twin.day]))
        r = {c: getattr(row, c) for c in ("candidate_id", "twin_candidate_id", "event_type",
                                          "condition", "horizon_min", "direction_rule",
                                          "symbol_scope")}
        mc, mt, mx = _mean(parts.cond.net), _mean(parts.twin.net), _mean(parts.comp.net)
        r.update(n_cond=len(parts.cond.net), n_cond_days=len(np.unique(parts.cond.day)),
                 n_twin=len(parts.twin.net), n_complement=len(parts.comp.net),
                 n_boot_days=len(universe), mean_cond_bps=mc, mean_twin_bps=mt,
                 mean_complement_bps=mx, lift_bps=mc - mt, lift_vs_complement_bps=mc - mx)
        lift_ci = comp_ci = (np.nan, np.nan)
        lift_p = comp_p = np.nan
        n_valid = 0
        if len(parts.cond.net) and len(parts.twin.net) and params.n_boot > 0:
            w = day_draws(row_rng(row.candidate_id, params.bootstrap_seed), len(universe),
                          params.n_boot)
            d_lift, d_comp = _lift_draws(w, universe, parts)
            ok = np.isfinite(d_lift)
            n_valid = int(ok.sum())
            if n_valid >= params.min_valid_share * params.n_boot:
                lift_ci, lift_p = percentile_ci(d_lift[ok], params.alpha), bootstrap_p(d_lift[ok])
            okc = np.isfinite(d_comp)
            if okc.sum() >= params.min_valid_share * params.n_boot:
                comp_ci, comp_p = percentile_ci(d_comp[okc], params.alpha), bootstrap_p(d_comp[okc])
        r.update(n_boot_valid=n_valid, lift_ci_low=lift_ci[0], lift_ci_high=lift_ci[1],
                 lift_p_value=lift_p, lift_vs_complement_ci_low=comp_ci[0],
                 lift_vs_complement_ci_high=comp_ci[1], lift_vs_complement_p_value=comp_p)
        disc = _block_lift(f"{row.candidate_id}|discovery", _block_parts(parts, "discovery"),
                           params)
        hold = _block_parts(parts, "holdout")
        r.update(n_cond_disc=disc["n"], disc_lift_bps=disc["lift"],
                 disc_lift_ci_low=disc["ci_low"], disc_lift_ci_high=disc["ci_high"],
                 disc_lift_p_value=disc["p"], n_cond_hold=len(hold.cond.net),
                 hold_lift_bps=_mean(hold.cond.net) - _mean(hold.twin.net))
        rows.append(r)
    out = pd.DataFrame(rows, columns=LIFT_COLUMNS)
    for c in ("n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
              "horizon_min", *BLOCK_LIFT_INT_COLUMNS):
        out[c] = out[c].astype(np.int64)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# q-values and verdicts
# --------------------------------------------------------------------------------------------

def bh_subset(p: pd.Series | np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """BH q-values over the finite p-values of the eligible rows; NaN elsewhere."""
    p = np.asarray(p, dtype=float)
    use = np.asarray(eligible, dtype=bool) & np.isfinite(p)
    q = np.full(len(p), np.nan)
    if use.any():
        q[use] = np.asarray(bh_qvalues(p[use]), dtype=float)
    return q


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.6g}"


def verdicts(df: pd.DataFrame, params: LiftParams, n_col: str = "n_cond",
             days_col: str = "n_cond_days") -> pd.DataFrame:
    """Add lift_q_bh, lift_vs_complement_q_bh, verdict, verdict_reason. The BH family is the
    rows of ``df`` with enough data (n and days); the others are 'inconclusive' with the
    reason and carry no q."""
    out = df.copy()
    enough = (out[n_col] >= params.min_n) & (out[days_col] >= params.min_days)
    out["lift_q_bh"] = bh_subset(out["lift_p_value"], enough.to_numpy())
    out["lift_vs_complement_q_bh"] = bh_subset(out["lift_vs_complement_p_value"],
                                               enough.to_numpy())
    verdict, reason = [], []
    for r, ok in zip(out.itertuples(index=False), enough):
        lo, hi, q = r.lift_ci_low, r.lift_ci_high, r.lift_q_bh
        if getattr(r, n_col) < params.min_n:
            v, why = "inconclusive", f"n_cond={getattr(r, n_col)} < min_n={params.min_n}"
        elif getattr(r, days_col) < params.min_days:
            v, why = "inconclusive", (f"cond_days={getattr(r, days_col)} < "
                                      f"min_days={params.min_days}")
        elif not np.isfinite(r.lift_bps):
            v, why = "inconclusive", "lift undefined (twin has no traded trades)"
        elif not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(q)):
            v, why = "inconclusive", "bootstrap undefined (too few valid draws)"
        elif lo > 0 and q <= params.q_max:
            v, why = "improves", f"ci_low={_fmt(lo)} > 0 and q={_fmt(q)} <= {params.q_max}"
        elif hi < 0 and q <= params.q_max:
            v, why = "hurts", f"ci_high={_fmt(hi)} < 0 and q={_fmt(q)} <= {params.q_max}"
        elif lo <= 0 <= hi:
            v, why = "inconclusive", f"ci [{_fmt(lo)}, {_fmt(hi)}] contains 0"
        else:
            v, why = "inconclusive", f"q={_fmt(q)} > q_max={params.q_max}"
        verdict.append(v)
        reason.append(why)
    out["verdict"] = verdict
    out["verdict_reason"] = reason
    return out


def zero_lift_event_types(lift: pd.DataFrame) -> dict[str, str]:
    """Event types whose conditioned candidates all have lift exactly 0, or all have n_cond
    equal to their twin's n (a condition filter that does nothing): {event_type: why}."""
    out = {}
    for et, g in lift.groupby("event_type", sort=True):
        fin = g.loc[np.isfinite(g["lift_bps"])]
        if len(fin) and bool((fin["lift_bps"] == 0.0).all()):
            out[str(et)] = f"all {len(fin)} conditioned lifts are exactly 0"
        elif len(g) and bool((g["n_cond"] == g["n_twin"]).all()) and int(g["n_twin"].sum()) > 0:
            out[str(et)] = f"all {len(g)} conditioned candidates have n_cond == n_twin"
    return out


# --------------------------------------------------------------------------------------------
# edge rule and roll-ups
# --------------------------------------------------------------------------------------------

def rollup_scope(plan: pd.DataFrame, event_type: str) -> str | None:
    """'pooled' when the plan has it for the event type, else the only scope there is."""
    scopes = sorted(set(plan.loc[plan["event_type"] == event_type, "symbol_scope"].astype(str)))
    if "pooled" in scopes:
        return "pooled"
    return scopes[0] if len(scopes) == 1 else None


def edge_rules(plan: pd.DataFrame, trades: pd.DataFrame,
               by_cand: dict[str, _Trades] | None = None) -> pd.DataFrame:
    """Per (event_type, horizon_min) in the roll-up scope: the direction rule whose
    unconditioned twin has the higher DISCOVERY-block mean net bps (ties: 'follow')."""
    p = _plan_frame(plan)
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
                tr = by_cand.get(ids[0], _EMPTY) if ids else _EMPTY
                means[rule] = _mean(tr.net[tr.block == "discovery"])
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
    parts = [_parts(m, by_cand) for m in members]
    universe = np.unique(np.concatenate([np.concatenate([x.cond.day, x.twin.day])
                                         for x in parts]))
    cond_events = {(d, e) for x in parts for d, e in zip(x.cond.day, x.cond.event)}
    r = dict(
        n_cond=len({e for _, e in cond_events}), n_cond_days=len({d for d, _ in cond_events}),
        n_twin=len({e for x in parts for e in x.twin.event}),
        n_complement=len({e for x in parts for e in x.comp.event}),
        n_boot_days=len(universe),
        mean_cond_bps=float(np.mean([_mean(x.cond.net) for x in parts])),
        mean_twin_bps=float(np.mean([_mean(x.twin.net) for x in parts])),
        mean_complement_bps=float(np.mean([_mean(x.comp.net) for x in parts])),
    )
    r["lift_bps"] = float(np.mean([_mean(x.cond.net) - _mean(x.twin.net) for x in parts]))
    r["lift_vs_complement_bps"] = float(np.mean([_mean(x.cond.net) - _mean(x.comp.net)
                                                 for x in parts]))
    r.update(n_boot_valid=0, lift_ci_low=np.nan, lift_ci_high=np.nan, lift_p_value=np.nan,
             lift_vs_complement_ci_low=np.nan, lift_vs_complement_ci_high=np.nan,
             lift_vs_complement_p_value=np.nan)
    if len(universe) == 0 or params.n_boot <= 0:
        return r
    w = day_draws(row_rng(key, params.bootstrap_seed), len(universe), params.n_boot)
    dl, dc = zip(*(_lift_draws(w, universe, x) for x in parts))
    d_lift = np.mean(np.column_stack(dl), axis=1)   # NaN if any horizon undefined in a draw
    d_comp = np.mean(np.column_stack(dc), axis=1)
    ok, okc = np.isfinite(d_lift), np.isfinite(d_comp)
    r["n_boot_valid"] = int(ok.sum())
    if ok.sum() >= params.min_valid_share * params.n_boot:
        r["lift_ci_low"], r["lift_ci_high"] = percentile_ci(d_lift[ok], params.alpha)
        r["lift_p_value"] = bootstrap_p(d_lift[ok])
    if okc.sum() >= params.min_valid_share * params.n_boot:
        r["lift_vs_complement_ci_low"], r["lift_vs_complement_ci_high"] = \
            percentile_ci(d_comp[okc], params.alpha)
        r["lift_vs_complement_p_value"] = bootstrap_p(d_comp[okc])
    return r


def rollups(plan: pd.DataFrame, trades: pd.DataFrame, params: LiftParams = LiftParams(),
            lift: pd.DataFrame | None = None,
            by_cand: dict[str, _Trades] | None = None) -> pd.DataFrame:
    """Roll-up rows (columns ROLLUP_COLUMNS + q/verdict):
    - row_type 'rollup': per (event_type, condition), the average over horizons of the
      roll-up-scope candidates that use each horizon's edge rule;
    - row_type 'rollup_rule': per (event_type, condition, direction_rule), the average over
      horizons of that rule's candidates (transparency; follow = -fade by construction).
    q-values are BH within each row_type.

    ``lift``: the candidate lift table of the same plan and trades (``candidate_lift``), used
    for the zero-lift flag; computed here (point estimates only) when not given. ``by_cand``:
    ``traded_by_candidate(trades)`` when the caller already has it."""
    p = _plan_frame(plan)
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
    # filter does nothing), or when a roll-up lift with data is exactly 0
    if lift is None:
        lift = candidate_lift(plan, trades, LiftParams(n_boot=0))
    zero = zero_lift_event_types(lift)
    flags = []
    for r in out.itertuples(index=False):
        f = []
        if r.event_type in zero:
            f.append(f"probable bug: {zero[r.event_type]} for {r.event_type}")
        if r.n_cond > 0 and r.lift_bps == 0.0:
            f.append("probable bug: roll-up lift exactly 0")
        flags.append("; ".join(f) if f else None)
    out["flag"] = pd.Series(flags, dtype=object)
    parts = [verdicts(g, params) for _, g in out.groupby("row_type", sort=True)] if len(out) else []
    res = pd.concat(parts) if parts else verdicts(out, params)
    return res.sort_values(["row_type", "event_type", "condition", "direction_rule"],
                           kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# fallback promotion rate (SPEC 7)
# --------------------------------------------------------------------------------------------

FALLBACK_COLUMNS = ["scope", "n_promoted", "n_fallback", "n_promotions", "fallback_rate",
                    "n_families", "n_families_promoted", "n_families_fallback",
                    "fallback_rate_families", "detail"]


def fallback_rates(results: pd.DataFrame) -> pd.DataFrame:
    """fallback promotions / all promotions (promoted + fallback), by candidates and by
    families, overall ('all') and per event type ('event_type=<X>'). NaN with a reason when
    there are no promotions."""
    r = results.copy()
    r["status"] = r["status"].astype(str)
    scopes = [("all", r)] + [(f"event_type={et}", g)
                             for et, g in r.groupby("event_type", sort=True)]
    rows = []
    for scope, g in scopes:
        n_prom = int((g["status"] == "promoted").sum())
        n_fb = int((g["status"] == "fallback").sum())
        fam = g.groupby("family_id", sort=True)["status"]
        fam_prom = int(fam.apply(lambda s: (s == "promoted").any()).sum())
        fam_fb = int(fam.apply(lambda s: (s == "fallback").any() and not (s == "promoted").any()
                               ).sum())
        n = n_prom + n_fb
        rows.append(dict(
            scope=scope, n_promoted=n_prom, n_fallback=n_fb, n_promotions=n,
            fallback_rate=(n_fb / n) if n else np.nan, n_families=int(g["family_id"].nunique()),
            n_families_promoted=fam_prom, n_families_fallback=fam_fb,
            fallback_rate_families=(fam_fb / (fam_prom + fam_fb)) if (fam_prom + fam_fb) else np.nan,
            detail=("n/a: no promotions at all" if n == 0 else
                    f"{n_fb} fallback of {n} promotions; {fam_fb} of {fam_prom + fam_fb} "
                    f"promoted families by fallback"),
        ))
    return pd.DataFrame(rows, columns=FALLBACK_COLUMNS)


# --------------------------------------------------------------------------------------------
# the pre-registered questions (SPEC 0): confirmatory, Holm-adjusted
# --------------------------------------------------------------------------------------------

QUESTION_COLUMNS = ["question_id", "event_type", "condition", "question"]
FALLBACK_QUESTION_ID = "Q3"   # SPEC 0 question 3; reserved, a seed question may not use it
FALLBACK_QUESTION = "What is the overall fallback promotion rate?"


def holm_adjust(p: np.ndarray | pd.Series) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error) over the finite p-values; NaN
    elsewhere. Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1,
    (m - j + 1) p_(j)). Ties keep their input order (stable sort), which cannot change a
    value."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="mergesort")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _bps(x: float) -> str:
    return f"{x:.2f}"


def _pv(x: float) -> str:
    return f"{x:.3g}"


def _missing_rollup_reason(plan: pd.DataFrame, lift: pd.DataFrame, et: str, cond: str) -> str:
    """Why (event_type, condition) has no roll-up row, in words."""
    head = f"no roll-up row for ({et}, {cond})"
    p = _plan_frame(plan)
    p_et = p.loc[p["event_type"].astype(str) == et]
    if p_et.empty:
        return f"{head}: event type not in the candidate plan"
    if not (p_et["condition"].astype(str) == cond).any():
        return f"{head}: condition not in the candidate plan for this event type"
    scope = rollup_scope(p, et)
    if scope is None:
        return f"{head}: the plan has no roll-up scope for it (no pooled scope)"
    l_et = lift.loc[lift["event_type"].astype(str) == et] if len(lift) else lift
    if len(l_et) == 0 or int(l_et["n_twin"].sum()) == 0:
        return f"{head}: no traded {et} trades in this run (no events of this type?)"
    return (f"{head}: no horizon has discovery-block trades of the unconditioned {scope} "
            "rule, so no edge rule could be chosen")


def minimum_detectable_lift(ci_low, ci_high, alpha: float, power: float = 0.8):
    """The smallest true lift a two-sided test at level ``alpha`` detects with ``power``, given
    the standard error implied by the (1 - alpha) bootstrap CI: (z_{1-a/2} + z_power) * se with
    se = CI width / (2 z_{1-a/2}). A normal approximation, to say what n the data supports."""
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2)
    se = (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / (2 * z)
    return (z + norm.ppf(power)) * se


def question_rows(questions: pd.DataFrame | None, roll: pd.DataFrame, fallback: pd.DataFrame,
                  plan: pd.DataFrame, lift: pd.DataFrame, params: LiftParams) -> pd.DataFrame:
    """One 'question' row per pre-registered question, the run's answers (docs/lift.md):

    - per row of ``questions`` (question_id, event_type, condition, question): the numbers of
      the matching 'rollup' row (edge rule), its p-value Holm-adjusted across the questions of
      the run that have enough data (``lift_p_holm``; confirmatory, unlike the exploratory BH
      q of the roll-ups), and verdict improves / hurts / inconclusive with ``verdict_reason``;
      a question without a roll-up row is inconclusive with the reason;
    - row ``Q3``: the overall fallback promotion rate (the 'all' row of ``fallback``).
    ``detail`` holds the question text."""
    q = pd.DataFrame(columns=QUESTION_COLUMNS) if questions is None else questions
    missing = [c for c in QUESTION_COLUMNS if c not in q.columns]
    if missing:
        raise ValueError(f"lift questions need the columns {QUESTION_COLUMNS}; missing {missing}")
    q = pd.DataFrame({c: [str(v) for v in q[c]] for c in QUESTION_COLUMNS}, dtype=object)
    if (q["question_id"] == FALLBACK_QUESTION_ID).any():
        raise ValueError(f"question_id {FALLBACK_QUESTION_ID} is reserved for the fallback "
                         "promotion rate (SPEC 0); number lift questions Q1, Q2, Q4, ...")
    if q["question_id"].duplicated().any():
        raise ValueError("duplicate question_id in the lift questions")
    q = q.sort_values("question_id", kind="mergesort").reset_index(drop=True)
    r = roll.loc[roll["row_type"] == "rollup"] if len(roll) else roll
    by_key = {(str(a), str(b)): row for a, b, row in
              zip(r.get("event_type", []), r.get("condition", []),
                  r.to_dict("records") if len(r) else [])}
    carry = ["event_type", "condition", "direction_rule", "symbol_scope", "n_horizons",
             "horizons", "edge_rules", "n_cond", "n_cond_days", "n_twin", "n_complement",
             "n_boot_days", "n_boot_valid", "mean_cond_bps", "mean_twin_bps",
             "mean_complement_bps", "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value",
             "lift_vs_complement_bps", "lift_vs_complement_ci_low",
             "lift_vs_complement_ci_high", "lift_vs_complement_p_value", "flag"]
    rows, no_rollup = [], []
    for x in q.itertuples(index=False):
        row = dict(row_type="question", row_key=x.question_id, event_type=x.event_type,
                   condition=x.condition, detail=x.question)
        src = by_key.get((x.event_type, x.condition))
        if src is not None:
            row.update({c: src.get(c) for c in carry if c not in row})
        no_rollup.append(None if src is not None else
                         _missing_rollup_reason(plan, lift, x.event_type, x.condition))
        rows.append(row)
    out = pd.DataFrame(rows, columns=["row_type", "row_key", "detail"] + carry)
    if len(out):
        n = out["n_cond"].astype(float).fillna(0)
        days = out["n_cond_days"].astype(float).fillna(0)
        enough = ((n >= params.min_n) & (days >= params.min_days)).to_numpy()
        out["lift_p_holm"] = holm_adjust(np.where(enough, out["lift_p_value"].astype(float),
                                                  np.nan))
        verdict, reason = [], []
        for x, missing in zip(out.to_dict("records"), no_rollup):
            v, why = ("inconclusive", missing) if missing else _question_verdict(x, params)
            verdict.append(v)
            reason.append(why)
        out["verdict"], out["verdict_reason"] = verdict, reason
        out["lift_mde_bps"] = minimum_detectable_lift(out["lift_ci_low"].astype(float),
                                                      out["lift_ci_high"].astype(float),
                                                      params.alpha)
    all_fb = fallback.loc[fallback["row_key"] == "all"] if len(fallback) else fallback
    fb_row = dict(row_type="question", row_key=FALLBACK_QUESTION_ID, detail=FALLBACK_QUESTION)
    if len(all_fb):
        a = all_fb.iloc[0].to_dict()
        for c in ("n_promoted", "n_fallback", "n_promotions", "fallback_rate", "n_families",
                  "n_families_promoted", "n_families_fallback", "fallback_rate_families"):
            fb_row[c] = a.get(c)
        rate = a.get("fallback_rate")
        fb_row["verdict_reason"] = (
            f"fallback rate {100 * float(rate):.1f}%: {a.get('detail')}"
            if rate is not None and np.isfinite(float(rate)) else str(a.get("detail")))
    else:
        fb_row["verdict_reason"] = "n/a: no fallback_rate row"
    return pd.concat([out, pd.DataFrame([fb_row])], ignore_index=True) if len(out) else \
        pd.DataFrame([fb_row])


def _question_verdict(x: dict, params: LiftParams) -> tuple[str, str]:
    """improves / hurts / inconclusive for one question row, and the reason in words."""
    def num(c: str) -> float:
        v = x.get(c)
        return np.nan if v is None or pd.isna(v) else float(v)

    n, days = num("n_cond"), num("n_cond_days")
    lift, lo, hi, ph = num("lift_bps"), num("lift_ci_low"), num("lift_ci_high"), num("lift_p_holm")
    a = params.alpha
    flag = x.get("flag")
    if isinstance(flag, str) and flag:
        return "inconclusive", flag
    if not n >= params.min_n:
        return "inconclusive", (f"n = {int(n) if np.isfinite(n) else 0} conditioned events "
                                f"< lift_min_n = {params.min_n}")
    if not days >= params.min_days:
        return "inconclusive", (f"{int(days)} days with conditioned events < lift_min_days = "
                                f"{params.min_days}")
    if not np.isfinite(lift):
        return "inconclusive", "lift undefined (the twin has no traded trades)"
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(ph)):
        return "inconclusive", "no CI: too few valid bootstrap draws"
    ci = f"CI [{_bps(lo)}, {_bps(hi)}]"
    if lo > 0 and ph <= a:
        return "improves", f"{ci} above 0, Holm p = {_pv(ph)} <= {a:g}"
    if hi < 0 and ph <= a:
        return "hurts", f"{ci} below 0, Holm p = {_pv(ph)} <= {a:g}"
    if lo <= 0 <= hi:
        return "inconclusive", f"{ci} contains 0, Holm p = {_pv(ph)}"
    side = "above" if lo > 0 else "below"
    return "inconclusive", f"{ci} {side} 0 but Holm p = {_pv(ph)} > {a:g}"


# --------------------------------------------------------------------------------------------
# lift_summary (the final mart)
# --------------------------------------------------------------------------------------------

ROW_TYPES = ("question", "candidate", "rollup", "rollup_rule", "fallback_rate", "sanity")

SUMMARY_COLUMNS = [
    "row_num", "row_type", "row_key",
    "event_type", "condition", "horizon_min", "direction_rule", "symbol_scope",
    "candidate_id", "twin_candidate_id", "n_horizons", "horizons", "edge_rules",
    "n_cond", "n_cond_days", "n_twin", "n_complement", "n_boot_days", "n_boot_valid",
    "mean_cond_bps", "mean_twin_bps", "mean_complement_bps",
    "lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "lift_p_holm",
    "lift_mde_bps", "lift_vs_complement_bps", "lift_vs_complement_ci_low", "lift_vs_complement_ci_high",
    "lift_vs_complement_p_value", "lift_vs_complement_q_bh",
    "verdict", "verdict_reason", "flag",
    "disc_lift_bps", "disc_lift_ci_low", "disc_lift_ci_high", "hold_lift_bps",
    "status", "status_reason",
    "n_promoted", "n_fallback", "n_promotions", "fallback_rate", "n_families",
    "n_families_promoted", "n_families_fallback", "fallback_rate_families",
    "check_name", "check_scope", "check_value", "check_expected", "check_ok", "detail",
]

_INT_COLUMNS = ["row_num", "horizon_min", "n_horizons", "n_cond", "n_cond_days", "n_twin",
                "n_complement", "n_boot_days", "n_boot_valid", "n_promoted", "n_fallback",
                "n_promotions", "n_families", "n_families_promoted", "n_families_fallback"]
_FLOAT_COLUMNS = ["mean_cond_bps", "mean_twin_bps", "mean_complement_bps", "lift_bps",
                  "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "lift_p_holm",
                  "lift_mde_bps", "lift_vs_complement_bps", "lift_vs_complement_ci_low",
                  "lift_vs_complement_ci_high", "lift_vs_complement_p_value",
                  "lift_vs_complement_q_bh", "disc_lift_bps", "disc_lift_ci_low",
                  "disc_lift_ci_high", "hold_lift_bps", "fallback_rate", "fallback_rate_families",
                  "check_value"]


def lift_summary(plan: pd.DataFrame, trades: pd.DataFrame, lift: pd.DataFrame,
                 results: pd.DataFrame | None, params: LiftParams = LiftParams(),
                 questions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The final table: the answers to the pre-registered questions (``questions``, the seed
    lift_questions, plus the fallback-rate question), candidate rows (lift + q + verdict +
    phase-2 status), roll-ups, fallback rates and sanity checks, with the stable column set
    SUMMARY_COLUMNS, ordered by (row_type in ROW_TYPES order, row_key) and numbered by row_num.
    No rounding."""
    from lifthouse.research.sanity import sanity_checks

    cand = verdicts(lift, params)
    zero = zero_lift_event_types(lift)
    cand["flag"] = [f"probable bug: {zero[e]} for {e}" if e in zero else None
                    for e in cand["event_type"]]
    if results is not None and len(results):
        st = results[["candidate_id", "status", "status_reason"]].astype(
            {"candidate_id": str})
        cand = cand.merge(st, on="candidate_id", how="left")
    cand["row_type"] = "candidate"
    cand["row_key"] = cand["candidate_id"]

    roll = rollups(plan, trades, params, lift=lift)
    roll["row_key"] = (roll["event_type"] + "|" + roll["condition"] + "|"
                       + roll["direction_rule"])

    fb = fallback_rates(results) if results is not None and len(results) else \
        pd.DataFrame([dict(scope="all", detail="n/a: no phase-2 results")])
    fb["row_type"] = "fallback_rate"
    fb["row_key"] = fb["scope"]
    fb = fb.drop(columns=["scope"])

    san = sanity_checks(plan, trades, lift, roll)
    san = san.rename(columns={"check": "check_name", "scope": "check_scope",
                              "value": "check_value", "expected": "check_expected",
                              "ok": "check_ok"})
    san["row_type"] = "sanity"
    san["row_key"] = san["check_name"] + "|" + san["check_scope"]

    quest = question_rows(questions, roll, fb, plan, lift, params)

    frames = [f for f in (quest, cand, roll, fb, san) if len(f)]
    out = pd.concat([f.reindex(columns=[c for c in SUMMARY_COLUMNS if c in f.columns])
                     for f in frames], ignore_index=True)
    out = out.reindex(columns=SUMMARY_COLUMNS)
    out["_rank"] = out["row_type"].map({t: i for i, t in enumerate(ROW_TYPES)})
    out = out.sort_values(["_rank", "row_key"], kind="mergesort").drop(columns="_rank")
    out["row_num"] = np.arange(1, len(out) + 1)
    for c in _INT_COLUMNS:
        out[c] = pd.array(out[c], dtype="Int64")
    for c in _FLOAT_COLUMNS:
        out[c] = out[c].astype(np.float64)
    out["check_ok"] = pd.array(out["check_ok"], dtype="boolean")
    for c in set(SUMMARY_COLUMNS) - set(_INT_COLUMNS) - set(_FLOAT_COLUMNS) - {"check_ok"}:
        out[c] = pd.Series([None if (v is None or v is pd.NA or (isinstance(v, float) and
                                                                  np.isnan(v))) else str(v)
                            for v in out[c]], dtype=object, index=out.index)
    return out.reset_index(drop=True)
