"""Phase 2 backtest kernel (lifthouse.research.backtest) on hand-built markets (SPEC 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifthouse.research.backtest import Costs, run_backtest
from lifthouse.research.split import Split, assign_block
from lifthouse.research.stats import candidate_statistics

T0 = pd.Timestamp("2025-01-01 00:00")
MIN = pd.Timedelta(minutes=1)
NO_COSTS = Costs(0.0, 0.0)


def make_bars(symbol: str = "BTCUSDT", n: int = 600, base: float = 100.0,
              gaps: tuple[int, ...] = ()) -> pd.DataFrame:
    """Bar i opens at base + i and closes at base + i + 0.5, so every price names its bar and
    whether it is an open or a close."""
    i = np.arange(n)
    bars = pd.DataFrame({
        "symbol": symbol, "open_time": T0 + i * MIN,
        "open": base + i, "close": base + i + 0.5, "is_gap": False,
    })
    for g in gaps:
        bars.loc[g, ["open", "close"]] = np.nan
        bars.loc[g, "is_gap"] = True
    return bars


def ev(i: int, minute: int, symbol: str = "BTCUSDT", direction: int = 1,
       event_type: str = "LIQUIDATION_CASCADE", vol: str = "vol_high",
       carry: str = "carry_pos", in_window: bool = True) -> dict:
    return {"event_id": f"e{i}", "event_type": event_type, "symbol": symbol,
            "detected_at": T0 + minute * MIN, "direction": direction, "vol_regime": vol,
            "carry_state": carry, "in_window": in_window}


def cand(horizon: int = 5, rule: str = "follow", scope: str = "BTCUSDT",
         vol: str | None = None, carry: str | None = None,
         event_type: str = "LIQUIDATION_CASCADE", cid: str | None = None) -> dict:
    cond = "_x_".join(x for x in (vol, carry) if x) or "all"
    return {"candidate_id": cid or f"{event_type}__{cond}__h{horizon}__{rule}__{scope}",
            "event_type": event_type, "vol_condition": vol, "carry_condition": carry,
            "horizon_min": horizon, "direction_rule": rule, "symbol_scope": scope}


def no_funding() -> pd.DataFrame:
    return pd.DataFrame({"symbol": pd.Series(dtype=object),
                         "funding_time": pd.Series(dtype="datetime64[us]"),
                         "funding_rate": pd.Series(dtype=float)})


SPLIT = Split(T0, T0 + 600 * MIN, phase2_discovery_fraction=0.5, phase2_embargo_minutes=60)


def bt(events, candidates, bars=None, funding=None, costs=NO_COSTS, split=SPLIT):
    return run_backtest(pd.DataFrame(events), make_bars() if bars is None else bars,
                        no_funding() if funding is None else funding,
                        pd.DataFrame(candidates), costs, split)


def test_entry_at_next_open_exit_at_horizon_last_close():
    tr = bt([ev(1, 10)], [cand(horizon=5), cand(horizon=60)]).set_index("candidate_id")
    h5 = tr.loc["LIQUIDATION_CASCADE__all__h5__follow__BTCUSDT"]
    assert h5.trade_status == "traded"
    assert h5.entry_time == T0 + 11 * MIN
    assert h5.entry_price == 100 + 11          # open of bar 11, not bar 10's close
    assert h5.exit_time == T0 + 16 * MIN
    assert h5.exit_price == 100 + 15 + 0.5     # close of bar 15 = entry + (h-1)
    assert h5.gross_bps == pytest.approx((115.5 / 111 - 1) * 1e4)
    h60 = tr.loc["LIQUIDATION_CASCADE__all__h60__follow__BTCUSDT"]
    assert h60.exit_price == 100 + 70 + 0.5
    assert h60.exit_time == T0 + 71 * MIN


def test_fees_and_slippage_on_both_legs():
    tr = bt([ev(1, 10)], [cand()], costs=Costs(phase2_fee_bps_per_side=2.0, phase2_slippage_bps_per_side=0.7))
    row = tr.iloc[0]
    assert row.fee_bps == pytest.approx(4.0)
    assert row.slippage_bps == pytest.approx(1.4)
    assert row.net_bps == pytest.approx(row.gross_bps - 4.0 - 1.4)


def test_follow_vs_fade_sign():
    tr = bt([ev(1, 10, direction=-1)], [cand(rule="follow"), cand(rule="fade")],
            costs=Costs(1.0, 1.0)).set_index("candidate_id")
    follow = tr.loc["LIQUIDATION_CASCADE__all__h5__follow__BTCUSDT"]
    fade = tr.loc["LIQUIDATION_CASCADE__all__h5__fade__BTCUSDT"]
    assert follow.side == -1 and fade.side == 1          # down event: follow = short
    assert follow.gross_bps < 0 < fade.gross_bps          # prices rise in make_bars
    assert follow.gross_bps == pytest.approx(-fade.gross_bps)
    assert follow.net_bps == pytest.approx(follow.gross_bps - 4.0)
    assert fade.net_bps == pytest.approx(fade.gross_bps - 4.0)


def test_funding_long_pays_short_receives_only_inside_entry_exit():
    # entry 00:11, exit 00:71 (=01:11) for h=60
    funding = pd.DataFrame({
        "symbol": "BTCUSDT",
        "funding_time": [T0 + 11 * MIN,      # == entry_time: not spanned
                         T0 + 30 * MIN,      # inside
                         T0 + 71 * MIN,      # == exit_time: the position closed at this close
                                             # before the settlement: not paid
                         T0 + 72 * MIN],     # after exit
        "funding_rate": [0.05, 0.0003, 0.0002, 0.07],
    })
    tr = bt([ev(1, 10, direction=1)],
            [cand(horizon=60, rule="follow"), cand(horizon=60, rule="fade")],
            funding=funding).set_index("candidate_id")
    long = tr.loc["LIQUIDATION_CASCADE__all__h60__follow__BTCUSDT"]
    short = tr.loc["LIQUIDATION_CASCADE__all__h60__fade__BTCUSDT"]
    assert long.side == 1 and short.side == -1
    assert long.n_settlements == 1 and short.n_settlements == 1
    assert long.funding_bps == pytest.approx(3.0)     # pays 3 bp
    assert short.funding_bps == pytest.approx(-3.0)   # receives
    assert long.net_bps == pytest.approx(long.gross_bps - 3.0)
    assert short.net_bps == pytest.approx(short.gross_bps + 3.0)


def test_funding_of_other_symbol_is_ignored():
    funding = pd.DataFrame({"symbol": ["ETHUSDT"], "funding_time": [T0 + 30 * MIN],
                            "funding_rate": [0.001]})
    tr = bt([ev(1, 10)], [cand(horizon=60)], funding=funding)
    assert tr.iloc[0].funding_bps == 0.0 and tr.iloc[0].n_settlements == 0


def test_overlapping_events_skipped_and_counted():
    # h=15: e1 detected 10 -> exit 26. e2 at 12 (overlap), e3 at 25 (overlap: 25 < 26),
    # e4 at 26 (not < exit: trades, entry 27), e5 at 30 (overlap with e4).
    events = [ev(1, 10), ev(2, 12), ev(3, 25), ev(4, 26), ev(5, 30)]
    tr = bt(events, [cand(horizon=15)]).set_index("event_id")
    assert tr.trade_status.to_dict() == {"e1": "traded", "e2": "skipped_overlap",
                                         "e3": "skipped_overlap", "e4": "traded",
                                         "e5": "skipped_overlap"}
    assert tr.loc[["e2", "e3", "e5"], "net_bps"].isna().all()
    # a shorter horizon leaves e3 and e5 free
    tr5 = bt(events, [cand(horizon=5)]).set_index("event_id")
    assert tr5.trade_status.to_dict() == {"e1": "traded", "e2": "skipped_overlap",
                                          "e3": "traded", "e4": "skipped_overlap",
                                          "e5": "skipped_overlap"}
    stats = candidate_statistics(pd.DataFrame([cand(horizon=15)]), bt(events, [cand(horizon=15)]),
                                 SPLIT.block_days()).iloc[0]
    assert stats.n_events == 5 and stats.n_trades == 2 and stats.n_skipped_overlap == 3


def test_trade_past_data_end_dropped_and_counted():
    # 600 bars: the last bar opens at minute 599, data ends at 600. h=15 from detection 585
    # exits at 601 > 600 -> dropped; detection 584 exits exactly at 600 -> traded.
    events = [ev(1, 584), ev(2, 599), ev(3, 585, symbol="ETHUSDT")]
    bars = pd.concat([make_bars(), make_bars("ETHUSDT")], ignore_index=True)
    tr = bt(events, [cand(horizon=15), cand(horizon=15, scope="ETHUSDT")], bars=bars)
    st = tr.set_index("event_id").trade_status.to_dict()
    assert st == {"e1": "traded", "e2": "skipped_overlap", "e3": "dropped_past_end"}
    assert tr.set_index("event_id").loc["e1", "exit_price"] == 100 + 599 + 0.5
    stats = candidate_statistics(pd.DataFrame([cand(horizon=15, scope="ETHUSDT")]), tr,
                                 SPLIT.block_days()).iloc[0]
    assert stats.n_dropped_past_end == 1 and stats.n_trades == 0


def test_missing_entry_bar_drops_and_does_not_block():
    # bar 11 is a gap: e1 (entry bar 11) dropped_gap and opens no position, so e2 trades
    # (known at entry). e3's exit bar (40 + 5 = bar 45) is a gap: it is held to bar 46.
    tr = bt([ev(1, 10), ev(2, 12), ev(3, 40)], [cand(horizon=5)],
            bars=make_bars(gaps=(11, 45)))
    assert tr.set_index("event_id").trade_status.to_dict() == {
        "e1": "dropped_gap", "e2": "traded", "e3": "traded"}
    assert tr.set_index("event_id").loc["e3", "exit_price"] == 100 + 46 + 0.5
    # a bar absent from the frame (not just flagged) is a gap too
    bars = make_bars().drop(index=[11]).reset_index(drop=True)
    tr2 = bt([ev(1, 10)], [cand(horizon=5)], bars=bars)
    assert tr2.iloc[0].trade_status == "dropped_gap"


def test_condition_filter_and_warmup_never_matches():
    events = [ev(1, 10, vol="vol_high", carry="carry_pos"),
              ev(2, 100, vol="vol_low", carry="carry_pos"),
              ev(3, 200, vol="warmup", carry="carry_pos"),
              ev(4, 300, vol="vol_high", carry="warmup"),
              ev(5, 400, vol="vol_high", carry="carry_neg"),
              ev(6, 450, vol="vol_high", carry="carry_pos", in_window=False)]
    cands = [cand(), cand(vol="vol_high"), cand(carry="carry_pos"),
             cand(vol="vol_high", carry="carry_pos"), cand(vol="vol_low", carry="carry_neg")]
    tr = bt(events, cands)
    got = tr.groupby("candidate_id").event_id.apply(lambda s: sorted(s)).to_dict()
    # the unconditioned rule takes every in-window event, warm-up states included
    assert got["LIQUIDATION_CASCADE__all__h5__follow__BTCUSDT"] == ["e1", "e2", "e3", "e4", "e5"]
    assert got["LIQUIDATION_CASCADE__vol_high__h5__follow__BTCUSDT"] == ["e1", "e4", "e5"]
    assert got["LIQUIDATION_CASCADE__carry_pos__h5__follow__BTCUSDT"] == ["e1", "e2", "e3"]
    assert got["LIQUIDATION_CASCADE__vol_high_x_carry_pos__h5__follow__BTCUSDT"] == ["e1"]
    assert "LIQUIDATION_CASCADE__vol_low_x_carry_neg__h5__follow__BTCUSDT" not in got
    # no candidate ever trades a warm-up state under a condition on that dimension
    cond_rows = tr.merge(pd.DataFrame(cands), on="candidate_id")
    assert not ((cond_rows.vol_condition.notna()) & (cond_rows.vol_regime == "warmup")).any()
    assert not ((cond_rows.carry_condition.notna()) & (cond_rows.carry_state == "warmup")).any()


def test_event_type_and_symbol_scope_filter_and_pooled_union():
    bars = pd.concat([make_bars(), make_bars("ETHUSDT", base=1000.0)], ignore_index=True)
    events = [ev(1, 10), ev(2, 10, symbol="ETHUSDT"), ev(3, 12, symbol="ETHUSDT"),
              ev(4, 50, event_type="liquidity_vacuum")]
    cands = [cand(horizon=15), cand(horizon=15, scope="ETHUSDT"),
             cand(horizon=15, scope="pooled")]
    tr = bt(events, cands, bars=bars)
    pooled = tr[tr.candidate_id.str.endswith("pooled")].set_index("event_id")
    # simultaneous events on two symbols both trade: one position per candidate AND symbol
    assert pooled.trade_status.to_dict() == {"e1": "traded", "e2": "traded",
                                             "e3": "skipped_overlap"}
    per_symbol = tr[~tr.candidate_id.str.endswith("pooled")].set_index("event_id")
    cols = ["trade_status", "side", "entry_price", "exit_price", "net_bps"]
    pd.testing.assert_frame_equal(pooled[cols].sort_index(), per_symbol[cols].sort_index())
    assert "e4" not in tr.event_id.values


def test_explicit_scope_symbols_restricts_pooled():
    bars = pd.concat([make_bars(), make_bars("ETHUSDT")], ignore_index=True)
    c = cand(scope="pooled")
    c["scope_symbols"] = "ETHUSDT"
    tr = bt([ev(1, 10), ev(2, 20, symbol="ETHUSDT")], [c], bars=bars)
    assert tr.event_id.tolist() == ["e2"]


def test_block_assignment_with_embargo():
    # window 600 min, discovery 50% -> [0, 300), embargo 60 -> [300, 360), holdout [360, 600)
    split = Split(T0, T0 + 600 * MIN, phase2_discovery_fraction=0.5, phase2_embargo_minutes=60)
    entries = pd.DatetimeIndex(T0 + np.array([0, 299, 300, 359, 360, 599]) * MIN)
    blocks = assign_block(entries.to_numpy("datetime64[us]").astype(np.int64), split)
    assert blocks.tolist() == ["discovery", "discovery", "embargo", "embargo",
                               "holdout", "holdout"]
    assert split.block_days() == pytest.approx({"discovery": 300 / 1440, "embargo": 60 / 1440,
                                                "holdout": 240 / 1440})
    # blocks follow entry_time (= detected_at + 1 min), not detection
    tr = bt([ev(1, 298), ev(2, 299), ev(3, 359)], [cand(horizon=1)], split=split)
    assert tr.set_index("event_id").block.to_dict() == {"e1": "discovery", "e2": "embargo",
                                                        "e3": "holdout"}
    # with embargo >= the longest horizon no discovery trade exits inside the holdout
    d = tr[tr.block == "discovery"]
    assert (d.exit_time <= T0 + 360 * MIN).all()


def test_out_of_window_events_never_traded_and_empty_inputs():
    tr = bt([ev(1, 10, in_window=False)], [cand()])
    assert len(tr) == 0 and "net_bps" in tr.columns
    assert len(bt([ev(1, 10)], [cand(event_type="liquidity_vacuum")])) == 0


# --------------------------------------------------------------------------------------------
# randomised comparison with a straightforward loop implementation


def reference_backtest(events, bars, funding, cands, costs, split):
    """Plain loop reference: one candidate, one symbol, one event at a time."""
    px = {(r.symbol, r.open_time): (r.open, r.close) for r in bars.itertuples()
          if not r.is_gap}
    end = bars.groupby("symbol").open_time.max() + MIN
    rows = []
    start, stop = split.start_date, split.end_date
    disc_end = start + (stop - start) * split.phase2_discovery_fraction
    hold_start = disc_end + pd.Timedelta(minutes=split.phase2_embargo_minutes)
    for c in cands.itertuples():
        mult = 1 if c.direction_rule == "follow" else -1
        syms = sorted(events.symbol.unique()) if c.symbol_scope == "pooled" else [c.symbol_scope]
        for s in syms:
            m = events[(events.event_type == c.event_type) & (events.symbol == s)
                       & events.in_window]
            if pd.notna(c.vol_condition):
                m = m[m.vol_regime == c.vol_condition]
            if pd.notna(c.carry_condition):
                m = m[m.carry_state == c.carry_condition]
            busy_until = pd.Timestamp.min
            for e in m.sort_values("detected_at").itertuples():
                entry = e.detected_at + MIN
                exit_ = entry + c.horizon_min * MIN
                exit_bar = exit_ - MIN  # held through missing bars to the first one that exists
                while exit_bar < end[s] and (s, exit_bar) not in px:
                    exit_bar += MIN
                side = e.direction * mult
                net = np.nan
                if e.detected_at < busy_until:
                    status = "skipped_overlap"
                elif exit_ > end[s] or exit_bar >= end[s]:
                    status = "dropped_past_end"
                elif (s, entry) not in px:
                    status = "dropped_gap"
                else:
                    status = "traded"
                    busy_until = exit_bar + MIN
                    gross = side * (px[(s, exit_bar)][1] / px[(s, entry)][0] - 1) * 1e4
                    f = funding[(funding.symbol == s) & (funding.funding_time > entry)
                                & (funding.funding_time < exit_bar + MIN)]
                    net = (gross - 2 * costs.phase2_fee_bps_per_side - 2 * costs.phase2_slippage_bps_per_side
                           - side * f.funding_rate.sum() * 1e4)
                block = ("discovery" if entry < disc_end else
                         "embargo" if entry < hold_start else "holdout")
                rows.append((c.candidate_id, e.event_id, status, side, net, block))
    return pd.DataFrame(rows, columns=["candidate_id", "event_id", "trade_status", "side",
                                       "net_bps", "block"])


def test_matches_reference_loop_on_random_market():
    rng = np.random.default_rng(7)
    symbols = ["BTCUSDT", "ETHUSDT"]
    n = 3000
    bars = []
    for k, s in enumerate(symbols):
        close = 100 * (k + 1) * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
        b = pd.DataFrame({"symbol": s, "open_time": T0 + np.arange(n) * MIN,
                          "open": close * np.exp(rng.normal(0, 2e-4, n)), "close": close,
                          "is_gap": False})
        gap = rng.choice(n, 30, replace=False)
        b.loc[gap, ["open", "close"]] = np.nan
        b.loc[gap, "is_gap"] = True
        bars.append(b)
    bars = pd.concat(bars, ignore_index=True)
    funding = pd.DataFrame({
        "symbol": np.repeat(symbols, 6),
        "funding_time": list(T0 + np.arange(1, 7) * 480 * MIN + pd.Timedelta(milliseconds=3)) * 2,
        "funding_rate": rng.normal(1e-4, 3e-4, 12)})
    m = 120
    events = pd.DataFrame({
        "event_id": [f"e{i:03d}" for i in range(m)],
        "event_type": rng.choice(["A", "B"], m),
        "symbol": rng.choice(symbols, m),
        "detected_at": T0 + np.sort(rng.choice(n + 20, m, replace=False)) * MIN,
        "direction": rng.choice([-1, 1], m),
        "vol_regime": rng.choice(["vol_low", "vol_high", "warmup"], m),
        "carry_state": rng.choice(["carry_pos", "carry_neg", "warmup"], m),
        "in_window": rng.random(m) > 0.1,
    })
    cands = pd.DataFrame([cand(horizon=h, rule=r, scope=sc, vol=v, carry=cy, event_type=et)
                          for et in ["A", "B"] for h in [1, 15, 240] for r in ["follow", "fade"]
                          for sc in [*symbols, "pooled"]
                          for v, cy in [(None, None), ("vol_high", None), (None, "carry_neg"),
                                        ("vol_low", "carry_pos")]])
    split = Split(T0, T0 + n * MIN, phase2_discovery_fraction=0.6, phase2_embargo_minutes=240)
    costs = Costs(4.5, 1.5)
    got = run_backtest(events, bars, funding, cands, costs, split)
    ref = reference_backtest(events, bars, funding, cands, costs, split)
    key = ["candidate_id", "event_id"]
    merged = got.merge(ref, on=key, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert len(merged) == len(ref) > 1000
    assert (merged.trade_status == merged.trade_status_ref).all()
    assert set(merged.trade_status) == {"traded", "skipped_overlap", "dropped_past_end",
                                        "dropped_gap"}
    assert (merged.side == merged.side_ref).all()
    assert (merged.block == merged.block_ref).all()
    np.testing.assert_allclose(merged.net_bps, merged.net_bps_ref, rtol=1e-9, atol=1e-9)


def test_deterministic_output():
    rng = np.random.default_rng(3)
    events = [ev(i, int(t), direction=int(d)) for i, (t, d) in
              enumerate(zip(np.sort(rng.choice(550, 40, replace=False)), rng.choice([-1, 1], 40)))]
    cands = [cand(horizon=h, rule=r) for h in (5, 15) for r in ("follow", "fade")]
    a = bt(events, cands)
    b = bt(list(reversed(events)), list(reversed(cands)))
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------------------------
# the fate of a trade is decided at its entry (SPEC 2, 6)


def test_missing_exit_bar_holds_through_and_blocks_later_events():
    # event A at 00:00, h=60: entry 00:01, horizon's last bar opens 01:00 and is missing, so the
    # position is held and exits at the close of bar 01:01 (exit_time_used 01:02). Event B at
    # 00:20 fires while A is open: skipped, whatever the exit bar's existence.
    bars = make_bars(gaps=(60,))
    tr = bt([ev(1, 0), ev(2, 20)], [cand(horizon=60)], bars=bars).set_index("event_id")
    assert tr.trade_status.to_dict() == {"e1": "traded", "e2": "skipped_overlap"}
    a = tr.loc["e1"]
    assert a.exit_time == T0 + 61 * MIN                 # the scheduled exit
    assert a.exit_time_used == T0 + 62 * MIN            # the close actually used
    assert a.exit_price == 100 + 61 + 0.5               # close of bar 01:01
    assert pd.isna(tr.loc["e2", "exit_time_used"])
    # a bar absent from the frame (not flagged) is held through the same way
    absent = make_bars().drop(index=[60]).reset_index(drop=True)
    tr2 = bt([ev(1, 0), ev(2, 20)], [cand(horizon=60)], bars=absent).set_index("event_id")
    assert tr2.trade_status.to_dict() == {"e1": "traded", "e2": "skipped_overlap"}
    assert tr2.loc["e1", "exit_price"] == 100 + 61 + 0.5
    # an event after the scheduled exit but before the exit actually used is skipped too
    tr3 = bt([ev(1, 0), ev(2, 61)], [cand(horizon=60)],
             bars=make_bars(gaps=(60, 61))).set_index("event_id")
    assert tr3.trade_status.to_dict() == {"e1": "traded", "e2": "skipped_overlap"}
    assert tr3.loc["e1", "exit_time_used"] == T0 + 63 * MIN


def test_no_bar_left_to_exit_at_is_dropped_past_end():
    # h=15 from detection 580 (entry 581, last bar 595): bars 595..599 missing -> no exit bar
    bars = make_bars(gaps=(595, 596, 597, 598, 599))
    tr = bt([ev(1, 580)], [cand(horizon=15)], bars=bars)
    assert tr.iloc[0].trade_status == "dropped_past_end"


def test_funding_stamped_at_the_exit_actually_used_is_not_paid():
    # exit bar 01:10 missing: the trade exits at the close of 01:11 (01:12); a settlement at
    # 01:11 is inside, one at 01:12 is at the exit close and not paid
    funding = pd.DataFrame({"symbol": "BTCUSDT",
                            "funding_time": [T0 + 71 * MIN, T0 + 72 * MIN],
                            "funding_rate": [0.0002, 0.07]})
    tr = bt([ev(1, 10)], [cand(horizon=60)], bars=make_bars(gaps=(70,)), funding=funding)
    assert tr.iloc[0].exit_time_used == T0 + 72 * MIN
    assert tr.iloc[0].n_settlements == 1
    assert tr.iloc[0].funding_bps == pytest.approx(2.0)
