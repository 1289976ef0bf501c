"""The report's tables in markdown: fallback rates, state occupancy, events per symbol, the
screen funnel, top promoted candidates and the roll-up table."""

from __future__ import annotations

import math

import pandas as pd

from lifthouse.run.report.answers import Answer
from lifthouse.run.report.format import (to_number, state_sort_key, fmt_bps, fmt_ci, fmt_int, fmt_p,
                                         fmt_pct, markdown_table)
from lifthouse.run.report.inputs import ReportMeta, rows_of_type
from lifthouse.research.questions import FALLBACK_QUESTION_ID

PROMOTED_STATUSES = ("promoted", "fallback")


def fallback_md(a: Answer | None, rates: pd.DataFrame) -> str:
    if a is None:
        return (f"**{FALLBACK_QUESTION_ID}. Fallback promotion rate — n/a** (lift_summary has "
                "no fallback-rate question row).\n")
    r = a.row
    n = to_number(r.get("n_promotions"))
    if not n:
        line = (f"**{a.key}. {a.text} — undefined**: no candidate was promoted "
                f"(0 promotions, so no rate; {a.reason}).")
    else:
        fam_p, fam_f = int(to_number(r.get("n_families_promoted")) or 0), \
            int(to_number(r.get("n_families_fallback")) or 0)
        line = (f"**{a.key}. {a.text} — {a.verdict}**: {fmt_int(r.get('n_fallback'))} fallback "
                f"of {fmt_int(n)} promotions ({fmt_int(r.get('n_promoted'))} conditioned "
                f"candidates promoted); by family: {fam_f} of {fam_p + fam_f} promoted families "
                "were promoted by fallback to the unconditioned rule.")
    if rates.empty:
        return line + "\n"
    cols = [c for c in ("row_key", "n_promoted", "n_fallback", "n_promotions", "fallback_rate",
                        "n_families_promoted", "n_families_fallback", "fallback_rate_families")
            if c in rates.columns]
    table = markdown_table(
        rates[cols], formats={"fallback_rate": fmt_pct, "fallback_rate_families": fmt_pct,
                              **{c: fmt_int for c in cols if c.startswith("n_")}},
        headers={"row_key": "scope"})
    return line + "\n\n" + table


def occupancy_md(occ: pd.DataFrame) -> str:
    if occ.empty:
        return "_(no occupancy table)_\n"
    df = occ.copy()
    df["cell"] = [f"{fmt_pct(s)} ({fmt_int(n)})" for s, n in zip(df["share"], df["n_minutes"])]
    out = []
    for dim in sorted(df["dimension"].unique()):
        part = df[df["dimension"] == dim]
        wide = part.pivot(index="symbol", columns="state", values="cell").fillna("0.0% (0)")
        wide = wide[sorted(wide.columns, key=state_sort_key)].reset_index()
        out.append(f"{dim} (share of in-window minutes, minutes in brackets):\n\n"
                   + markdown_table(wide))
    return "\n".join(out)


def event_counts_md(counts: pd.DataFrame, coverage: pd.DataFrame, symbols: list[str]) -> str:
    if counts.empty:
        return "_(no event counts)_\n"
    wide = counts.pivot(index="symbol", columns="event_type", values="n_events").fillna(0)
    wide = wide.astype(int).reset_index()
    text = markdown_table(wide)
    notes = []
    casc = counts[counts["event_type"] == "LIQUIDATION_CASCADE"]
    cov = coverage.set_index("symbol") if not coverage.empty else pd.DataFrame()
    for _, r in casc.sort_values("symbol").iterrows():
        if int(r["n_events"]) > 0:
            continue
        sym = r["symbol"]
        if sym in cov.index:
            oi = int(cov.loc[sym, "n_bars_with_oi"])
            liq = int(cov.loc[sym, "n_bars_with_liquidations"])
            if oi == 0 and liq == 0:
                why = ("no liquidation and no open-interest data in the window, so the detector has "
                       "no evidence of forced flow (SPEC 5)")
            else:
                why = (f"evidence data exists ({oi} bars with open interest, {liq} with "
                       "liquidations) but no move passed the thresholds")
        else:
            why = "no feature rows for this symbol"
        notes.append(f"- {sym}: no LIQUIDATION_CASCADE events — {why}.")
    if "evidence" in counts.columns:
        ev = counts[counts["n_events"] > 0].dropna(subset=["evidence"])
        if not ev.empty:
            notes.append("- Evidence used: " + "; ".join(
                f"{r.symbol} {r.event_type}: {r.evidence}" for r in ev.itertuples()) + ".")
    return text + ("\n" + "\n".join(notes) + "\n" if notes else "")


