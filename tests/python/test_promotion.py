"""Promotion gates, statuses and the fallback rule (lifthouse.research.promotion, SPEC 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifthouse.research.promotion import fallback_rates
from lifthouse.research.promotion import Gates, apply_gates, build_candidate_results

GOOD = {"disc_n": 50, "disc_mean_bps": 5.0, "q_bh": 0.01, "q_by": 0.05, "hold_n": 20,
        "hold_mean_bps": 3.0, "disc_lift_ci_low": 1.0, "hold_lift_bps": 2.0}


def row(cid: str, family: str, conditioned: bool, **over) -> dict:
    r = {"candidate_id": cid, "family_id": family, "is_conditioned": conditioned, **GOOD}
    if not conditioned:
        r["disc_lift_ci_low"] = r["hold_lift_bps"] = np.nan
    r.update(over)
    return r


def run(rows, gates=Gates()) -> pd.DataFrame:
    return apply_gates(pd.DataFrame(rows), gates).set_index("candidate_id")


def test_each_gate_decides_in_order():
    out = run([
        row("min_n", "f1", True, disc_n=29, disc_mean_bps=-1.0, q_bh=0.9),
        row("mean", "f1", True, disc_mean_bps=0.0, q_bh=0.9, hold_mean_bps=-1),
        row("q", "f1", True, q_bh=0.1000001, hold_mean_bps=-1),
        row("q_nan", "f1", True, q_bh=np.nan),
        row("hold", "f1", True, hold_mean_bps=-0.1),
        row("hold_empty", "f1", True, hold_n=0, hold_mean_bps=np.nan),
        row("lift", "f1", True, disc_lift_ci_low=0.0),
        row("lift_missing", "f1", True, disc_lift_ci_low=np.nan),
        row("edge", "f2", True, disc_n=30, q_bh=0.10),  # gates are inclusive at the bounds
    ])
    assert out.loc["min_n", ["status", "status_reason"]].tolist() == ["insufficient_data", "min_n"]
    assert out.loc["mean", ["status", "status_reason"]].tolist() == ["rejected", "mean<=0"]
    assert out.loc["q", ["status", "status_reason"]].tolist() == ["rejected", "q>0.1"]
    assert out.loc["q_nan", "status_reason"] == "q>0.1"
    assert out.loc["hold", ["status", "status_reason"]].tolist() == ["rejected", "holdout<=0"]
    assert out.loc["hold_empty", "status_reason"] == "holdout n=0"
    assert out.loc["lift", ["status", "status_reason"]].tolist() == ["rejected", "lift_ci"]
    assert out.loc["lift_missing", "status_reason"].startswith("lift_ci")
    assert bool(out.loc["lift", "passes_gates"]) and not bool(out.loc["hold", "passes_gates"])
    assert out.loc["edge", "status"] == "promoted"
    gates = out.loc["q", ["gate_min_n", "gate_mean_pos", "gate_q", "gate_holdout"]].tolist()
    assert gates == [True, True, False, False]


def test_promoted_conditioned_supersedes_twin():
    out = run([row("twin", "fam", False), row("cond_a", "fam", True),
               row("cond_b", "fam", True, disc_lift_ci_low=-2.0)])
    assert out.loc["cond_a", "status"] == "promoted"
    assert out.loc["cond_b", ["status", "status_reason"]].tolist() == ["rejected", "lift_ci"]
    assert out.loc["twin", ["status", "status_reason"]].tolist() == [
        "rejected", "superseded by conditioned variant"]
    assert bool(out.loc["twin", "passes_gates"])


def test_fallback_when_no_conditioned_variant_promoted():
    out = run([
        row("twin1", "fam1", False), row("c1", "fam1", True, disc_lift_ci_low=-1.0),
        row("c2", "fam1", True, q_bh=0.5),
        row("twin2", "fam2", False, hold_mean_bps=-1.0), row("c3", "fam2", True, disc_n=3),
        row("twin3", "fam3", False),                        # no conditioned rows at all
    ])
    assert out.loc["twin1", ["status", "status_reason"]].tolist() == [
        "fallback", "passes gates; no conditioned variant promoted"]
    assert out.loc["twin2", ["status", "status_reason"]].tolist() == ["rejected", "holdout<=0"]
    assert out.loc["c3", "status"] == "insufficient_data"
    assert out.loc["twin3", "status"] == "fallback"
    # the lift gate never applies to the unconditioned twin
    assert np.isnan(out.loc["twin1", "disc_lift_ci_low"])


def test_q_column_and_levels_are_configurable():
    rows = [row("c", "f", True, q_bh=0.04, q_by=0.2)]
    assert run(rows).loc["c", "status"] == "promoted"
    strict = run(rows, Gates(phase2_q_column="q_by"))
    assert strict.loc["c", ["status", "status_reason"]].tolist() == ["rejected", "q>0.1"]
    assert run(rows, Gates(phase2_q_max=0.01)).loc["c", "status_reason"] == "q>0.01"
    assert run(rows, Gates(phase2_min_trades=60)).loc["c", "status"] == "insufficient_data"


def test_every_candidate_gets_exactly_one_status():
    rng = np.random.default_rng(0)
    rows = []
    for f in range(40):
        for c in range(4):
            rows.append(row(f"f{f}c{c}", f"f{f}", c > 0,
                            disc_n=int(rng.integers(0, 80)),
                            disc_mean_bps=float(rng.normal(1, 3)),
                            q_bh=float(rng.uniform(0, 0.3)),
                            hold_n=int(rng.integers(0, 30)),
                            hold_mean_bps=float(rng.normal(1, 3)),
                            disc_lift_ci_low=float(rng.normal(0, 1)) if c > 0 else np.nan))
    out = run(rows)
    assert out.status.isin(["promoted", "fallback", "rejected", "insufficient_data"]).all()
    assert (out.status_reason != "").all()
    fam = out.groupby("family_id")
    # a family never has both a promoted conditioned rule and a fallback
    both = fam.status.apply(lambda s: {"promoted", "fallback"} <= set(s))
    assert not both.any()
    # fallback only on unconditioned rows; promoted only on conditioned rows
    assert not out.loc[out.status == "fallback", "is_conditioned"].any()
    assert out.loc[out.status == "promoted", "is_conditioned"].all()
    assert ((out.status == "insufficient_data") == (out.disc_n < 30)).all()
    assert {"promoted", "fallback", "rejected", "insufficient_data"} == set(out.status)


def test_fallback_rate():
    out = run([row("t1", "f1", False), row("c1", "f1", True, q_bh=0.5),      # fallback
               row("t2", "f2", False), row("c2", "f2", True), row("c3", "f2", True),  # 2 prom
               row("t3", "f3", False, disc_n=1)]).reset_index()
    out["event_type"] = ["A", "A", "B", "B", "B", "A"]
    # the one implementation of the rate (lift_summary's fallback_rate rows) on the statuses
    # apply_gates gives: the superseded twin t2 is neither a promotion nor a fallback
    fb = fallback_rates(out).set_index("scope")
    fr = fb.loc["all"]
    assert (fr.n_promoted, fr.n_fallback, fr.n_promotions) == (2, 1, 3)
    assert fr.fallback_rate == pytest.approx(1 / 3)
    assert (fr.n_families_promoted, fr.n_families_fallback) == (1, 1)
    assert fr.fallback_rate_families == pytest.approx(1 / 2)
    assert fb.loc["event_type=A", "fallback_rate"] == 1.0
    assert fb.loc["event_type=B", "fallback_rate"] == 0.0


def test_build_candidate_results_joins_lift():
    plan = pd.DataFrame({"candidate_id": ["t", "c"], "family_id": ["f", "f"],
                         "is_conditioned": [False, True]})
    stats = pd.DataFrame([{**GOOD, "candidate_id": "t"}, {**GOOD, "candidate_id": "c"}]
                         ).drop(columns=["disc_lift_ci_low", "hold_lift_bps"])
    # an all-blocks CI above 0 but a discovery CI below: not promoted
    lift = pd.DataFrame({"candidate_id": ["c"], "lift_bps": [3.0], "lift_ci_low": [0.5],
                         "lift_ci_high": [6.0], "disc_lift_ci_low": [-0.5], "n_cond": [50],
                         "hold_lift_bps": [4.0]})
    out = build_candidate_results(plan, stats, lift, Gates()).set_index("candidate_id")
    assert out.loc["c", "lift_bps"] == 3.0 and np.isnan(out.loc["t", "lift_bps"])
    assert out.loc["c", "status_reason"] == "lift_ci"
    assert out.loc["t", "status"] == "fallback"
    assert "n_cond" not in out.columns
    no_lift = build_candidate_results(plan, stats, None, Gates()).set_index("candidate_id")
    assert no_lift.loc["c", "status_reason"] == "lift_ci (no lift row)"


def test_promotion_lift_is_the_discovery_lift_and_holdout_lift_replicates():
    """SPEC 7: the lift CI that promotes is the discovery block's; an all-blocks CI above 0
    (which includes the holdout) does not promote, and the holdout lift must replicate."""
    out = run([
        row("disc_only_fails", "f1", True, lift_ci_low=5.0, disc_lift_ci_low=-1.0),
        row("hold_lift_neg", "f2", True, hold_lift_bps=-0.5),
        row("hold_lift_zero", "f3", True, hold_lift_bps=0.0),
        row("hold_lift_nan", "f4", True, hold_lift_bps=np.nan),
        row("ok", "f5", True),
    ])
    assert out.loc["disc_only_fails", ["status", "status_reason"]].tolist() == [
        "rejected", "lift_ci"]
    assert out.loc["hold_lift_neg", ["status", "status_reason"]].tolist() == [
        "rejected", "holdout_lift<=0"]
    assert out.loc["hold_lift_zero", "status"] == "rejected"
    assert out.loc["hold_lift_nan", "status"] == "rejected"
    assert out.loc["ok", ["status", "status_reason"]].tolist() == [
        "promoted", "passes gates; discovery lift CI > 0; holdout lift > 0"]
    # the gate var: a looser replication threshold admits the negative holdout lift
    loose = run([row("hold_lift_neg", "f2", True, hold_lift_bps=-0.5)],
                Gates(phase2_holdout_lift_min_bps=-1.0))
    assert loose.loc["hold_lift_neg", "status"] == "promoted"
