"""The executive summary: ``reports/<run_id>/executive_summary.md`` with PNG figures beside it.

Rendered only from the exported tables (``data/reports/...``), never from the warehouse, so a
report can be regenerated while the warehouse is locked. Rendering is pure (frames -> markdown);
figures use matplotlib's Agg backend with fixed metadata so the PNGs are reproducible.

"""

from __future__ import annotations

import json

import pandas as pd

from lifthouse.run.report.answers import Answer, answers
from lifthouse.run.report.caveats import caveats
from lifthouse.run.report.checks import all_checks
from lifthouse.run.report.format import ci_label, to_number, fmt_bps, fmt_ci, fmt_int, fmt_p, markdown_table
from lifthouse.run.report.inputs import ReportInputs, ReportMeta, rows_of_type
from lifthouse.run.report.snooping import snooping_md
from lifthouse.run.report.sections import (event_counts_md, fallback_md, funnel_md, occupancy_md,
                                           rollup_display, top_candidates)

PATHS_CAPTION = ("Paths are before costs and in the event's direction (+ = the event's direction "
                 "made money): the follow rule profits when a line rises, the fade rule when it "
                 "falls.")

# a condition holding for at least this share of its twin's events is flagged in the answer
CONCENTRATED_SHARE = 0.85


def _answer_md(a: Answer, ci_level: float | None = None, n_holm: int | None = None) -> str:
    r = a.row
    head = f"**{a.key}. {a.text} — {a.verdict.upper()}** ({a.reason})."
    if not a.found:
        return head + "\n"
    body = (f" Roll-up lift {fmt_bps(r.get('lift_bps'))} bps, {ci_label(ci_level)} "
            f"{fmt_ci(r.get('lift_ci_low'), r.get('lift_ci_high'))} bps, "
            f"p = {fmt_p(r.get('lift_p_value'))}, Holm-adjusted p = {fmt_p(r.get('lift_p_holm'))}"
            + (f" (across the {n_holm} pre-registered questions with enough data)"
               if n_holm else "")
            + f", n = {fmt_int(r.get('n_cond'))} conditioned events")
    if r.get("n_cond_days") is not None:
        body += f" on {fmt_int(r.get('n_cond_days'))} days"
    if r.get("n_twin") is not None:
        body += f" (unconditioned twin n = {fmt_int(r.get('n_twin'))})"
    body += "."
    if r.get("mean_cond_bps") is not None or r.get("mean_twin_bps") is not None:
        body += (f" Mean net: conditioned {fmt_bps(r.get('mean_cond_bps'))} bps vs "
                 f"unconditioned {fmt_bps(r.get('mean_twin_bps'))} bps.")
    scope = "; ".join(f"{k}: {r[k]}" for k in ("symbol_scope", "edge_rules")
                      if r.get(k) is not None)
    if scope:
        body += f" Roll-up over {scope}."
    mde = to_number(r.get("lift_mde_bps"))
    if mde is not None:
        body += (f" With this n the test would detect a lift of about {fmt_bps(mde)} bps with "
                 "80% power; half that needs about four times as many events.")
    n_c, n_t = to_number(r.get("n_cond")), to_number(r.get("n_twin"))
    if n_c and n_t and n_c / n_t >= CONCENTRATED_SHARE:
        body += (f" Note: {n_c / n_t:.0%} of the twin's events are in `{r.get('condition')}`, "
                 "so conditioning on it can barely change the edge (the comparison is nearly "
                 "the twin against itself; see the state-timing caveat).")
    return head + body + "\n"