FUNNEL_STAGES = [  # (column of rpt_screen_funnel, header)
    ("n_planned", "planned"),
    ("n_enough_disc_trades", "discovery n >= {min_n}"),
    ("n_disc_mean_pos", "discovery mean > 0"),
    ("n_q_pass", "q <= {q_max}"),
    ("n_holdout_pass", "holdout mean > 0"),
    ("n_lift_pass", "lift (conditioned)"),
    ("n_promoted", "promoted"),
    ("n_fallback", "fallback"),
]
MAX_LISTED_RULES = 8


def _discovery_days(meta: ReportMeta) -> float | None:
    try:
        days = (pd.Timestamp(meta.end_date) - pd.Timestamp(meta.start_date)).days
    except ValueError:
        return None
    return days * float(meta.var("phase2_discovery_fraction"))


def funnel_md(funnel: pd.DataFrame, results: pd.DataFrame, meta: ReportMeta) -> str:
    """The screen funnel (rpt_screen_funnel) per event type, what n the gates need, and why
    an unconditioned rule with a positive mean is not a fallback when its n is too small."""
    if funnel is None or funnel.empty:
        return "_(no screen funnel table: rpt_screen_funnel was not exported)_\n"
    min_n = int(to_number(funnel["min_disc_trades_required"].iloc[0]) or 0)
    q_max = meta.var("phase2_q_max")
    cols = ["event_type"] + [c for c, _ in FUNNEL_STAGES]
    f = funnel[cols].copy()
    total = {"event_type": "all"} | {c: int(pd.to_numeric(f[c]).sum()) for c, _ in FUNNEL_STAGES}
    f = pd.concat([f, pd.DataFrame([total])], ignore_index=True)
    headers = {c: h.format(min_n=min_n, q_max=q_max) for c, h in FUNNEL_STAGES}
    text = ["Every candidate of the plan through the promotion gates in order (SPEC 7; each "
            "column counts the candidates that passed every gate to its left). The lift gate "
            "applies to conditioned candidates (discovery-block lift CI above 0 and holdout "
            "lift above `phase2_holdout_lift_min_bps`), the fallback to unconditioned ones.\n",
            markdown_table(f, formats={c: fmt_int for c, _ in FUNNEL_STAGES}, headers=headers)]
    notes = []
    disc_days = _discovery_days(meta)
    window_days = disc_days / float(meta.var("phase2_discovery_fraction")) \
        if disc_days else None
    for x in funnel.sort_values("event_type").to_dict("records"):
        n_best = int(to_number(x.get("max_disc_n")) or 0)
        n_ok = int(to_number(x.get("n_enough_disc_trades")) or 0)
        if n_best < min_n:
            need = (f": at that rate the first gate needs a window of about "
                    f"{math.ceil(window_days * min_n / n_best)} days instead of "
                    f"{window_days:.0f}" if n_best and window_days else "")
            notes.append(f"- {x['event_type']}: no candidate has the {min_n} discovery trades "
                         f"the first gate needs (var `phase2_min_trades`); the largest "
                         f"discovery n is {n_best}{need}.")
            continue
        stages = [(int(to_number(x.get(c)) or 0), h.format(min_n=min_n, q_max=q_max))
                  for c, h in FUNNEL_STAGES[1:5]]
        drops = [f"{a - b} fail on {h2}" for (a, _), (b, h2) in zip(stages, stages[1:])
                 if a - b > 0]
        n_cond, n_unc = (int(to_number(x.get(c)) or 0) for c in ("n_holdout_pass_conditioned",
                                                             "n_holdout_pass_unconditioned"))
        n_lift, n_fb = int(to_number(x.get("n_lift_pass")) or 0), int(to_number(x.get("n_fallback")) or 0)
        after = (f"; of the {n_cond} conditioned ones that pass the four gates {n_lift} pass "
                 f"the lift gate, and of the {n_unc} unconditioned ones {n_fb} are a fallback "
                 f"({n_unc - n_fb} superseded by a promoted conditioned variant)"
                 if n_cond or n_unc else "")
        notes.append(f"- {x['event_type']}: {n_ok} candidate(s) have at least {min_n} "
                     f"discovery trades (largest n {n_best})"
                     + (f"; of these {', '.join(drops)}" if drops else "") + after + ".")
    if results is not None and not results.empty and "disc_mean_bps" in results.columns:
        r = results
        unc = r[(~r["is_conditioned"].astype(bool)) & (pd.to_numeric(r["disc_n"]) < min_n)
                & (pd.to_numeric(r["disc_mean_bps"]) > 0)].copy()
        if len(unc):
            unc["_pooled"] = (unc["symbol_scope"].astype(str) != "pooled").astype(int)
            unc = unc.sort_values(["_pooled", "event_type", "horizon_min", "candidate_id"],
                                  kind="mergesort")
            listed = "; ".join(f"`{x.candidate_id}` {fmt_bps(x.disc_mean_bps)} bps on "
                               f"{fmt_int(x.disc_n)}" for x in
                               unc.head(MAX_LISTED_RULES).itertuples())
            more = f" (+{len(unc) - MAX_LISTED_RULES} more)" if len(unc) > MAX_LISTED_RULES else ""
            notes.append(
                f"- **Why a positive unconditioned rule is not a fallback**: {len(unc)} "
                "unconditioned candidate(s) have a positive discovery mean but fewer than "
                f"{min_n} discovery trades: {listed}{more}. The fallback promotes the "
                "unconditioned rule of a family only when that rule passes every gate itself, "
                "the n gate first (SPEC 7): a positive mean on too few trades is not evidence "
                "of an edge, so these stay `insufficient_data`. (The unconditioned means in "
                "the answers are the pooled rules over all blocks, averaged over horizons: "
                "not gate statistics.)")
    return "\n".join(text) + "\n" + "\n".join(notes) + "\n"


