"""The report's caveats: window, costs, data limits, what a roll-up is, state timing."""

from __future__ import annotations

import pandas as pd

from lifthouse.run.report.format import to_number, fmt_bps
from lifthouse.run.report.inputs import ReportInputs, ReportMeta


def _lesser_loss_notes(results: pd.DataFrame) -> list[str]:
    """Where both direction rules of the pooled unconditioned twin lose on the discovery block,
    the edge rule chosen for the roll-ups is only the lesser loss: say so per event type."""
    need = {"is_conditioned", "symbol_scope", "event_type", "horizon_min", "direction_rule",
            "disc_mean_bps"}
    if results is None or results.empty or not need <= set(results.columns):
        return []
    r = results[(~results["is_conditioned"].astype(bool))
                & (results["symbol_scope"].astype(str) == "pooled")]
    out = []
    for et in sorted(r["event_type"].astype(str).unique()):
        lost = []
        part = r[r["event_type"].astype(str) == et]
        for h in sorted(pd.to_numeric(part["horizon_min"]).unique()):
            m = {str(x.direction_rule): to_number(x.disc_mean_bps)
                 for x in part[pd.to_numeric(part["horizon_min"]) == h].itertuples()}
            f, d = m.get("follow"), m.get("fade")
            if f is not None and d is not None and f < 0 and d < 0:
                chosen = "follow" if f >= d else "fade"
                lost.append(f"h{int(h)} ({chosen}: follow {fmt_bps(f)}, fade {fmt_bps(d)} bps)")
        if lost:
            out.append(f"{et}: at {', '.join(lost)} both direction rules lose money on the "
                       "discovery block after costs, so the edge rule chosen there is the "
                       "lesser loss, not an edge.")
    return out


def caveats(inputs: ReportInputs, meta: ReportMeta) -> list[str]:
    out = []
    try:
        days = (pd.Timestamp(meta.end_date) - pd.Timestamp(meta.start_date)).days
    except ValueError:
        days = None
    out.append(f"Window: [{meta.start_date}, {meta.end_date}) UTC ({days} days) on "
               f"{', '.join(meta.symbols)}; "
               + (f"{meta.lookback_days} days of warm-up before the window are never traded. "
                  if meta.lookback_days is not None else "")
               + "One window is one market regime: the answers may not carry over.")
    cost_vars = {k: v for k, v in sorted(meta.vars.items())
                 if any(w in k for w in ("fee", "slippage", "cost"))}
    if cost_vars:
        out.append("Costs: " + ", ".join(f"`{k}` = {v}" for k, v in cost_vars.items())
                   + " per side, on both legs, plus funding for every settlement strictly "
                   "inside (entry, exit).")
    else:
        out.append("Costs: the dbt defaults (taker fee and slippage on both legs, plus funding "
                   "for every settlement strictly inside (entry, exit); see docs/phase2.md).")
    if not inputs.coverage.empty:
        cov = inputs.coverage
        no_oi = sorted(cov.loc[cov["n_bars_with_oi"] == 0, "symbol"])
        no_liq = sorted(cov.loc[cov["n_bars_with_liquidations"] == 0, "symbol"])
        no_basis = sorted(cov.loc[cov["n_bars_with_basis"] == 0, "symbol"])
        gaps = int(cov["n_gap_bars"].sum())
        parts = []
        if no_oi:
            parts.append(f"no open interest for {', '.join(no_oi)}")
        if no_liq:
            parts.append(f"no liquidations for {', '.join(no_liq)}")
        if no_basis:
            parts.append(f"no spot (basis) for {', '.join(no_basis)}")
        parts.append(f"{gaps} gap bar(s) in the window (prices not forward-filled)")
        out.append("Data limits: " + "; ".join(parts) + ".")
    out.append("What a roll-up is (the answers and the lift table): per (event type, condition), "
               "the pooled-scope candidates, one direction rule per horizon (the edge rule, "
               "chosen on the discovery block by the unconditioned twin's mean), their lifts "
               "averaged over the horizons. Horizons share events, so their trades are not "
               "independent; one day-block bootstrap draw covers all horizons. BH q-values are "
               "computed within each row type of lift_summary (candidate rows, roll-ups, "
               "per-rule roll-ups separately); the answers use Holm across the pre-registered "
               "questions instead.")
    out.extend(_lesser_loss_notes(inputs.results))
    out.append("Promotion uses the lift on the discovery block (its CI must be above 0) and the "
               "holdout lift as replication (above `phase2_holdout_lift_min_bps`); the lift "
               "table and the answers show the lift over all blocks, a descriptive estimate "
               "that decides no promotion.")
    out.append(f"A verdict needs at least {meta.min_n} conditioned events on at least "
               f"{meta.min_days} days (vars lift_min_n, lift_min_days); below that it is "
               "'inconclusive' whatever the point estimate. The answers are confirmatory: a "
               "yes / no needs the CI to exclude 0 and the p-value, Holm-adjusted across the "
               "pre-registered questions, to be <= lift_alpha. The roll-up table's verdicts "
               "are exploratory (BH q across all roll-ups <= lift_q_max), so a pre-registered "
               "pair can be 'yes' above and 'inconclusive' in the table.")
    state_at = str(meta.var("phase2_condition_state_at"))
    if state_at == "detection":
        out.append("State timing: conditions match the state at the confirming bar (SPEC 4). "
                   "Both detectors fire on large moves, which lift the 60-minute volatility "
                   "they are part of, so most events are `vol_high` at detection and vol "
                   "conditions compare the twin with (almost) itself. `--var "
                   "phase2_condition_state_at=pre_event` matches on the state before the "
                   "episode started instead (docs/phase2.md).")
    else:
        out.append(f"State timing: conditions match the state `{state_at}` "
                   "(var phase2_condition_state_at; docs/phase2.md), not the state at the "
                   "confirming bar.")
    if meta.synthetic:
        out.append("**The data is the synthetic sample market** (`lifthouse sample`), with "
                   "planted effects: the numbers test the pipeline, not the market.")
    return out
