"""The executive-summary renderer on hand-built tables (no warehouse, no dbt)."""

from __future__ import annotations

import math

import matplotlib.image as mpimg
import pandas as pd
import pytest

from lifthouse.report import (QUESTIONS, ReportInputs, ReportMeta, answer_question, all_checks,
                              decide_verdict, fallback_rates, markdown_table, render_markdown,
                              write_report)

CASC, VAC = "LIQUIDATION_CASCADE", "liquidity_vacuum"


def rollup(et, cond, lift, lo, hi, n=80, p=0.01, q=0.02, verdict="improves"):
    return dict(row_type="rollup", row_key=f"{et}|{cond}|edge", event_type=et, condition=cond,
                direction_rule="edge", symbol_scope="pooled", n_cond=n, n_cond_days=20,
                n_twin=3 * n,
                mean_cond_bps=lift + 1.0, mean_twin_bps=1.0, lift_bps=lift, lift_ci_low=lo,
                lift_ci_high=hi, lift_p_value=p, lift_q_bh=q, verdict=verdict,
                verdict_reason="hand-built")


def candidate(et, cond, lift, h=15):
    cid = f"{et}__{cond}__h{h}__follow__pooled"
    return dict(row_type="candidate", row_key=cid, candidate_id=cid, event_type=et,
                condition=cond, horizon_min=h, n_cond=40, n_twin=120, lift_bps=lift,
                lift_ci_low=lift - 3, lift_ci_high=lift + 3)


def sanity(name, scope, ok, detail="hand-built", value=1.0):
    return dict(row_type="sanity", row_key=f"{name}|{scope}", check_name=name, check_scope=scope,
                check_value=value, check_ok=ok, detail=detail)


def results_frame() -> pd.DataFrame:
    rows = [
        # family A: a conditioned variant promoted
        ("A__carry_pos", "A", CASC, "promoted", 12.0),
        ("A__all", "A", CASC, "rejected", 3.0),
        # family B: fallback to the unconditioned rule
        ("B__all", "B", CASC, "fallback", 8.0),
        ("B__carry_pos", "B", CASC, "rejected", 1.0),
        # family C: fallback
        ("C__all", "C", VAC, "fallback", 5.0),
        ("C__vol_high", "C", VAC, "insufficient_data", float("nan")),
    ]
    return pd.DataFrame(rows, columns=["candidate_id", "family_id", "event_type", "status",
                                       "disc_mean_bps"])


def make_inputs(q1=(5.0, 1.0, 9.0), q2=(2.0, -1.5, 5.5), cand_lifts=None, sanity_rows=None,
                fallback_n=(1, 2)) -> ReportInputs:
    rows = [rollup(CASC, "carry_pos", *q1), rollup(CASC, "vol_high", -1.0, -4.0, 2.0),
            rollup(VAC, "vol_high", *q2), rollup(VAC, "carry_neg", 0.5, -2.0, 3.0)]
    cand_lifts = cand_lifts or {CASC: [4.0, -2.0], VAC: [1.0, 3.0]}
    for et, lifts in cand_lifts.items():
        for i, lift in enumerate(lifts):
            rows.append(candidate(et, "carry_pos" if et == CASC else "vol_high", lift, h=5 * (i + 1)))
    rows.append(dict(row_type="fallback_rate", row_key="all", n_promoted=fallback_n[0],
                     n_fallback=fallback_n[1], n_promotions=sum(fallback_n),
                     fallback_rate=fallback_n[1] / sum(fallback_n)))
    if sanity_rows is None:
        sanity_rows = [sanity("partition_bounds", "X|vol", True),
                       sanity("zero_lift_event_type", CASC, True),
                       sanity("trades_per_symbol", f"BTCUSDT|{CASC}", pd.NA, value=7.0)]
    rows.extend(sanity_rows)
    ls = pd.DataFrame(rows)
    occupancy = pd.DataFrame([
        ("BTCUSDT", "vol_regime", s, n, n / 300) for s, n in
        (("vol_low", 100), ("vol_mid", 100), ("vol_high", 90), ("warmup", 10))
    ] + [("BTCUSDT", "carry_state", s, n, n / 300) for s, n in
         (("carry_pos", 60), ("carry_neutral", 200), ("carry_neg", 40))],
        columns=["symbol", "dimension", "state", "n_minutes", "share"])
    events = pd.DataFrame([("BTCUSDT", CASC, 12, "open_interest"), ("BTCUSDT", VAC, 30, "illiquidity"),
                           ("SOLUSDT", CASC, 0, None), ("SOLUSDT", VAC, 25, "illiquidity")],
                          columns=["symbol", "event_type", "n_events", "evidence"])
    trades = pd.DataFrame([("BTCUSDT", CASC, 8, 7, 3, 0)],
                          columns=["symbol", "event_type", "n_candidates", "n_traded",
                                   "n_skipped_overlap", "n_dropped"])
    coverage = pd.DataFrame([("BTCUSDT", 1000, 2, 1000, 0, 0), ("SOLUSDT", 1000, 0, 0, 0, 0)],
                            columns=["symbol", "n_bars", "n_gap_bars", "n_bars_with_oi",
                                     "n_bars_with_liquidations", "n_bars_with_basis"])
    paths = pd.DataFrame([
        (et, dim, st, m, 10, (m * 0.1 if st != "all" else m * 0.05))
        for et, dim, states in ((CASC, "carry_state", ("carry_pos", "carry_neg", "all")),
                                (VAC, "vol_regime", ("vol_high", "vol_low", "all")))
        for st in states for m in range(0, 16)
    ], columns=["event_type", "state_dimension", "state", "minute", "n_events", "mean_ret_bps"])
    return ReportInputs(lift_summary=ls, results=results_frame(), occupancy=occupancy,
                        event_counts=events, trade_counts=trades, coverage=coverage, paths=paths)


