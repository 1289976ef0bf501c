"""Sanity checks of the ablation (SPEC 9) on synthetic greedy backtests (see test_lift.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifthouse.research.lift import candidate_lift
from lifthouse.research.params import LiftParams
from lifthouse.research.rollups import rollups
from lifthouse.research.sanity import partition_checks, sanity_checks
from test_lift import backtest, make_events, make_plan, make_world, null_gross


def _partition(plan, trades):
    return pd.DataFrame(partition_checks(plan, trades))


def test_partition_bounds_pass_on_correct_greedy_selection():
    # many overlaps (h=60, dense events) so that the bounds are not trivially tight
    plan, trades, _ = make_world(per_day=12, seed=21, warmup_share=0.1)
    assert (trades["trade_status"] == "skipped_overlap").sum() > 50
    p = _partition(plan, trades)
    assert len(p) == 4 * 3          # 4 twins (2 horizons x 2 rules) x (vol, carry, vol_x_carry)
    assert p["ok"].astype(bool).all(), p.loc[~p["ok"].astype(bool)]
    # the bound is informative: some twin has a strictly wider upper bound
    lo_hi = p["expected"].str.strip("[]").str.split(", ", expand=True).astype(int)
    assert (lo_hi[1] > lo_hi[0]).any()


def test_partition_bounds_fail_on_do_nothing_filter():
    plan, trades, _ = make_world(per_day=12, seed=21, broken_filter=True)
    p = _partition(plan, trades)
    assert not p["ok"].astype(bool).any()
    assert p["detail"].str.contains("ABOVE").all()


def test_partition_bounds_catch_a_lost_state():
    plan, trades, _ = make_world(seed=22)
    lost = trades["candidate_id"].str.contains("__vol_mid__")
    p = _partition(plan, trades.loc[~lost])
    vol = p.loc[p["scope"].str.endswith("|vol")]
    assert not vol["ok"].astype(bool).any()
    assert p.loc[p["scope"].str.endswith("|carry"), "ok"].astype(bool).all()


def test_incomplete_partition_is_not_evaluated():
    plan, trades, _ = make_world(seed=23)
    plan = plan.loc[plan["condition"] != "carry_neg"]
    p = _partition(plan, trades.loc[trades["candidate_id"].isin(plan["candidate_id"])])
    carry = p.loc[p["scope"].str.endswith("|carry")]
    assert carry["ok"].isna().all() and carry["detail"].str.startswith("not evaluated").all()


def test_sanity_frame_on_correct_world_is_all_ok():
    plan, trades, _ = make_world(seed=24)
    lift = candidate_lift(plan, trades, LiftParams(n_boot=100))
    roll = rollups(plan, trades, LiftParams(n_boot=100))
    s = sanity_checks(plan, trades, lift, roll)
    assert list(s.columns) == ["check", "scope", "value", "expected", "ok", "detail"]
    evaluated = s.loc[s["ok"].notna()]
    assert evaluated["ok"].astype(bool).all(), evaluated.loc[~evaluated["ok"].astype(bool)]
    assert {"partition_bounds", "condition_filter", "cond_events_in_twin",
            "zero_lift_event_type", "lift_needs_both_sides", "zero_lift_rollup",
            "events_per_symbol", "trades_per_symbol", "skipped_overlap_per_symbol"} <= set(s["check"])
    assert not s.duplicated(["check", "scope"]).any()


def test_counts_per_symbol_match_trades():
    ev = make_events(seed=25)
    plan = make_plan(scopes=("BTCUSDT", "ETHUSDT", "pooled"), combos=False)
    trades = backtest(plan, ev, null_gross)
    s = sanity_checks(plan, trades, candidate_lift(plan, trades, LiftParams(n_boot=50)))
    s = s.set_index(["check", "scope"])
    for sym in ("BTCUSDT", "ETHUSDT"):
        assert s.loc[("events_per_symbol", f"{sym}|EVT"), "value"] == (ev["symbol"] == sym).sum()
        u = trades.loc[trades["candidate_id"].str.contains(f"__all__.*__{sym}$")]
        assert s.loc[("trades_per_symbol", f"{sym}|EVT"), "value"] == \
            (u["trade_status"] == "traded").sum()
        assert s.loc[("skipped_overlap_per_symbol", f"{sym}|EVT"), "value"] == \
            (u["trade_status"] == "skipped_overlap").sum() > 0


def test_lift_without_data_is_flagged():
    plan, trades, _ = make_world(seed=26)
    lift = candidate_lift(plan, trades, LiftParams(n_boot=50))
    bad = lift.copy()
    bad.loc[0, ["n_twin", "lift_bps"]] = [0, 0.0]      # a comparison that fell back to 0
    s = sanity_checks(plan, trades, bad).set_index(["check", "scope"])
    assert s.loc[("lift_needs_both_sides", "all"), "ok"] == False  # noqa: E712
    assert np.isfinite(s.loc[("lift_needs_both_sides", "all"), "value"])


def test_sorted_contains_is_isin():
    from lifthouse.research.sanity import _sorted_contains

    rng = np.random.default_rng(0)
    for n, m in [(0, 5), (1, 5), (50, 300), (5000, 20000)]:
        universe = np.unique(rng.integers(-5, 3 * n + 5, n))
        values = rng.integers(-10, 3 * n + 10, m)
        assert np.array_equal(_sorted_contains(universe, values), np.isin(values, universe))
