"""The executive-summary renderer on hand-built tables (no warehouse, no dbt). The answers are
lift_summary's 'question' rows, rendered as they are: these tests check that the report shows
them (numbers, CIs, reasons) and never decides a verdict of its own."""

from __future__ import annotations

import matplotlib.image as mpimg
import pandas as pd
import pytest

from lifthouse.research.lift import candidate_lift
from lifthouse.research.params import LiftParams
from lifthouse.research.questions import FALLBACK_QUESTION, QUESTION_COLUMNS
from lifthouse.research.summary import lift_summary
from lifthouse.run.report.answers import answers
from lifthouse.run.report.checks import all_checks
from lifthouse.run.report.format import markdown_table
from lifthouse.run.report.inputs import ReportInputs, ReportMeta
from lifthouse.run.report.markdown import render_markdown
from lifthouse.run.report.write import write_report

CASC, VAC = "LIQUIDATION_CASCADE", "liquidity_vacuum"


def rollup(et, cond, lift, lo, hi, n=80, p=0.01, q=0.02, verdict="improves"):
    return dict(row_type="rollup", row_key=f"{et}|{cond}|edge", event_type=et, condition=cond,
                direction_rule="edge", symbol_scope="pooled", n_cond=n, n_cond_days=20,
                n_twin=3 * n,
                mean_cond_bps=lift + 1.0, mean_twin_bps=1.0, lift_bps=lift, lift_ci_low=lo,
                lift_ci_high=hi, lift_p_value=p, lift_q_bh=q, verdict=verdict,
                verdict_reason="hand-built")


def question(key, et, cond, lift, lo, hi, verdict, reason, n=80, p=0.01, p_holm=0.02):
    """A lift_summary question row as lift.question_rows writes it (numbers of the roll-up)."""
    r = rollup(et, cond, lift, lo, hi, n=n, p=p, q=None, verdict=verdict)
    r.update(row_type="question", row_key=key, lift_q_bh=None, lift_p_holm=p_holm,
             verdict_reason=reason, detail=f"Does {cond} improve {et}?",
             edge_rules="h5:fade,h15:fade")
    return r


def fallback_question(n_promoted, n_fallback, fam_promoted=1, fam_fallback=2):
    n = n_promoted + n_fallback
    return dict(row_type="question", row_key="Q3", detail=FALLBACK_QUESTION,
                n_promoted=n_promoted, n_fallback=n_fallback, n_promotions=n,
                fallback_rate=n_fallback / n if n else float("nan"),
                n_families_promoted=fam_promoted, n_families_fallback=fam_fallback,
                verdict_reason="hand-built" if n else "n/a: no promotions at all")


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


Q1_YES = ("improves", "CI [1.00, 9.00] above 0, Holm p = 0.02 <= 0.05")
Q2_SPANS = ("inconclusive", "CI [-1.50, 5.50] contains 0, Holm p = 0.4")


def make_inputs(q1=(5.0, 1.0, 9.0), q2=(2.0, -1.5, 5.5), cand_lifts=None, sanity_rows=None,
                fallback_n=(1, 2), q1_verdict=Q1_YES, q2_verdict=Q2_SPANS) -> ReportInputs:
    rows = [rollup(CASC, "carry_pos", *q1), rollup(CASC, "vol_high", -1.0, -4.0, 2.0),
            rollup(VAC, "vol_high", *q2), rollup(VAC, "carry_neg", 0.5, -2.0, 3.0),
            question("Q1", CASC, "carry_pos", *q1, *q1_verdict),
            question("Q2", VAC, "vol_high", *q2, *q2_verdict, p=0.2, p_holm=0.4),
            fallback_question(*fallback_n)]
    cand_lifts = cand_lifts or {CASC: [4.0, -2.0], VAC: [1.0, 3.0]}
    for et, lifts in cand_lifts.items():
        for i, lift in enumerate(lifts):
            rows.append(candidate(et, "carry_pos" if et == CASC else "vol_high", lift, h=5 * (i + 1)))
    n_prom = sum(fallback_n)
    rows.append(dict(row_type="fallback_rate", row_key="all", n_promoted=fallback_n[0],
                     n_fallback=fallback_n[1], n_promotions=n_prom,
                     fallback_rate=fallback_n[1] / n_prom if n_prom else float("nan")))
    rows.append(dict(row_type="fallback_rate", row_key=f"event_type={CASC}", n_promoted=1,
                     n_fallback=1, n_promotions=2, fallback_rate=0.5))
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
                             "--end-date 2025-03-01"], min_n=30, min_days=5, ci_level=0.95,
                  lookback_days=7)


