"""The daily P&L matrix (lifthouse.research.daily), the grid tests of a run
(lifthouse.research.snooping_grid) and the snooping gate (lifthouse.research.promotion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifthouse.research.daily import block_calendar, daily_pnl, pnl_matrix
from lifthouse.research.promotion import Gates, apply_gates
from lifthouse.research.snooping_grid import (SnoopParams, calendar_of, candidate_snooping,
                                              grid_tests, logit_histogram, scopes)
from lifthouse.research.split import Split

SPLIT = Split(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-11"), 0.7, 240)


def test_block_calendar_covers_each_block_and_shares_the_boundary_day():
    cal = block_calendar(SPLIT)
    # discovery [01-01, 01-08 00:00), embargo 4 h, holdout [01-08 04:00, 01-11)
    assert list(cal["discovery"].strftime("%m-%d")) == [f"01-0{d}" for d in range(1, 8)]
    assert list(cal["holdout"].strftime("%m-%d")) == ["01-08", "01-09", "01-10"]
    mid = Split(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-11"), 0.75, 240)
    cal = block_calendar(mid)                           # discovery ends 01-08 12:00
    assert cal["discovery"][-1] == cal["holdout"][0] == pd.Timestamp("2025-01-08")


def test_daily_pnl_is_dense_and_sums_by_entry_day():
    per_day = pd.DataFrame({
        "candidate_id": ["a", "a", "b", "b", "a"],
        "block": ["discovery", "holdout", "discovery", "embargo", "discovery"],
        "trade_day": pd.to_datetime(["2025-01-02", "2025-01-09", "2025-01-02", "2025-01-08",
                                     "2025-01-02"]),
        "net_bps": [10.0, -3.0, 4.0, 99.0, 2.5]})
    d = daily_pnl(per_day, ["b", "a", "c"], SPLIT)
    assert len(d) == 3 * 10                              # 3 candidates x (7 + 3) days
    assert d.duplicated(["candidate_id", "block", "day"]).sum() == 0
    a = d[d["candidate_id"] == "a"].set_index(["block", "day"])
    assert a.loc[("discovery", pd.Timestamp("2025-01-02")), "net_bps"] == 12.5
    assert a.loc[("discovery", pd.Timestamp("2025-01-02")), "n_trades"] == 2
    assert a.loc[("holdout", pd.Timestamp("2025-01-09")), "net_bps"] == -3.0
    assert a["net_bps"].sum() == 9.5                      # zero elsewhere
    assert d["net_bps"].sum() == 13.5                     # the embargo trade is left out
    assert (d.loc[d["candidate_id"] == "c", "net_bps"] == 0).all()
    x, ids, days = pnl_matrix(d, "discovery", ["a", "b", "c"])
    assert x.shape == (7, 3) and list(ids) == ["a", "b", "c"] and x[1, 0] == 12.5
    xa, _, days_a = pnl_matrix(d, ("discovery", "holdout"), ["a", "b", "c"])
    assert xa.shape == (10, 3) and days_a.is_monotonic_increasing and xa[8, 0] == -3.0


def _world(n_days=120, k_noise=40, seed=0, edge=0.8):
    """A plan of k_noise noise candidates (event type N) and two (event type P), one with a
    steady positive edge, as phase2_candidate_daily rows."""
    rng = np.random.default_rng(seed)
    split = Split(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-01") + pd.Timedelta(days=n_days),
                  0.7, 240)
    ids = [f"N__c{i:02d}" for i in range(k_noise)] + ["P__edge", "P__noise"]
    plan = pd.DataFrame({"candidate_id": ids,
                         "event_type": ["N"] * k_noise + ["P", "P"]})
    rows = []
    for block, days in block_calendar(split).items():
        for c in ids:
            v = rng.standard_t(4, size=len(days)) * 5.0
            if c == "P__edge":
                v = rng.normal(edge * 5.0, 5.0, size=len(days))
            rows.append(pd.DataFrame({"candidate_id": c, "block": block, "day": days,
                                      "net_bps": v, "n_trades": 1}))
    return plan, pd.concat(rows, ignore_index=True)


FAST = SnoopParams(snoop_reps=300)


def test_grid_tests_find_the_planted_edge_and_are_deterministic():
    plan, daily = _world()
    g = grid_tests(daily, plan, FAST).set_index("scope")
    assert list(g.index) == ["all", "event_type=N", "event_type=P"]
    assert g.loc["all", "best_candidate_id"] == "P__edge"
    assert g.loc["all", "spa_p_consistent"] < 0.01
    assert g.loc["all", "stepm_selected_ids"] == "P__edge"
    assert g.loc["event_type=N", "stepm_n_selected"] == 0
    assert g.loc["all", "k"] == 42 and g.loc["all", "k_tested"] == 42
    assert 30 <= g.loc["all", "n_trials_effective"] <= 42
    assert g.loc["all", "pbo_n_splits"] == 12_870 and g.loc["all", "pbo"] < 0.2
    again = grid_tests(daily, plan, FAST)
    pd.testing.assert_frame_equal(g.reset_index(), again, check_exact=True)
    cand = candidate_snooping(daily, plan, FAST).set_index("candidate_id")
    assert bool(cand.loc["P__edge", "stepm_selected"]) and cand["stepm_selected"].sum() == 1
    assert cand.loc["P__edge", "dsr"] > 0.95
    assert (cand["dsr"] <= cand["psr"] + 1e-12).all()      # deflating never raises it


def test_a_null_grid_selects_nothing_and_its_pbo_is_not_small():
    plan, daily = _world(edge=0.0, seed=3)
    g = grid_tests(daily, plan, FAST).set_index("scope")
    assert g.loc["all", "spa_p_consistent"] > 0.05
    assert g.loc["all", "stepm_n_selected"] == 0
    assert g.loc["all", "pbo"] > 0.2


def test_few_days_give_no_pbo_and_untested_candidates_are_counted():
    plan, daily = _world(n_days=12)
    daily.loc[daily["candidate_id"] == "N__c00", "net_bps"] = 0.0     # never trades
    g = grid_tests(daily, plan, FAST).set_index("scope")
    assert g.loc["all", "k_tested"] == 41
    assert np.isnan(g.loc["all", "pbo"]) and g.loc["all", "pbo_n_splits"] == 0
    assert g.loc["all", "pbo_logit_histogram"] is None


def test_logit_histogram_bins_are_anchored_at_zero():
    h = logit_histogram(np.array([-0.3, -0.1, 0.0, 0.1, 0.6]), width=0.25)
    assert h == '{"width": 0.25, "bins": {"-0.50": 1, "-0.25": 1, "0.00": 2, "0.50": 1}}'


def test_the_snooping_gate_needs_stepm_for_promotion_and_fallback():
    base = dict(family_id="f", disc_n=50, disc_mean_bps=5.0, q_bh=0.01, hold_n=20,
                hold_mean_bps=3.0, disc_lift_ci_low=1.0, hold_lift_bps=2.0)
    r = pd.DataFrame([
        dict(candidate_id="c1", is_conditioned=True, stepm_selected=True, **base),
        dict(candidate_id="c2", is_conditioned=True, stepm_selected=False,
             **{**base, "family_id": "g"}),
        dict(candidate_id="c3", is_conditioned=False, stepm_selected=False,
             **{**base, "family_id": "h"}),
    ])
    off = apply_gates(r, Gates()).set_index("candidate_id")["status"]
    assert off.to_dict() == {"c1": "promoted", "c2": "promoted", "c3": "fallback"}
    on = apply_gates(r, Gates(phase2_gate_snooping=True)).set_index("candidate_id")
    assert on["status"].to_dict() == {"c1": "promoted", "c2": "rejected", "c3": "rejected"}
    assert on.loc["c2", "status_reason"] == on.loc["c3", "status_reason"] == "not selected by StepM"


def test_scopes_are_all_then_each_event_type():
    plan = pd.DataFrame({"candidate_id": ["b", "a", "c"], "event_type": ["Y", "X", "X"]})
    assert scopes(plan) == [("all", ["a", "b", "c"]), ("event_type=X", ["a", "c"]),
                            ("event_type=Y", ["b"])]


def test_the_non_zero_rows_and_the_calendar_give_the_same_tests_as_the_dense_table():
    """The models read only phase2_candidate_daily's non-zero rows and its calendar."""
    plan, daily = _world(n_days=60, seed=9)
    daily.loc[daily.index % 3 == 0, "net_bps"] = 0.0          # many days without P&L
    sparse = daily.loc[daily["net_bps"] != 0]
    cal = calendar_of(daily[["block", "day"]].drop_duplicates())
    pd.testing.assert_frame_equal(grid_tests(daily, plan, FAST),
                                  grid_tests(sparse, plan, FAST, cal), check_exact=True)
    pd.testing.assert_frame_equal(candidate_snooping(daily, plan, FAST),
                                  candidate_snooping(sparse, plan, FAST, cal), check_exact=True)