META = ReportMeta(run_id="t1", start_date="2025-01-01", end_date="2025-03-01",
                  symbols=["BTCUSDT", "SOLUSDT"], vars={"fee_bps": 4.5, "n_boot": 200},
                  reproduce=["lifthouse run --run-id t1 --start-date 2025-01-01 "
                             "--end-date 2025-03-01"], min_n=30, min_days=5, ci_level=0.95, q_max=0.10,
                  lookback_days=7)


@pytest.mark.parametrize("n,lift,lo,hi,expected", [
    (80, 5.0, 1.0, 9.0, "yes"),
    (80, -5.0, -9.0, -1.0, "no"),
    (80, 2.0, -1.0, 5.0, "inconclusive"),
    (80, -2.0, -5.0, 1.0, "inconclusive"),
    (10, 5.0, 1.0, 9.0, "inconclusive"),      # n too small, however good the CI
    (80, 5.0, float("nan"), 9.0, "inconclusive"),
    (80, 0.0, 0.0, 0.0, "inconclusive"),      # exactly 0: probable bug, never "no"
    (0, None, None, None, "inconclusive"),
])
def test_verdict_follows_the_numbers(n, lift, lo, hi, expected):
    verdict, reason = decide_verdict(n, lift, lo, hi, min_n=30)
    assert verdict == expected
    assert reason
    if n == 10:
        assert "n too small" in reason
    if expected == "inconclusive" and n == 80 and lo is not None and not math.isnan(lo) and lift:
        assert "spans 0" in reason


def test_too_few_days_is_inconclusive():
    assert decide_verdict(80, 5.0, 1.0, 9.0, min_n=30, n_days=3, min_days=5)[0] == "inconclusive"
    assert decide_verdict(80, 5.0, 1.0, 9.0, min_n=30, n_days=5, min_days=5)[0] == "yes"


def test_three_answers_with_numbers_and_cis():
    md = render_markdown(make_inputs(), META)
    q1 = next(line for line in md.splitlines() if line.startswith("**Q1."))
    q2 = next(line for line in md.splitlines() if line.startswith("**Q2."))
    q3 = next(line for line in md.splitlines() if line.startswith("**Q3."))
    assert "`carry_pos`" in q1 and "`LIQUIDATION_CASCADE`" in q1 and "YES" in q1
    assert "+5.00 bps" in q1 and "95% CI [+1.00, +9.00]" in q1 and "n = 80" in q1
    assert "p = 0.010" in q1 and "q (BH) = 0.020" in q1
    assert "`vol_high`" in q2 and "INCONCLUSIVE" in q2 and "spans 0" in q2
    assert "[-1.50, +5.50]" in q2
    # 1 promoted + 2 fallback -> 2 of 3 promotions are fallbacks
    assert "66.7%" in q3 and "2 fallback of 3 promotions" in q3
    assert "No WARNING" not in md and not md.startswith("> **WARNING")


def test_yes_that_fails_multiple_testing_carries_a_caution():
    inputs = make_inputs()
    ls = inputs.lift_summary
    mask = (ls["row_type"] == "rollup") & (ls["event_type"] == CASC) & (ls["condition"] == "carry_pos")
    ls.loc[mask, "lift_q_bh"] = 0.144
    md = render_markdown(inputs, META)
    q1 = next(line for line in md.splitlines() if line.startswith("**Q1."))
    assert "YES" in q1 and "Caution" in q1 and "q = 0.144 > 0.1" in q1
    q1_ok = next(line for line in render_markdown(make_inputs(), META).splitlines()
                 if line.startswith("**Q1."))
    assert "Caution" not in q1_ok


def test_hurting_condition_is_no():
    md = render_markdown(make_inputs(q1=(-6.0, -10.0, -2.0)), META)
    q1 = next(line for line in md.splitlines() if line.startswith("**Q1."))
    assert "NO" in q1 and "hurts" in q1 and "YES" not in q1


def test_missing_rollup_is_inconclusive_not_an_error():
    inputs = make_inputs()
    ls = inputs.lift_summary
    inputs.lift_summary = ls[~((ls["row_type"] == "rollup") & (ls["event_type"] == VAC))]
    a = answer_question(inputs.lift_summary, QUESTIONS[1])
    assert not a.found and a.verdict == "inconclusive"
    assert "**Q2." in render_markdown(inputs, META)