def _line(md: str, key: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"**{key}."))


@pytest.mark.parametrize("verdict,word", [("improves", "YES"), ("hurts", "NO"),
                                          ("inconclusive", "INCONCLUSIVE")])
def test_answer_is_the_question_rows_verdict(verdict, word):
    """The report maps the row's verdict to a word and prints its reason; it decides nothing."""
    reason = f"hand-built reason for {verdict}"
    md = render_markdown(make_inputs(q1_verdict=(verdict, reason)), META)
    q1 = _line(md, "Q1")
    assert f"— {word}**" in q1 and f"({reason})" in q1
    assert all(f"— {w}**" not in q1 for w in ("YES", "NO", "INCONCLUSIVE") if w != word)


def test_three_answers_with_numbers_and_cis():
    md = render_markdown(make_inputs(), META)
    q1, q2, q3 = _line(md, "Q1"), _line(md, "Q2"), _line(md, "Q3")
    assert "Does carry_pos improve LIQUIDATION_CASCADE?" in q1 and "YES" in q1
    assert "+5.00 bps" in q1 and "95% CI [+1.00, +9.00]" in q1 and "n = 80" in q1
    assert "p = 0.010" in q1 and "Holm-adjusted p = 0.020" in q1 and "on 20 days" in q1
    assert "across the 2 pre-registered questions" in q1
    assert Q1_YES[1] in q1
    assert "Does vol_high improve liquidity_vacuum?" in q2 and "INCONCLUSIVE" in q2
    assert "contains 0" in q2 and "[-1.50, +5.50]" in q2
    # 1 promoted + 2 fallback -> 2 of 3 promotions are fallbacks
    assert "66.7%" in q3 and "2 fallback of 3 promotions" in q3
    assert "No WARNING" not in md and not md.startswith("> **WARNING")


def test_report_does_not_second_guess_an_inconclusive_verdict():
    """A CI above 0 with a Holm p above alpha is 'inconclusive' in lift_summary: the report
    says inconclusive too (no 'yes' with a caution, no second verdict)."""
    why = "CI [1.00, 9.00] above 0 but Holm p = 0.076 > 0.05"
    md = render_markdown(make_inputs(q1_verdict=("inconclusive", why)), META)
    q1 = _line(md, "Q1")
    assert "INCONCLUSIVE" in q1 and why in q1
    assert "YES" not in q1 and "Caution" not in md and "Model verdict" not in md


def test_hurting_condition_is_no():
    md = render_markdown(make_inputs(q1=(-6.0, -10.0, -2.0), q1_verdict=(
        "hurts", "CI [-10.00, -2.00] below 0, Holm p = 0.002 <= 0.05")), META)
    q1 = _line(md, "Q1")
    assert "— NO**" in q1 and "below 0" in q1 and "YES" not in q1


def test_missing_rollup_is_inconclusive_not_an_error():
    inputs = make_inputs()
    ls = inputs.lift_summary
    why = "no roll-up row for (liquidity_vacuum, vol_high): no traded liquidity_vacuum trades"
    q2 = (ls["row_key"] == "Q2")
    for c in ("lift_bps", "lift_ci_low", "lift_ci_high", "lift_p_value", "lift_p_holm",
              "n_cond", "n_cond_days", "n_twin"):
        ls.loc[q2, c] = None
    ls.loc[q2, "verdict"], ls.loc[q2, "verdict_reason"] = "inconclusive", why
    inputs.lift_summary = ls[~((ls["row_type"] == "rollup") & (ls["event_type"] == VAC))]
    a = {x.key: x for x in answers(inputs.lift_summary)}["Q2"]
    assert not a.found and a.verdict == "inconclusive" and a.reason == why
    line = _line(render_markdown(inputs, META), "Q2")
    assert "INCONCLUSIVE" in line and why in line and "Roll-up lift" not in line


def test_no_question_rows_says_so():
    inputs = make_inputs()
    inputs.lift_summary = inputs.lift_summary[inputs.lift_summary["row_type"] != "question"]
    md = render_markdown(inputs, META)
    assert "no question rows" in md and "**Q1." not in md
    assert {c.name: c.status for c in all_checks(inputs)}["question rows present"] == "warn"