def test_the_report_section_says_what_the_grid_tests_say():
    from lifthouse.run.report.inputs import ReportMeta
    from lifthouse.run.report.snooping import snooping_md

    plan, daily = _world()
    grid = grid_tests(daily, plan, FAST)
    cand = candidate_snooping(daily, plan, FAST)
    results = cand.assign(status="rejected", disc_n=40, disc_mean_bps=1.0)
    results.loc[results["candidate_id"] == "P__edge", "status"] = "promoted"
    results.loc[results["candidate_id"] == "N__c01", "status"] = "fallback"
    meta = ReportMeta(run_id="t", start_date="2025-01-01", end_date="2025-05-01", symbols=["X"],
                      vars={"snoop_alpha": 0.05, "snoop_pbo_blocks": 16,
                            "phase2_gate_snooping": False})
    md = snooping_md(grid, results, meta, "figures/pbo_logits.png")
    assert "the best of 42 candidates (42 tested), `P__edge`" in md
    assert "the grid holds a rule better than zero after costs. StepM selects 1: `P__edge`." in md
    assert "- **event_type=N**" in md and "the grid holds no rule better than zero" in md
    assert "![PBO logits](figures/pbo_logits.png)" in md
    # every promotion with its DSR, and how many survive the snooping gate
    assert "1 of the 2 promotions would survive the snooping gate" in md
    assert "| P__edge | promoted |" in md and "| N__c01 | fallback |" in md
