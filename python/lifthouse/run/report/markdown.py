"""The executive summary: ``reports/<run_id>/executive_summary.md`` with PNG figures beside it.

Rendered only from the exported tables (``data/reports/...``), never from the warehouse, so a
report can be regenerated while the warehouse is locked. Rendering is pure (frames -> markdown);
figures use matplotlib's Agg backend with fixed metadata so the PNGs are reproducible.

The answers are rendered, never decided, here: they come from the row_type 'question' rows of
``lift_summary`` (one verdict per question, decided by ``lifthouse.research.lift.question_rows``), mapped
improves -> yes, hurts -> no, inconclusive -> inconclusive.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from lifthouse.run.export import ExportLayout
from lifthouse.data.atomic import atomic_write_bytes
from lifthouse.research.questions import FALLBACK_QUESTION_ID

DEFAULT_MIN_N = 10      # dbt var lift_min_n
DEFAULT_MIN_DAYS = 5    # dbt var lift_min_days
STATE_ORDER = ("all", "vol_low", "vol_mid", "vol_high", "carry_neg", "carry_neutral", "carry_pos",
               "warmup")
# one colour per state in every figure (combinations of two states: COMBO_COLOR)
STATE_COLORS = {"all": "black", "vol_low": "tab:blue", "vol_mid": "tab:orange",
                "vol_high": "tab:red", "carry_neg": "tab:purple", "carry_neutral": "tab:gray",
                "carry_pos": "tab:green", "warmup": "tab:olive"}
COMBO_COLOR = "tab:brown"
PATHS_CAPTION = ("Paths are before costs and in the event's direction (+ = the event's direction "
                 "made money): the follow rule profits when a line rises, the fade rule when it "
                 "falls.")
PROMOTED_STATUSES = ("promoted", "fallback")


# lift_summary verdict -> the answer's word
ANSWER_WORDS = {"improves": "yes", "hurts": "no", "inconclusive": "inconclusive"}


@dataclass
class ReportInputs:
    """The exported tables a report is rendered from (see docs/running.md for columns)."""

    lift_summary: pd.DataFrame
    results: pd.DataFrame
    occupancy: pd.DataFrame = field(default_factory=pd.DataFrame)
    event_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    trade_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)   # rpt_screen_funnel


@dataclass
class ReportMeta:
    run_id: str
    start_date: str
    end_date: str
    symbols: list[str]
    vars: dict[str, Any] = field(default_factory=dict)
    reproduce: list[str] = field(default_factory=list)
    min_n: int = DEFAULT_MIN_N
    min_days: int = DEFAULT_MIN_DAYS
    ci_level: float | None = None     # e.g. 0.95 (1 - lift_alpha)
    lookback_days: int | None = None
    synthetic: bool = False
    manifest_path: str | None = None

    def costs_text(self) -> str:
        """e.g. 'fee 4.5 + slippage 1.5 bp per side' from the run's vars (defaults if absent)."""
        fee = self.vars.get("phase2_fee_bps_per_side", 4.5)
        slip = self.vars.get("phase2_slippage_bps_per_side", 1.5)
        return f"fee {fee:g} + slippage {slip:g} bp per side"

    def figure_title(self) -> str:
        return (f"run {self.run_id} · [{self.start_date}, {self.end_date}) UTC · "
                f"{self.costs_text()}")

    def too_few(self, n: Any, days: Any = None) -> str | None:
        """'n < 10' (or 'days < 5') when a lift has too little data for a CI to mean anything
        (vars lift_min_n, lift_min_days), else None."""
        n_v, d_v = _num(n), _num(days)
        if n_v is None or n_v < self.min_n:
            return f"n < {self.min_n}"
        if days is not None and (d_v is None or d_v < self.min_days):
            return f"days < {self.min_days}"
        return None


# --------------------------------------------------------------------------------------------
# numbers -> words


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_bps(x: Any, digits: int = 2) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{v:+.{digits}f}"


def fmt_float(x: Any, digits: int = 2) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{v:.{digits}f}"


def fmt_p(x: Any) -> str:
    v = _num(x)
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def fmt_int(x: Any) -> str:
    v = _num(x)
    return "n/a" if v is None else str(int(round(v)))