def test_report_answers_equal_lift_summary_question_rows():
    """On a lift_summary built by lifthouse.research.lift (not by hand), every question row appears in
    the report with its own verdict word, reason and numbers, and nothing else is answered."""
    from test_lift import COST, make_world

    def gross(ev, h):   # carry_pos adds +30 bps to following; vol_high nothing
        return 15.0 + COST + (ev["carry_state"] == "carry_pos") * 30.0 + ev["noise"].to_numpy()
    plan, trades, _ = make_world(seed=41, gross=gross)
    params = LiftParams(n_boot=300)
    lift = candidate_lift(plan, trades, params)
    qs = pd.DataFrame([("Q1", "EVT", "carry_pos", "Does carry_pos improve EVT?"),
                       ("Q2", "EVT", "vol_high", "Does vol_high improve EVT?"),
                       ("Q4", "OTHER", "vol_high", "Does vol_high improve OTHER?")],
                      columns=QUESTION_COLUMNS)
    res = plan[["candidate_id", "family_id", "event_type"]].assign(
        status="rejected", status_reason="q>0.1")
    ls = lift_summary(plan, trades, lift, res, params, qs)
    rows = ls.loc[ls["row_type"] == "question"].set_index("row_key")
    assert list(rows.index) == ["Q1", "Q2", "Q3", "Q4"]
    assert rows.loc["Q1", "verdict"] == "improves"            # the planted effect
    assert rows.loc["Q4", "verdict"] == "inconclusive"        # no such event type
    md = render_markdown(ReportInputs(lift_summary=ls, results=res), META)
    got = {a.key: a for a in answers(ls)}
    assert set(got) == set(rows.index)
    words = {"improves": "YES", "hurts": "NO", "inconclusive": "INCONCLUSIVE"}
    for key in ("Q1", "Q2", "Q4"):
        r, line = rows.loc[key], _line(md, key)
        assert got[key].verdict == words[r["verdict"]].lower()
        assert f"— {words[r['verdict']]}** ({r['verdict_reason']})" in line
        assert r["detail"] in line
        if pd.notna(r["lift_bps"]):
            assert f"{r['lift_bps']:+.2f} bps" in line
    assert "undefined" in _line(md, "Q3")       # no promotions in this world


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


def test_fallback_rate_table_is_lift_summarys_rows():
    md = render_markdown(make_inputs(), META)
    table = md.split("**Q3.", 1)[1].split("## Lift per condition", 1)[0]
    assert "| scope |" in table
    assert f"| event_type={CASC} | 1 | 1 | 2 | 50.0% |" in table
    assert "| all | 1 | 2 | 3 | 66.7% |" in table


def test_no_promotions_gives_undefined_rate():
    inputs = make_inputs(fallback_n=(0, 0))
    inputs.results = results_frame().assign(status="rejected")
    md = render_markdown(inputs, META)
    assert md.count("**Q3. What is the overall fallback promotion rate? — undefined**") == 1
    assert "WARNING" not in md


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


def test_answer_states_the_minimum_detectable_lift_and_concentration():
    inputs = make_inputs()
    ls = inputs.lift_summary
    q1 = (ls["row_type"] == "question") & (ls["row_key"] == "Q1")
    ls.loc[q1, "lift_mde_bps"] = 11.2
    ls.loc[q1, "n_twin"] = 85          # 80 of 85 twin events are carry_pos: concentrated
    md = render_markdown(inputs, META)
    line = _line(md, "Q1")
    assert "detect a lift of about +11.20 bps with 80% power" in line
    assert "94% of the twin's events are in `carry_pos`" in line
    # Q2 has neither an MDE value nor a concentrated condition (80 of 240)
    assert "80% power" not in _line(md, "Q2") and "twin's events are in" not in _line(md, "Q2")


def test_state_timing_caveat_follows_the_var():
    md = render_markdown(make_inputs(), META)
    assert "phase2_condition_state_at=pre_event" in md
    meta = ReportMeta(**{**META.__dict__, "vars": {**META.vars, "phase2_condition_state_at": "pre_event"}})
    assert "conditions match the state `pre_event`" in render_markdown(make_inputs(), meta)


# --------------------------------------------------------------------------------------------
# the whole screen: funnel, too-small lifts, what is computed (issue: report shows the screen)


def screen_results() -> pd.DataFrame:
    """Unconditioned pooled rules: cascades lose both ways at h5 (lesser loss) and have a
    positive mean on too few trades at h60; one vacuum candidate passes the n gate."""
    rows = [
        # candidate_id, event_type, conditioned, h, rule, scope, disc_n, disc_mean, status
        (f"{CASC}__all__h5__follow__pooled", CASC, False, 5, "follow", "pooled", 28, -3.0,
         "insufficient_data"),
        (f"{CASC}__all__h5__fade__pooled", CASC, False, 5, "fade", "pooled", 28, -9.0,
         "insufficient_data"),
        (f"{CASC}__all__h60__follow__pooled", CASC, False, 60, "follow", "pooled", 28, 15.16,
         "insufficient_data"),
        (f"{CASC}__all__h60__fade__pooled", CASC, False, 60, "fade", "pooled", 28, -27.16,
         "insufficient_data"),
        (f"{VAC}__all__h5__follow__pooled", VAC, False, 5, "follow", "pooled", 32, -1.0,
         "rejected"),
    ]
    return pd.DataFrame(rows, columns=["candidate_id", "event_type", "is_conditioned",
                                       "horizon_min", "direction_rule", "symbol_scope", "disc_n",
                                       "disc_mean_bps", "status"])


