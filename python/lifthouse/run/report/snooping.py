"""The report's "Data snooping" section (docs/phase2.md, "Data snooping"): what the grid-level
tests of phase2_grid_tests and the psr / dsr / stepm_selected columns of
phase2_candidate_results say, in plain words, and the figure of the PBO logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lifthouse.run.report.format import fmt_int, fmt_p, markdown_table, to_number
from lifthouse.run.report.inputs import ReportMeta

PROMOTED_STATUSES = ("promoted", "fallback")


def _num(x, digits: int = 3) -> str:
    v = to_number(x)
    return "n/a" if v is None else f"{v:.{digits}f}"


def _scope_sentence(row: pd.Series, alpha: float) -> str:
    """One scope in plain words: the best candidate's discovery mean, the SPA verdict, StepM."""
    k, tested = int(row["k"]), int(row["k_tested"])
    p = to_number(row.get("spa_p_consistent"))
    if not tested or p is None:
        return f"none of the {fmt_int(k)} candidates trades in the discovery block: nothing to test."
    best = (f"the best of {fmt_int(k)} candidates ({fmt_int(tested)} tested), "
            f"`{row['best_candidate_id']}`, earns {to_number(row['best_mean_bps']):+.2f} bps a "
            f"day in discovery")
    verdict = ("the grid holds a rule better than zero after costs" if p < alpha else
               "the grid holds no rule better than zero after costs")
    n_sel = int(row["stepm_n_selected"])
    ids = str(row["stepm_selected_ids"]).split(",")
    stepm = ("StepM selects none." if n_sel == 0 else
             f"StepM selects {n_sel}: " + ", ".join(f"`{c}`" for c in ids[:8])
             + (f" and {n_sel - 8} more." if n_sel > 8 else "."))
    return (f"{best}; SPA p = {fmt_p(p)} (lower {fmt_p(row['spa_p_lower'])}, upper "
            f"{fmt_p(row['spa_p_upper'])}): {verdict}. {stepm}")


def snooping_md(grid: pd.DataFrame, results: pd.DataFrame, meta: ReportMeta,
                figure: str | None = None) -> str:
    if grid is None or grid.empty:
        return "_phase2_grid_tests was not exported: no data-snooping tests to show._\n"
    alpha = float(meta.var("snoop_alpha"))
    g = grid.sort_values("scope", key=lambda s: s.map(lambda x: (x != "all", x)))
    out = [
        f"Whole-grid tests on the discovery block's daily net P&L (studentized SPA and StepM, "
        f"stationary bootstrap, {fmt_int(g['reps'].iloc[0])} resamples, mean block "
        f"{to_number(g['block_days'].iloc[0]):g} days; StepM at family-wise error {alpha:g}), "
        f"and the probability of backtest overfitting (CSCV over {int(meta.var('snoop_pbo_blocks'))} "
        "blocks of the discovery and holdout days).\n"]
    for _, row in g.iterrows():
        out.append(f"- **{row['scope']}**: {_scope_sentence(row, alpha)}")
    out.append("")
    table = g[["scope", "k", "k_tested", "spa_p_consistent", "spa_p_lower", "spa_p_upper",
               "stepm_n_selected", "n_trials_effective", "sr0", "pbo", "prob_oos_loss",
               "pbo_slope"]].copy()
    out.append(markdown_table(table, formats={
        "spa_p_consistent": fmt_p, "spa_p_lower": fmt_p, "spa_p_upper": fmt_p,
        "n_trials_effective": lambda x: _num(x, 1), "sr0": _num, "pbo": _num,
        "prob_oos_loss": _num, "pbo_slope": _num}))
    all_row = g[g["scope"] == "all"]
    if len(all_row):
        r = all_row.iloc[0]
        pbo = to_number(r.get("pbo"))
        if pbo is None:
            out.append(f"PBO: not computed ({fmt_int(r['pbo_n_days'])} days for "
                       f"{int(meta.var('snoop_pbo_blocks'))} blocks, or fewer than two "
                       "candidates that trade).\n")
        else:
            out.append(
                f"PBO = {pbo:.2f}: in {pbo:.0%} of the {fmt_int(r['pbo_n_splits'])} splits the "
                "in-sample best candidate ranks in the bottom half out of sample (0.5 or more: "
                "picking the in-sample best is no better than picking at random); its "
                f"out-of-sample Sharpe is negative in {to_number(r['prob_oos_loss']):.0%} of "
                "them, and the slope of its out-of-sample on its in-sample Sharpe is "
                f"{_num(r['pbo_slope'], 2)} (1 = no degradation).\n")
    if figure:
        out.append(f"![PBO logits]({figure})\n")
    out.append(promoted_dsr_md(results, meta))
    return "\n".join(out)