def fmt_pct(x: Any, digits: int = 1) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def fmt_ci(lo: Any, hi: Any) -> str:
    return f"[{fmt_bps(lo)}, {fmt_bps(hi)}]"


def markdown_table(df: pd.DataFrame, formats: dict[str, Callable[[Any], str]] | None = None,
                   headers: dict[str, str] | None = None) -> str:
    """A GitHub markdown table of ``df`` (row order as given). Pure."""
    if df is None or df.empty:
        return "_(no rows)_\n"
    formats = formats or {}
    headers = headers or {}

    def cell(col: str, value: Any) -> str:
        if col in formats:
            text = formats[col](value)
        elif value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            text = ""
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    cols = list(df.columns)
    lines = ["| " + " | ".join(headers.get(c, c) for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(cols, row)) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# table logic


def _rows(df: pd.DataFrame, row_type: str) -> pd.DataFrame:
    if df is None or df.empty or "row_type" not in df.columns:
        return pd.DataFrame(columns=list(df.columns) if df is not None else [])
    return df[df["row_type"] == row_type]


def _get(row: pd.Series | dict, *names: str) -> Any:
    for n in names:
        if n in row and not (isinstance(row[n], float) and math.isnan(row[n])) and row[n] is not pd.NA:
            return row[n]
    return None


@dataclass
class Answer:
    """One answer as lift_summary's question row states it (``row``: that row's values)."""

    key: str
    text: str
    kind: str                 # "lift" (does a condition improve an event?) | "fallback_rate"
    verdict: str              # lift: yes | no | inconclusive; fallback_rate: the rate or n/a
    reason: str
    row: dict = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """The question has a roll-up behind it (numbers to show)."""
        return self.kind == "lift" and _num(self.row.get("lift_bps")) is not None


def _question_sort_key(key: Any) -> tuple[int, str]:
    s = str(key)
    digits = s[1:] if s[:1] == "Q" else ""
    return (int(digits), s) if digits.isdigit() else (10 ** 9, s)


def answers(lift_summary: pd.DataFrame) -> list[Answer]:
    """The answers in question order (Q1, Q2, Q3, ...), read from the 'question' rows of
    lift_summary only. Nothing is recomputed: the verdict is the row's, in words."""
    rows = _rows(lift_summary, "question")
    out = []
    for r in sorted((r for _, r in rows.iterrows()),
                    key=lambda r: _question_sort_key(r.get("row_key"))):
        row = {k: _get(r, k) for k in r.index}
        key, text = str(row.get("row_key")), str(row.get("detail") or row.get("row_key"))
        if key == FALLBACK_QUESTION_ID and row.get("event_type") is None:
            rate = _num(row.get("fallback_rate"))
            out.append(Answer(key, text, "fallback_rate",
                              fmt_pct(rate) if rate is not None else "undefined",
                              str(row.get("verdict_reason") or ""), row))
        else:
            verdict = ANSWER_WORDS.get(str(row.get("verdict")), "inconclusive")
            out.append(Answer(key, text, "lift", verdict, str(row.get("verdict_reason") or ""),
                              row))
    return out


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass" | "FAIL" | "warn"
    detail: str
    source: str  # "lift_summary" | "report"


# informational sanity rows of lift_summary (counts shown in their own tables)
INFO_CHECKS = ("events_per_symbol", "trades_per_symbol", "skipped_overlap_per_symbol")
MAX_LISTED = 5


def _ok_value(v: Any) -> bool | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1", "pass", "ok", "yes"):
            return True
        if s in ("false", "0", "fail", "failed", "no"):
            return False
        return None
    return bool(v)


def model_sanity_checks(lift_summary: pd.DataFrame) -> list[Check]:
    """lift_summary's sanity rows, one Check per check_name: FAIL if any scope failed, warn if
    some were not evaluated, else pass. Informational count rows are left out."""
    san = _rows(lift_summary, "sanity")
    if san.empty or "check_name" not in san.columns:
        return []
    out = []
    for name in sorted(san["check_name"].dropna().astype(str).unique()):
        if name in INFO_CHECKS:
            continue
        g = san[san["check_name"].astype(str) == name]
        oks = [_ok_value(v) for v in g.get("check_ok", pd.Series([None] * len(g)))]
        scopes = [str(s) for s in g.get("check_scope", pd.Series([""] * len(g)))]
        details = [str(d) if _num(d) is not None or isinstance(d, str) else ""
                   for d in g.get("detail", pd.Series([""] * len(g)))]
        failed = [(s, d) for s, d, o in zip(scopes, details, oks) if o is False]
        unknown = [(s, d) for s, d, o in zip(scopes, details, oks) if o is None]
        n_ok = sum(o is True for o in oks)
        if failed:
            listed = "; ".join(f"{s}: {d}" for s, d in failed[:MAX_LISTED])
            more = f" (+{len(failed) - MAX_LISTED} more)" if len(failed) > MAX_LISTED else ""
            out.append(Check(name, "FAIL", f"{len(failed)} of {len(g)} failed — {listed}{more}",
                             "lift_summary"))
        elif unknown:
            out.append(Check(name, "warn", f"{n_ok} of {len(g)} passed, {len(unknown)} not "
                                           f"evaluated (e.g. {unknown[0][0]}: {unknown[0][1]})",
                             "lift_summary"))
        else:
            detail = details[0] if len(g) == 1 else f"all {len(g)} scopes passed"
            out.append(Check(name, "pass", detail, "lift_summary"))
    return out


def report_sanity_checks(inputs: ReportInputs) -> list[Check]:
    """Checks the report makes itself, independent of the model's sanity rows."""
    checks: list[Check] = []
    ls = inputs.lift_summary
    cand = _rows(ls, "candidate")
    if "lift_bps" in cand.columns and "event_type" in cand.columns:
        events: dict[str, int] = {}
        if not inputs.event_counts.empty:
            events = inputs.event_counts.groupby("event_type")["n_events"].sum().to_dict()
        for et in sorted(cand["event_type"].dropna().astype(str).unique()):
            lifts = pd.to_numeric(cand.loc[cand["event_type"] == et, "lift_bps"], errors="coerce")
            known = lifts.dropna()
            if len(known) and (known == 0).all():
                checks.append(Check(f"lift not identically 0 ({et})", "FAIL",
                                    f"all {len(known)} conditioned candidates have lift exactly "
                                    "0.0 bps: the condition filter or the comparison is broken",
                                    "report"))
            elif len(known) == 0 and events.get(et, 0) > 0:
                checks.append(Check(f"lift computed ({et})", "warn",
                                    f"{events.get(et)} events but no candidate has a lift", "report"))
            elif len(known):
                checks.append(Check(f"lift not identically 0 ({et})", "pass",
                                    f"{int((known != 0).sum())} of {len(known)} lifts are non-zero",
                                    "report"))
    model = model_sanity_checks(ls)
    if not model:
        checks.append(Check("sanity rows present", "warn",
                            "lift_summary carries no sanity rows (partition check not reported)",
                            "report"))
    elif not any("partition" in c.name.lower() for c in model):
        checks.append(Check("partition check present", "warn",
                            "no sanity row checks twin n = sum of its state partitions", "report"))
    if _rows(ls, "question").empty:
        checks.append(Check("question rows present", "warn",
                            "lift_summary carries no question rows: the answers are missing",
                            "report"))
    # the model's fallback-rate row against a plain count of the candidate statuses
    fb = _rows(ls, "fallback_rate")
    res = inputs.results
    if not fb.empty and res is not None and "status" in res.columns and "row_key" in fb.columns:
        m = fb[fb["row_key"].astype(str) == "all"]
        if not m.empty:
            got = (_num(_get(m.iloc[0], "n_promoted")), _num(_get(m.iloc[0], "n_fallback")))
            status = res["status"].astype(str)
            mine = (float((status == "promoted").sum()), float((status == "fallback").sum()))
            checks.append(Check("fallback counts consistent",
                                "pass" if got == mine else "FAIL",
                                f"lift_summary promoted/fallback = {fmt_int(got[0])}/"
                                f"{fmt_int(got[1])}, candidate statuses = {int(mine[0])}/"
                                f"{int(mine[1])}", "report"))
    # the model's per-symbol trade counts against the exported trade table
    san = _rows(ls, "sanity")
    if not san.empty and not inputs.trade_counts.empty and "check_name" in san.columns:
        t = san[san["check_name"] == "trades_per_symbol"]
        if not t.empty:
            model_counts = {str(k): _num(v) for k, v in zip(t["check_scope"], t["check_value"])}
            mine_counts = {f"{r.symbol}|{r.event_type}": float(r.n_traded)
                           for r in inputs.trade_counts.itertuples()}
            diff = sorted(k for k in set(model_counts) | set(mine_counts)
                          if (model_counts.get(k) or 0.0) != (mine_counts.get(k) or 0.0))
            checks.append(Check("trade counts consistent", "FAIL" if diff else "pass",
                                ("mismatch for " + ", ".join(diff[:MAX_LISTED])) if diff else
                                f"{len(mine_counts)} (symbol, event type) counts agree", "report"))
    return checks


def all_checks(inputs: ReportInputs) -> list[Check]:
    return model_sanity_checks(inputs.lift_summary) + report_sanity_checks(inputs)


def _state_sort_key(state: Any) -> tuple[int, str]:
    s = str(state)
    return (STATE_ORDER.index(s) if s in STATE_ORDER else len(STATE_ORDER), s)


# --------------------------------------------------------------------------------------------
# markdown


def _ci_label(level: float | None) -> str:
    return f"{100 * level:g}% CI" if level else "CI"


# a condition holding for at least this share of its twin's events is flagged in the answer
CONCENTRATED_SHARE = 0.85


def _answer_md(a: Answer, ci_level: float | None = None, n_holm: int | None = None) -> str:
    r = a.row
    head = f"**{a.key}. {a.text} — {a.verdict.upper()}** ({a.reason})."
    if not a.found:
        return head + "\n"
    body = (f" Roll-up lift {fmt_bps(r.get('lift_bps'))} bps, {_ci_label(ci_level)} "
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
    mde = _num(r.get("lift_mde_bps"))
    if mde is not None:
        body += (f" With this n the test would detect a lift of about {fmt_bps(mde)} bps with "
                 "80% power; half that needs about four times as many events.")
    n_c, n_t = _num(r.get("n_cond")), _num(r.get("n_twin"))
    if n_c and n_t and n_c / n_t >= CONCENTRATED_SHARE:
        body += (f" Note: {n_c / n_t:.0%} of the twin's events are in `{r.get('condition')}`, "
                 "so conditioning on it can barely change the edge (the comparison is nearly "
                 "the twin against itself; see the state-timing caveat).")
    return head + body + "\n"


def _fallback_md(a: Answer | None, rates: pd.DataFrame) -> str:
    if a is None:
        return (f"**{FALLBACK_QUESTION_ID}. Fallback promotion rate — n/a** (lift_summary has "
                "no fallback-rate question row).\n")
    r = a.row
    n = _num(r.get("n_promotions"))
    if not n:
        line = (f"**{a.key}. {a.text} — undefined**: no candidate was promoted "
                f"(0 promotions, so no rate; {a.reason}).")
    else:
        fam_p, fam_f = int(_num(r.get("n_families_promoted")) or 0), \
            int(_num(r.get("n_families_fallback")) or 0)
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


def _occupancy_md(occ: pd.DataFrame) -> str:
    if occ.empty:
        return "_(no occupancy table)_\n"
    df = occ.copy()
    df["cell"] = [f"{fmt_pct(s)} ({fmt_int(n)})" for s, n in zip(df["share"], df["n_minutes"])]
    out = []
    for dim in sorted(df["dimension"].unique()):
        part = df[df["dimension"] == dim]
        wide = part.pivot(index="symbol", columns="state", values="cell").fillna("0.0% (0)")
        wide = wide[sorted(wide.columns, key=_state_sort_key)].reset_index()
        out.append(f"{dim} (share of in-window minutes, minutes in brackets):\n\n"
                   + markdown_table(wide))
    return "\n".join(out)


def _event_counts_md(counts: pd.DataFrame, coverage: pd.DataFrame, symbols: list[str]) -> str:
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
    return days * float(meta.vars.get("phase2_discovery_fraction", 0.7))


def _funnel_md(funnel: pd.DataFrame, results: pd.DataFrame, meta: ReportMeta) -> str:
    """The screen funnel (rpt_screen_funnel) per event type, what n the gates need, and why
    an unconditioned rule with a positive mean is not a fallback when its n is too small."""
    if funnel is None or funnel.empty:
        return "_(no screen funnel table: rpt_screen_funnel was not exported)_\n"
    min_n = int(_num(funnel["min_disc_trades_required"].iloc[0]) or 0)
    q_max = meta.vars.get("phase2_q_max", 0.1)
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
    window_days = disc_days / float(meta.vars.get("phase2_discovery_fraction", 0.7)) \
        if disc_days else None
    for x in funnel.sort_values("event_type").to_dict("records"):
        n_best = int(_num(x.get("max_disc_n")) or 0)
        n_ok = int(_num(x.get("n_enough_disc_trades")) or 0)
        if n_best < min_n:
            need = (f": at that rate the first gate needs a window of about "
                    f"{math.ceil(window_days * min_n / n_best)} days instead of "
                    f"{window_days:.0f}" if n_best and window_days else "")
            notes.append(f"- {x['event_type']}: no candidate has the {min_n} discovery trades "
                         f"the first gate needs (var `phase2_min_trades`); the largest "
                         f"discovery n is {n_best}{need}.")
            continue
        stages = [(int(_num(x.get(c)) or 0), h.format(min_n=min_n, q_max=q_max))
                  for c, h in FUNNEL_STAGES[1:5]]
        drops = [f"{a - b} fail on {h2}" for (a, _), (b, h2) in zip(stages, stages[1:])
                 if a - b > 0]
        n_cond, n_unc = (int(_num(x.get(c)) or 0) for c in ("n_holdout_pass_conditioned",
                                                             "n_holdout_pass_unconditioned"))
        n_lift, n_fb = int(_num(x.get("n_lift_pass")) or 0), int(_num(x.get("n_fallback")) or 0)
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


def _top_candidates(results: pd.DataFrame, k: int = 15) -> pd.DataFrame:
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


def _rollup_table(ls: pd.DataFrame) -> pd.DataFrame:
    roll = _rows(ls, "rollup")
    if roll.empty:
        return roll
    roll = roll.copy()
    roll["_k"] = [_state_sort_key(c) for c in roll["condition"]]
    roll = roll.sort_values(["event_type", "_k", "condition"], kind="mergesort")
    cols = [c for c in ("event_type", "condition", "n_cond", "n_cond_days", "n_twin", "lift_bps",
                        "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_q_bh", "verdict")
            if c in roll.columns]
    return roll[cols]


def _rollup_display(ls: pd.DataFrame, meta: ReportMeta) -> pd.DataFrame:
    """The roll-up table as shown: one CI column; 'n < 10' (or 'days < 5') instead of the CI
    and p / q where the lift has too little data for them to mean anything (with one or two
    events the interval only reflects the twin's resampling). lift_summary keeps the numbers."""
    roll = _rollup_table(ls)
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
            m = {str(x.direction_rule): _num(x.disc_mean_bps)
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


def _caveats(inputs: ReportInputs, meta: ReportMeta) -> list[str]:
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
    state_at = str(meta.vars.get("phase2_condition_state_at", "detection"))
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
    n_holm = sum(_num(a.row.get("lift_p_holm")) is not None for a in lift_answers)
    md: list[str] = []
    if failed:
        md.append("> **WARNING: probable bug.** "
                  f"{len(failed)} sanity check(s) failed; do not trust the answers below until "
                  "they pass:\n>")
        md.extend(f"> - **{c.name}**: {c.detail}" for c in failed)
        md.append("")
    md.append(f"# Milestone D executive summary — run `{meta.run_id}`\n")
    md.append(f"Window [{meta.start_date}, {meta.end_date}) UTC, symbols "
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
    md.append(_fallback_md(fb_answer, _rows(inputs.lift_summary, "fallback_rate")))
    md.append("## Screen funnel\n")
    md.append(_funnel_md(inputs.funnel, inputs.results, meta))
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
    md.append(markdown_table(_rollup_display(inputs.lift_summary, meta),
                             headers={"ci": _ci_label(meta.ci_level)}))
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
    md.append(_occupancy_md(inputs.occupancy))
    md.append("## Events per symbol (in window)\n")
    md.append(_event_counts_md(inputs.event_counts, inputs.coverage, meta.symbols))
    md.append("## Trades per symbol\n")
    md.append("Rows of `phase2_trades` over the unconditioned single-symbol candidates (every "
              "horizon and direction rule): traded, skipped because a position was open, and "
              "dropped (no bar to exit at before the window end, or a missing entry bar; a "
              "missing exit bar is held through to the next bar).\n")
    md.append(markdown_table(inputs.trade_counts))
    md.append("## Top promoted candidates\n")
    md.append(markdown_table(
        _top_candidates(inputs.results),
        formats={c: fmt_bps for c in ("disc_mean_bps", "hold_mean_bps", "disc_lift_bps",
                                      "disc_lift_ci_low", "disc_lift_ci_high", "hold_lift_bps")}
        | {"q_bh": fmt_p, "disc_n": fmt_int, "hold_n": fmt_int}))
    md.append("## Caveats\n")
    md.extend(f"- {c}" for c in _caveats(inputs, meta))
    md.append("")
    md.append("## Vars used\n")
    md.append(markdown_table(pd.DataFrame(
        [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(meta.vars.items())],
        columns=["var", "value"])))
    md.append("## How to reproduce\n")
    md.append("```bash\n" + "\n".join(meta.reproduce) + "\n```\n")
    return "\n".join(md).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "lifthouse"
    return plt


def _savefig(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    # bbox "tight": no label is clipped at the figure's edge
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
    atomic_write_bytes(buf.getvalue(), path)
    return path


def _state_color(condition: Any) -> str:
    return STATE_COLORS.get(str(condition), COMBO_COLOR)


def plot_lift(lift_summary: pd.DataFrame, path: Path, meta: ReportMeta | None = None) -> Path:
    """Roll-up lift per (event type, condition) with CI error bars, coloured by state (the same
    colours as the path figure). Pre-registered pairs are marked with a star. Rows with fewer
    than lift_min_n events (or lift_min_days days) are not drawn, so they do not set the scale:
    their label says so."""
    meta = meta or ReportMeta(run_id="?", start_date="?", end_date="?", symbols=[])
    plt = _pyplot()
    roll = _rollup_table(lift_summary)
    types = sorted(roll["event_type"].unique()) if not roll.empty else []
    most = max([int((roll["event_type"] == t).sum()) for t in types] or [1])
    fig, axes = plt.subplots(1, max(1, len(types)), squeeze=False,
                             figsize=(6.5 * max(1, len(types)), max(3.5, 2.2 + 0.32 * most)))
    if not types:
        axes[0][0].text(0.5, 0.5, "no roll-up rows", ha="center", va="center")
    asked = {(a.row.get("event_type"), a.row.get("condition")): a.key
             for a in answers(lift_summary) if a.kind == "lift"}
    for ax, et in zip(axes[0], types):
        part = roll[roll["event_type"] == et]
        labels = []
        for i, r in enumerate(part.to_dict("records")):
            cond = r.get("condition")
            few = meta.too_few(r.get("n_cond"), r.get("n_cond_days"))
            q = asked.get((et, cond))
            lift, lo, hi = (_num(r.get(c)) for c in ("lift_bps", "lift_ci_low", "lift_ci_high"))
            label = f"{cond} (n={fmt_int(r.get('n_cond'))})"
            if q:
                label = f"{q}: {label}"
            if few or lift is None:
                label += f": {few or 'no lift'}, not drawn"
            elif lo is not None and hi is not None:
                ax.errorbar(lift, i, xerr=[[max(0.0, lift - lo)], [max(0.0, hi - lift)]],
                            fmt="*" if q else "o", markersize=12 if q else 6,
                            color=_state_color(cond), capsize=3)
            else:
                ax.plot(lift, i, "*" if q else "o", color=_state_color(cond))
            labels.append(label)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        for tick, cond in zip(ax.get_yticklabels(), part["condition"]):
            if (et, cond) in asked:
                tick.set_fontweight("bold")
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(str(et))
        ax.set_xlabel(f"lift vs unconditioned twin (bps, {_ci_label(meta.ci_level)})")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Lift per condition (roll-ups; star = pre-registered question)\n"
                 f"{meta.figure_title()}", fontsize=10)
    fig.tight_layout()
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out


def plot_paths(paths: pd.DataFrame, path: Path, meta: ReportMeta | None = None) -> Path:
    """Mean cumulative return after entry per event type, one line per state (colours as in
    the lift figure) with a 95% band; states with fewer than lift_min_n events are not drawn
    (listed in the legend), so they do not set the scale."""
    meta = meta or ReportMeta(run_id="?", start_date="?", end_date="?", symbols=[])
    plt = _pyplot()
    types = sorted(paths["event_type"].unique()) if not paths.empty else []
    fig, axes = plt.subplots(1, max(1, len(types)), figsize=(6.5 * max(1, len(types)), 4.8),
                             squeeze=False)
    if not types:
        axes[0][0].text(0.5, 0.5, "no events", ha="center", va="center")
    for ax, et in zip(axes[0], types):
        part = paths[paths["event_type"] == et]
        dim = str(part["state_dimension"].iloc[0])
        hidden = []
        for state in sorted(part["state"].unique(), key=_state_sort_key):
            st = part[part["state"] == state].sort_values("minute")
            n0 = st.loc[st["minute"] == st["minute"].min(), "n_events"]
            n = int(n0.iloc[0]) if len(n0) else 0
            if n < meta.min_n:
                hidden.append(f"{state} (n={n})")
                continue
            x = st["minute"].to_numpy()
            y = st["mean_ret_bps"].to_numpy(dtype=float)
            color = _state_color(state)
            ax.plot(x, y, color=color, linewidth=1.6 if state == "all" else 1.1,
                    label=f"{state} (n={n})")
            if "sd_ret_bps" in st.columns:
                se = (pd.to_numeric(st["sd_ret_bps"], errors="coerce").to_numpy(dtype=float)
                      / st["n_events"].clip(lower=1).to_numpy(dtype=float) ** 0.5)
                ax.fill_between(x, y - 1.96 * se, y + 1.96 * se, color=color, alpha=0.15,
                                linewidth=0)
        if hidden:
            ax.plot([], [], " ", label=f"not drawn, n < {meta.min_n}: " + ", ".join(hidden))
        ax.axhline(0.0, color="grey", linewidth=0.6)
        ax.set_title(f"{et} by {dim}")
        ax.set_xlabel("minutes after entry")
        ax.set_ylabel("mean cumulative return (bps, event direction)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Average path after events, 95% band, before costs, in the event's direction "
                 f"(fade profits when the line falls)\n{meta.figure_title()}", fontsize=10)
    fig.tight_layout()
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# files


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if Path(path).exists() else pd.DataFrame()


def load_inputs(layout: ExportLayout) -> ReportInputs:
    """Read a run's exported tables (Parquet for the models, CSV for the report tables)."""
    ls_path = layout.ablation_dir / "lift_summary.parquet"
    res_path = layout.phase2_dir / "phase2_candidate_results.parquet"
    for p in (ls_path, res_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run the export stage first")
    t = layout.tables_dir
    return ReportInputs(
        lift_summary=pd.read_parquet(ls_path),
        results=pd.read_parquet(res_path),
        occupancy=_read_csv(t / "state_occupancy.csv"),
        event_counts=_read_csv(t / "event_counts.csv"),
        trade_counts=_read_csv(t / "trade_counts.csv"),
        coverage=_read_csv(t / "data_coverage.csv"),
        paths=_read_csv(t / "event_paths.csv"),
        funnel=_read_csv(t / "rpt_screen_funnel.csv"),
    )


def write_report(out_dir: Path, inputs: ReportInputs, meta: ReportMeta) -> dict[str, Path]:
    """Write ``executive_summary.md`` and ``figures/*.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    files = {
        "lift_by_condition.png": plot_lift(inputs.lift_summary, fig_dir / "lift_by_condition.png",
                                           meta),
        "event_paths.png": plot_paths(inputs.paths, fig_dir / "event_paths.png", meta),
    }
    md = render_markdown(inputs, meta, figures={"lift": "figures/lift_by_condition.png",
                                                "paths": "figures/event_paths.png"})
    summary = out_dir / "executive_summary.md"
    atomic_write_bytes(md.encode("utf-8"), summary)
    files["executive_summary.md"] = summary
    return files


def verdict_words(answers: Iterable[Answer]) -> str:
    return ", ".join(f"{a.key}={a.verdict}" for a in answers)