def top_candidates(results: pd.DataFrame, k: int = 15) -> pd.DataFrame:
    if results.empty or "status" not in results.columns:
        return pd.DataFrame()
    prom = results[results["status"].isin(PROMOTED_STATUSES)].copy()
    if prom.empty:
        return prom
    prom["_rank"] = (prom["status"] != "promoted").astype(int)
    sort = ["_rank"] + [c for c in ("disc_mean_bps",) if c in prom.columns] + ["candidate_id"]
    asc = [True] + [False] * (len(sort) - 2) + [True]
    prom = prom.sort_values(sort, ascending=asc, kind="mergesort").head(k)
    cols = [c for c in ("candidate_id", "status", "disc_n", "disc_mean_bps", "q_bh", "hold_n",
                        "hold_mean_bps", "disc_lift_bps", "disc_lift_ci_low", "disc_lift_ci_high",
                        "hold_lift_bps") if c in prom.columns]
    return prom[cols]


def rollup_table(ls: pd.DataFrame) -> pd.DataFrame:
    roll = rows_of_type(ls, "rollup")
    if roll.empty:
        return roll
    roll = roll.copy()
    roll["_k"] = [state_sort_key(c) for c in roll["condition"]]
    roll = roll.sort_values(["event_type", "_k", "condition"], kind="mergesort")
    cols = [c for c in ("event_type", "condition", "n_cond", "n_cond_days", "n_twin", "lift_bps",
                        "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "verdict")
            if c in roll.columns]
    return roll[cols]


def rollup_display(ls: pd.DataFrame, meta: ReportMeta) -> pd.DataFrame:
    """The roll-up table as shown: one CI column; 'n < 10' (or 'days < 5') instead of the CI
    and p / q where the lift has too little data for them to mean anything (with one or two
    events the interval only reflects the twin's resampling). lift_summary keeps the numbers."""
    roll = rollup_table(ls)
    if roll.empty:
        return roll
    out = []
    for r in roll.to_dict("records"):
        few = meta.too_few(r.get("n_cond"), r.get("n_cond_days"))
        out.append({
            "event_type": r.get("event_type"), "condition": r.get("condition"),
            "n_cond": fmt_int(r.get("n_cond")), "n_twin": fmt_int(r.get("n_twin")),
            "lift_bps": fmt_bps(r.get("lift_bps")),
            "ci": few or fmt_ci(r.get("lift_ci_low"), r.get("lift_ci_high")),
            "p": "" if few else fmt_p(r.get("lift_p_value")),
            "q_bh": "" if few else fmt_p(r.get("lift_q_bh")),
            "verdict": r.get("verdict"),
        })
    return pd.DataFrame(out)