def render_markdown(inputs: ReportInputs, meta: ReportMeta,
                    figures: dict[str, str] | None = None) -> str:
    """The executive summary as markdown. Pure: same inputs -> same text."""
    figures = figures or {}
    checks = all_checks(inputs)
    failed = [c for c in checks if c.status == "FAIL"]
    warned = [c for c in checks if c.status == "warn"]
    ans = answers(inputs.lift_summary)
    lift_answers = [a for a in ans if a.kind == "lift"]
    fb_answer = next((a for a in ans if a.kind == "fallback_rate"), None)
    n_holm = sum(to_number(a.row.get("lift_p_holm")) is not None for a in lift_answers)
    md: list[str] = []
    if failed:
        md.append("> **WARNING: probable bug.** "
                  f"{len(failed)} sanity check(s) failed; do not trust the answers below until "
                  "they pass:\n>")
        md.extend(f"> - **{c.name}**: {c.detail}" for c in failed)
        md.append("")
    md.append(f"# Milestone D executive summary — run `{meta.run_id}`\n")
    md.append(f"Window [{meta.start_date}, {meta.end_date}) UTC, {meta.bar_text()}, symbols "
              f"{', '.join(meta.symbols)}. Generated from the exported tables of this run"
              + (f"; the run manifest is `{meta.manifest_path}`." if meta.manifest_path else ".")
              + "\n")
    if warned and not failed:
        md.append(f"> Note: {len(warned)} sanity warning(s), see [Sanity checks](#sanity-checks).\n")
    md.append("## Answers\n")
    if not ans:
        md.append("_lift_summary carries no question rows: no answers to show._\n")
    for a in lift_answers:
        md.append(_answer_md(a, meta.ci_level, n_holm))
    md.append(fallback_md(fb_answer, rows_of_type(inputs.lift_summary, "fallback_rate")))
    md.append("## Screen funnel\n")
    md.append(funnel_md(inputs.funnel, inputs.results, meta))
    md.append("## Data snooping\n")
    md.append(snooping_md(inputs.grid_tests, inputs.results, meta, figures.get("pbo")))
    md.append("## Lift per condition\n")
    md.append("Every roll-up (edge rule, pooled scope). Exploratory: q is BH across all "
              "roll-ups and the verdict asks for q <= lift_q_max; the answers above are the "
              "confirmatory test of the pre-registered pairs (marked with a star in the "
              f"figure). Below {meta.min_n} conditioned events (var lift_min_n) or "
              f"{meta.min_days} days (lift_min_days) the table shows `n < {meta.min_n}` instead "
              "of a CI and p: with one or two events the interval only reflects the twin's "
              "resampling (the numbers stay in lift_summary), and the figure leaves those "
              "rows out.\n")
    if "lift" in figures:
        md.append(f"![Lift per condition with CIs]({figures['lift']})\n")
    md.append(markdown_table(rollup_display(inputs.lift_summary, meta),
                             headers={"ci": ci_label(meta.ci_level)}))
    md.append("## Average path after events, by state\n")
    md.append("Mean cumulative return in bps in the event's direction, from the open of the bar "
              "after detection, per minute after entry, with a 95% band (mean +/- 1.96 "
              "standard errors across events). Cascades are split by carry state, other events "
              f"by volatility regime; states with fewer than {meta.min_n} events are not drawn "
              f"(the legend lists them). {PATHS_CAPTION}\n")
    if "paths" in figures:
        md.append(f"![Average path of returns after events]({figures['paths']})\n")
    md.append("## Sanity checks\n")
    md.append(markdown_table(pd.DataFrame(
        [(c.status, c.name, c.detail, c.source) for c in checks],
        columns=["status", "check", "detail", "source"])))
    md.append("## State occupancy per symbol\n")
    md.append(occupancy_md(inputs.occupancy))
    md.append("## Events per symbol (in window)\n")
    md.append(event_counts_md(inputs.event_counts, inputs.coverage, meta.symbols))
    md.append("## Trades per symbol\n")
    md.append("Rows of `phase2_trades` over the unconditioned single-symbol candidates (every "
              "horizon and direction rule): traded, skipped because a position was open, and "
              "dropped (no bar to exit at before the window end, or a missing entry bar; a "
              "missing exit bar is held through to the next bar).\n")
    md.append(markdown_table(inputs.trade_counts))
    md.append("## Top promoted candidates\n")
    md.append(markdown_table(
        top_candidates(inputs.results),
        formats={c: fmt_bps for c in ("disc_mean_bps", "hold_mean_bps", "disc_lift_bps",
                                      "disc_lift_ci_low", "disc_lift_ci_high", "hold_lift_bps")}
        | {"q_bh": fmt_p, "disc_n": fmt_int, "hold_n": fmt_int}))
    md.append("## Caveats\n")
    md.extend(f"- {c}" for c in caveats(inputs, meta))
    md.append("")
    md.append("## Vars used\n")
    md.append(markdown_table(pd.DataFrame(
        [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(meta.vars.items())],
        columns=["var", "value"])))
    md.append("## How to reproduce\n")
    md.append("```bash\n" + "\n".join(meta.reproduce) + "\n```\n")
    return "\n".join(md).rstrip() + "\n"