def promoted_dsr_md(results: pd.DataFrame, meta: ReportMeta) -> str:
    """The promoted candidates with their DSR and StepM's selection, and how many promotions
    survive the snooping gate."""
    if results is None or results.empty or "dsr" not in results.columns:
        return ""
    prom = results[results["status"].astype(str).isin(PROMOTED_STATUSES)]
    gate_on = str(meta.var("phase2_gate_snooping")).strip().lower() in ("true", "1")
    if prom.empty:
        return ("No candidate is promoted" + (" (the snooping gate `phase2_gate_snooping` is "
                                              "on)" if gate_on else "") + ".\n")
    survive = int(prom["stepm_selected"].fillna(False).astype(bool).sum())
    if gate_on:
        head = (f"The snooping gate is on (`phase2_gate_snooping`): every one of the "
                f"{len(prom)} promotions below is selected by StepM.\n")
    else:
        head = (f"{survive} of the {len(prom)} promotions would survive the snooping gate "
                "(`--var phase2_gate_snooping=true`: promotion also needs StepM's selection).\n")
    cols = ["candidate_id", "status", "disc_n", "disc_mean_bps", "disc_sr_daily", "psr", "dsr",
            "min_trl_days", "stepm_selected"]
    table = prom.sort_values(["dsr", "candidate_id"], ascending=[False, True])[cols]
    return head + "\n" + markdown_table(table, formats={
        "disc_mean_bps": lambda x: _num(x, 2), "disc_sr_daily": _num, "psr": _num, "dsr": _num,
        "min_trl_days": lambda x: _num(x, 0)})


def plot_pbo_logits(grid: pd.DataFrame, path: Path, meta: ReportMeta) -> Path | None:
    """Histogram of the CSCV logits per scope (phase2_grid_tests.pbo_logit_histogram); the
    share at or left of 0 is the PBO."""
    from lifthouse.run.report.figures import _finish, _pyplot

    rows = [r for _, r in grid.iterrows()
            if isinstance(r.get("pbo_logit_histogram"), str) and r["pbo_logit_histogram"]]
    if not rows:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.6), squeeze=False)
    for ax, r in zip(axes[0], rows):
        h = json.loads(r["pbo_logit_histogram"])
        w = float(h["width"])
        edges = np.array([float(e) for e in h["bins"]])
        counts = np.array(list(h["bins"].values()), dtype=float)
        colors = ["#c0392b" if e < 0 else "#2e86c1" for e in edges]
        ax.bar(edges, counts / counts.sum(), width=w, align="edge", color=colors)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_title(f"{r['scope']}: PBO {to_number(r['pbo']):.2f}", fontsize=9)
        ax.set_xlabel("logit of the in-sample best's out-of-sample rank")
        ax.set_ylabel("share of splits")
        ax.grid(alpha=0.3)
    return _finish(plt, fig, path, "Probability of backtest overfitting (CSCV): red = the "
                   "in-sample best ranks in the bottom half out of sample\n"
                   f"{meta.figure_title()}")
