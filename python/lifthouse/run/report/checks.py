"""The report's sanity table (SPEC 9): lift_summary's sanity rows, one line per check, plus
the checks the report makes itself against the exported tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lifthouse.research.sanity import all_lifts_zero
from lifthouse.run.report.format import to_number, fmt_int
from lifthouse.run.report.inputs import ReportInputs, first_value, rows_of_type


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
    san = rows_of_type(lift_summary, "sanity")
    if san.empty or "check_name" not in san.columns:
        return []
    out = []
    for name in sorted(san["check_name"].dropna().astype(str).unique()):
        if name in INFO_CHECKS:
            continue
        g = san[san["check_name"].astype(str) == name]
        oks = [_ok_value(v) for v in g.get("check_ok", pd.Series([None] * len(g)))]
        scopes = [str(s) for s in g.get("check_scope", pd.Series([""] * len(g)))]
        details = [str(d) if to_number(d) is not None or isinstance(d, str) else ""
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
    cand = rows_of_type(ls, "candidate")
    if "lift_bps" in cand.columns and "event_type" in cand.columns:
        events: dict[str, int] = {}
        if not inputs.event_counts.empty:
            events = inputs.event_counts.groupby("event_type")["n_events"].sum().to_dict()
        for et in sorted(cand["event_type"].dropna().astype(str).unique()):
            lifts = pd.to_numeric(cand.loc[cand["event_type"] == et, "lift_bps"], errors="coerce")
            known = lifts.dropna()
            if all_lifts_zero(known):  # the zero-lift rule of lifthouse.research.sanity
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
    if rows_of_type(ls, "question").empty:
        checks.append(Check("question rows present", "warn",
                            "lift_summary carries no question rows: the answers are missing",
                            "report"))
    # the model's fallback-rate row against a plain count of the candidate statuses
    fb = rows_of_type(ls, "fallback_rate")
    res = inputs.results
    if not fb.empty and res is not None and "status" in res.columns and "row_key" in fb.columns:
        m = fb[fb["row_key"].astype(str) == "all"]
        if not m.empty:
            got = (to_number(first_value(m.iloc[0], "n_promoted")), to_number(first_value(m.iloc[0], "n_fallback")))
            status = res["status"].astype(str)
            mine = (float((status == "promoted").sum()), float((status == "fallback").sum()))
            checks.append(Check("fallback counts consistent",
                                "pass" if got == mine else "FAIL",
                                f"lift_summary promoted/fallback = {fmt_int(got[0])}/"
                                f"{fmt_int(got[1])}, candidate statuses = {int(mine[0])}/"
                                f"{int(mine[1])}", "report"))
    # the model's per-symbol trade counts against the exported trade table
    san = rows_of_type(ls, "sanity")
    if not san.empty and not inputs.trade_counts.empty and "check_name" in san.columns:
        t = san[san["check_name"] == "trades_per_symbol"]
        if not t.empty:
            model_counts = {str(k): to_number(v) for k, v in zip(t["check_scope"], t["check_value"])}
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
