"""The planted sample at 5-minute bars (issue 33): which planted effects survive aggregation.

One month of the planted market (seed 7, 3 symbols, 2025-01-01 .. 01-31, written with its 5m
klines) and its null twin, each built at bar_minutes 5 (~25 s per build). What is asserted
(figures measured on this sample; the full 59-day demo's are in docs/sample_data.md, "At
5-minute bars"):

* cascades survive whole: every planted cascade is a 5m event (98 / 98; at 59 days 192 / 192),
  stamped at the 5m bar that holds c0..c3 (c3 closes on a 5-minute mark), in the planted carry
  state, and entered at the 1m open right after the planted confirming bar, as at 1m;
* Q1 (carry_pos improves LIQUIDATION_CASCADE) is "improves" at 5m and not on the null twin;
* planted vacuums do not survive: their 1m shock (5-6 sigma of 1m returns) is 1.3-3.5 sigma of
  the 5m bar that holds it, below the shock rule's 4 (0 / 83 found; 0 / 153 at 59 days); the
  vacuums the 5m detector does find are 5m shocks of at least 4 sigma of 5m returns.

Each check fails when the 5m path breaks: a detector that fires nowhere or at another bar
(cascade matching, trade timing), a carry state lost in the join, a condition filter that does
nothing (Q1 lift 0), a shock rule that forgets the sqrt(bar_minutes) scaling of the per-minute
std (it then takes 42 of the 83 planted vacuums, among 382 vacuums). Checked by mutation: the
cascade stamped one 5m bar late, `fault_ignore_condition_filter`, the shock against the
per-minute std each fail here.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from lifthouse.data.sample import generate
from lifthouse.run.config import project_vars, resolve_grain_vars
from lifthouse.run.dbt import run_dbt

pytestmark = pytest.mark.slow

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
START, END, SEED = "2025-01-01", "2025-01-31", 7
GRAIN = 5


def _vars() -> dict:
    """The project's vars at 5m as the build resolves them (vacuum_thin_minutes from
    grain_defaults)."""
    v = project_vars()
    v["bar_minutes"] = GRAIN
    return resolve_grain_vars(v)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, dict]:
    out = {}
    for name, null in (("planted", False), ("null", True)):
        base = tmp_path_factory.mktemp(f"planted5m_{name}")
        raw_dir = base / "raw"
        generate(raw_dir, seed=SEED, null=null, symbols=SYMBOLS, start=START, end=END,
                 bar_minutes=GRAIN)
        wh = base / "wh.duckdb"
        run_dbt(["build", "--select", "+lift_summary", "--exclude-resource-type", "unit_test"],
                warehouse=wh, target_dir=base / "target",
                vars={"raw_dir": str(raw_dir), "symbols": SYMBOLS, "start_date": START,
                      "end_date": END, "bar_minutes": GRAIN})
        truth = json.loads((raw_dir / "_sample" / "ground_truth.json").read_text())
        ep = pd.DataFrame(truth["episodes"])
        for c in ("start", "detected_at"):
            ep[c] = pd.to_datetime(ep[c])
        ep = ep[(ep.detected_at >= START) & (ep.detected_at < END)].reset_index(drop=True)
        with duckdb.connect(str(wh), read_only=True) as con:
            d = {"raw": raw_dir, "episodes": ep,
                 "events": con.sql("select * from event_registry where in_window").df(),
                 "questions": con.sql("select * from lift_summary where row_type = 'question'"
                                      ).df().set_index("row_key"),
                 "bar_span": con.sql("select min(close_time - open_time), "
                                     "max(close_time - open_time) from features_v1").fetchone(),
                 "features": con.sql("select symbol, open_time, zmove_5m from features_v1"
                                     ).df().set_index(["symbol", "open_time"]),
                 "trades": con.sql("select * from phase2_trades where candidate_id like "
                                   "'LIQUIDATION_CASCADE__all__h%__fade__pooled' "
                                   "and trade_status = 'traded'").df()}
        out[name] = d
    return out


def _floor(ts: pd.Series) -> pd.Series:
    return ts.dt.floor(f"{GRAIN}min")


def test_the_build_runs_on_5m_bars(builds):
    assert builds["planted"]["bar_span"] == (pd.Timedelta(minutes=5), pd.Timedelta(minutes=5))


def test_every_planted_cascade_is_a_5m_event_at_its_bar(builds):
    """c0..c3 sit in one 5m bar (c0 one minute after a 5-minute mark), so the 5m move is the
    planted 5-minute move (|z| 5.1-8.7 at 59 days against the rule's 4) and the liquidation
    burst is the same 5-minute sum as at 1m (34x and more against 10x): all are found, at the
    5m bar's open (planted detected_at - 4 minutes), and nothing else is a cascade."""
    b = builds["planted"]
    ep = b["episodes"]
    casc_ep = ep[ep.event_type == "LIQUIDATION_CASCADE"].copy()
    casc_ev = b["events"][b["events"].event_type == "LIQUIDATION_CASCADE"]
    assert len(casc_ep) >= 80                              # 98 planted in this month
    assert (casc_ep.detected_at.dt.minute % GRAIN == GRAIN - 1).all()
    casc_ep["bar"] = _floor(casc_ep.detected_at)
    m = casc_ep.merge(casc_ev, left_on=["symbol", "bar"], right_on=["symbol", "detected_at"],
                      how="left", suffixes=("", "_ev"), indicator=True)
    found = m["_merge"] == "both"
    assert found.all(), m.loc[~found, ["symbol", "detected_at"]].to_string()
    assert len(casc_ev) == len(casc_ep)                    # no cascade that was not planted
    assert set(casc_ev.evidence) == {"liquidations"}
    assert (m.direction_ev == m.direction).all()
    assert (m.episode_start == m.bar).all()
    # the state at the 5m bar's close is the state at the planted confirming minute's close
    assert (m.carry_state_ev == m.carry_state).all(), \
        m.loc[m.carry_state_ev != m.carry_state, ["symbol", "detected_at", "carry_state",
                                                   "carry_state_ev"]].to_string()


def test_cascade_trades_enter_right_after_the_planted_bar(builds):
    """Entry at the open of the 5m bar after the event = the 1m open one minute after the
    planted confirming bar (where a 1m run enters too); exit at the 1m close before entry + h."""
    b = builds["planted"]
    ep = b["episodes"]
    casc = ep[ep.event_type == "LIQUIDATION_CASCADE"].copy()
    casc["bar"] = _floor(casc.detected_at)
    t = b["trades"].merge(casc[["symbol", "bar", "detected_at"]], left_on=["symbol", "detected_at"],
                          right_on=["symbol", "bar"], suffixes=("", "_planted"))
    assert t.candidate_id.nunique() == 4 and len(t) == 4 * len(casc)
    assert (t.entry_time == t.detected_at_planted + pd.Timedelta(minutes=1)).all()
    glob = str(b["raw"] / "um_klines_1m" / "*" / "*.parquet")
    k = duckdb.sql(f"select symbol, open_time, open, close from read_parquet('{glob}', "
                   "hive_partitioning = true)").df().set_index(["symbol", "open_time"])
    entry = k.loc[list(zip(t.symbol, t.entry_time)), "open"].to_numpy()
    before_exit = t.exit_time_used - pd.Timedelta(minutes=1)
    last = k.loc[list(zip(t.symbol, before_exit)), "close"].to_numpy()
    assert np.array_equal(t.entry_price.to_numpy(), entry)
    assert np.array_equal(t.exit_price.to_numpy(), last)


def test_q1_carry_pos_improves_cascades_at_5m_and_not_on_null(builds):
    """Measured: lift +12.3 bps, CI [4.9, 20.6], 50 of 98 events (seeds 8 / 9: CI low 8.7 /
    11.5); null twin +0.5 [-4.7, 5.3]. At 59 days the 5m answer equals the 1m one: +14.48
    [8.97, 20.30] on 106 of 192 (the trades are the same)."""
    q = builds["planted"]["questions"].loc["Q1"]
    assert q.event_type == "LIQUIDATION_CASCADE" and q.condition == "carry_pos"
    assert q.verdict == "improves", q.verdict_reason
    assert q.lift_ci_low > 0
    assert 0 < q.n_cond < q.n_twin                          # the condition filters
    n = builds["null"]["questions"].loc["Q1"]
    assert n.verdict in ("inconclusive", "hurts"), n.verdict_reason


def test_planted_vacuums_do_not_survive_and_5m_vacuums_are_5m_shocks(builds):
    b = builds["planted"]
    thin = int(_vars()["vacuum_thin_minutes"])
    shock_min = float(_vars()["vacuum_shock_sigma"])
    vac_ev = b["events"][b["events"].event_type == "liquidity_vacuum"]
    # the detector fires at 5m (63 in this month) on the shape of its rule
    assert len(vac_ev) >= 20
    assert (vac_ev.detected_at - vac_ev.episode_start == pd.Timedelta(minutes=thin)).all()
    assert (vac_ev.trigger_value >= shock_min).all()
    # the shock is measured against the std of 5m returns: at 5m a bar's |zmove_5m| (its own
    # return over ret_std_24h x sqrt(5)) is the same number
    z = b["features"].loc[list(zip(vac_ev.symbol, vac_ev.episode_start)), "zmove_5m"].abs()
    np.testing.assert_allclose(vac_ev.trigger_value.to_numpy(), z.to_numpy(), rtol=1e-9)
    # planted vacuums: the 5m bar holding the 1m shock stays below the shock rule, so none is
    # an event (with a per-minute std the rule would take them)
    vac_ep = b["episodes"][b["episodes"].event_type == "liquidity_vacuum"].copy()
    assert len(vac_ep) >= 60                               # 83 planted in this month
    vac_ep["bar"] = _floor(vac_ep.start)
    z_ep = b["features"].loc[list(zip(vac_ep.symbol, vac_ep.bar)), "zmove_5m"].abs()
    assert (z_ep < shock_min).all(), z_ep.max()
    hit = set(zip(vac_ev.symbol, vac_ev.episode_start))
    assert not any(k in hit for k in zip(vac_ep.symbol, vac_ep.bar))