def test_zero_lift_across_event_type_gives_banner_at_top():
    inputs = make_inputs(cand_lifts={CASC: [0.0, 0.0, 0.0], VAC: [1.0, 2.0]})
    md = render_markdown(inputs, META)
    assert md.startswith("> **WARNING: probable bug.**")
    banner = md.split("\n# ", 1)[0]
    assert CASC in banner and "exactly" in banner
    assert VAC not in banner


def test_failed_partition_check_gives_banner_at_top():
    rows = [sanity("partition_bounds", "A__all|vol", True),
            sanity("partition_bounds", "B__all|vol", False, detail="ABOVE the bound")]
    md = render_markdown(make_inputs(sanity_rows=rows), META)
    assert md.startswith("> **WARNING: probable bug.**")
    banner = md.split("\n# ", 1)[0]
    assert "partition_bounds" in banner and "B__all|vol" in banner and "1 of 2 failed" in banner


def test_no_banner_when_checks_pass_and_checks_are_listed():
    inputs = make_inputs()
    md = render_markdown(inputs, META)
    assert "WARNING" not in md
    checks = {c.name: c.status for c in all_checks(inputs)}
    assert checks["partition_bounds"] == "pass"
    assert checks["fallback counts consistent"] == "pass"
    assert checks["trade counts consistent"] == "pass"
    assert "trades_per_symbol" not in checks  # informational rows are not checks


def test_inconsistent_fallback_row_is_flagged():
    md = render_markdown(make_inputs(fallback_n=(3, 0)), META)
    assert md.startswith("> **WARNING")
    assert "fallback counts consistent" in md.split("\n# ", 1)[0]


def test_fallback_rates_per_event_type():
    rates = fallback_rates(results_frame()).set_index("scope")
    assert rates.loc["all", "n_promotions"] == 3 and rates.loc["all", "n_fallback"] == 2
    assert rates.loc[CASC, "fallback_rate"] == pytest.approx(0.5)
    assert rates.loc[VAC, "fallback_rate"] == pytest.approx(1.0)
    assert rates.loc["all", "n_families_promoted"] == 1
    assert rates.loc["all", "n_families_fallback"] == 2


def test_no_promotions_gives_undefined_rate():
    res = results_frame().assign(status="rejected")
    inputs = make_inputs()
    inputs.results = res
    inputs.lift_summary = inputs.lift_summary[inputs.lift_summary["row_type"] != "fallback_rate"]
    md = render_markdown(inputs, META)
    assert "**Q3. Fallback promotion rate — undefined**" in md


def test_report_sections_and_symbols_without_cascades():
    md = render_markdown(make_inputs(), META)
    for heading in ("## State occupancy per symbol", "## Events per symbol", "## Trades per symbol",
                    "## Sanity checks", "## Top promoted candidates", "## Caveats",
                    "## Vars used", "## How to reproduce"):
        assert heading in md
    assert "SOLUSDT: no LIQUIDATION_CASCADE events" in md and "no open-interest" in md
    assert "33.3% (100)" in md  # vol_low occupancy share (minutes)
    assert "lifthouse run --run-id t1" in md
    assert "`fee_bps` = 4.5" in md
    # top promoted: the promoted one first, then fallbacks
    top = md.split("## Top promoted candidates", 1)[1]
    assert top.index("A__carry_pos") < top.index("B__all")


def test_render_is_deterministic():
    assert render_markdown(make_inputs(), META) == render_markdown(make_inputs(), META)


def test_markdown_table_escapes_and_formats():
    df = pd.DataFrame({"a": ["x|y", None], "b": [1.23456, float("nan")]})
    out = markdown_table(df, formats={"b": lambda v: "n/a" if pd.isna(v) else f"{v:.1f}"})
    lines = out.splitlines()
    assert lines[0] == "| a | b |"
    assert lines[2] == "| x\\|y | 1.2 |"
    assert lines[3] == "|  | n/a |"
    assert markdown_table(pd.DataFrame()) == "_(no rows)_\n"


def test_write_report_writes_valid_reproducible_pngs(tmp_path):
    inputs = make_inputs()
    files = write_report(tmp_path / "a", inputs, META)
    again = write_report(tmp_path / "b", inputs, META)
    md = files["executive_summary.md"].read_text()
    for name in ("lift_by_condition.png", "event_paths.png"):
        data = files[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(files[name])
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert f"figures/{name}" in md
        assert data == again[name].read_bytes(), f"{name} is not byte-reproducible"
    assert files["executive_summary.md"].read_bytes() == again["executive_summary.md"].read_bytes()


def test_figures_with_empty_tables(tmp_path):
    inputs = make_inputs()
    inputs.paths = pd.DataFrame()
    inputs.lift_summary = inputs.lift_summary[inputs.lift_summary["row_type"] != "rollup"]
    files = write_report(tmp_path, inputs, META)
    assert files["event_paths.png"].read_bytes()[:4] == b"\x89PNG"