def screen_funnel() -> pd.DataFrame:
    return pd.DataFrame([
        dict(event_type=CASC, n_planned=512, n_enough_disc_trades=0, n_disc_mean_pos=0,
             n_q_pass=0, n_holdout_pass=0, n_lift_pass=0, n_promoted=0, n_fallback=0,
             min_disc_trades_required=30, max_disc_n=28),
        dict(event_type=VAC, n_planned=512, n_enough_disc_trades=12, n_disc_mean_pos=1,
             n_q_pass=0, n_holdout_pass=0, n_lift_pass=0, n_promoted=0, n_fallback=0,
             min_disc_trades_required=30, max_disc_n=32),
    ])


def test_screen_funnel_says_what_n_the_gates_need_and_why_no_fallback():
    inputs = make_inputs()
    inputs.funnel = screen_funnel()
    inputs.results = screen_results()
    md = render_markdown(inputs, META)
    sec = md.split("## Screen funnel")[1].split("\n## ")[0]
    assert "| LIQUIDATION_CASCADE | 512 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in sec
    assert "| all | 1024 | 12 | 1 | 0 | 0 | 0 | 0 | 0 |" in sec
    assert "discovery n >= 30" in sec
    # cascades: the largest n and the window the gate would need (28 in 0.7 x 59 days)
    assert "the largest discovery n is 28" in sec and "about 64 days instead of 59" in sec
    assert "11 fail on discovery mean > 0, 1 fail on q <= 0.1" in sec
    # the positive unconditioned rule with too few trades, and why it is not a fallback
    assert f"`{CASC}__all__h60__follow__pooled` +15.16 bps on 28" in sec
    assert "not a fallback" in sec and "the n gate first" in sec
    # without the funnel table the report says so instead of inventing counts
    inputs.funnel = pd.DataFrame()
    assert "rpt_screen_funnel was not exported" in render_markdown(inputs, META)


def test_no_ci_or_p_below_lift_min_n():
    inputs = make_inputs()
    tiny = rollup(CASC, "carry_neg", 65.03, 42.25, 86.72, n=2, p=0.002, q=None,
                  verdict="inconclusive")
    inputs.lift_summary = pd.concat([inputs.lift_summary, pd.DataFrame([tiny])],
                                    ignore_index=True)
    md = render_markdown(inputs, META)
    row = next(x for x in md.splitlines() if x.startswith(f"| {CASC} | carry_neg |"))
    assert "n < 30" in row and "42.25" not in row and "0.002" not in row
    ok = next(x for x in md.splitlines() if x.startswith(f"| {CASC} | carry_pos |"))
    assert "[+1.00, +9.00]" in ok


def test_caveats_say_what_is_computed_and_lesser_loss():
    inputs = make_inputs()
    inputs.results = screen_results()
    md = render_markdown(inputs, META)
    cav = md.split("## Caveats")[1]
    assert "one direction rule per horizon" in cav and "pooled-scope" in cav
    assert "within each row type" in cav and "Holm" in cav
    assert "across horizons, direction rules and symbols" not in md
    assert (f"{CASC}: at h5 (follow: follow -3.00, fade -9.00 bps) both direction rules lose "
            "money") in cav and "lesser loss" in cav
    assert "h60" not in cav.split("lesser loss")[0].split(f"{CASC}: at")[1]
    assert "strictly inside (entry, exit)" in md


def test_figures_take_the_run_title_and_drop_small_series(tmp_path):
    from lifthouse.run.report.figures import plot_paths

    inputs = make_inputs()
    paths = inputs.paths.copy()
    paths["sd_ret_bps"] = 5.0
    paths.loc[paths["state"] == "carry_neg", "n_events"] = 2
    meta = ReportMeta(**{**META.__dict__, "min_n": 10})
    out = plot_paths(paths, tmp_path / "p.png", meta)
    assert mpimg.imread(out).shape[2] in (3, 4)
    assert "fee 4.5 + slippage 1.5 bp per side" in meta.figure_title()
    assert meta.too_few(2) == "n < 10" and meta.too_few(10, 4) == "days < 5"
    assert meta.too_few(10, 5) is None
