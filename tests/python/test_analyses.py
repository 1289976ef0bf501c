"""The ad-hoc analyses of analyses/ (README "Ad-hoc SQL against the warehouse"), run the way a
researcher runs them: ``dbt compile`` against a finished warehouse, then the compiled SQL on that
warehouse with DuckDB, read-only. Every .sql file of the folder is covered (listed, not named
here); the answers must agree with the tables they summarise.

One sample run (``lifthouse run --generate``, 3 symbols x 20 days, gates loosened so that it
promotes) and two dbt compiles (the defaults, then every var set) are shared by the tests: ~1 min.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from lifthouse import cli
from lifthouse.run.dbt import REPO_ROOT, run_dbt

ANALYSES_DIR = REPO_ROOT / "analyses"
ANALYSES = sorted(p.stem for p in ANALYSES_DIR.glob("*.sql"))
RUN_ID = "adhoc"
START, END = "2025-01-08", "2025-01-28"
HORIZON_DEFAULT = 60    # event_study_by_hour's default analysis_horizon_min
STATUS_ORDER = {"promoted": 0, "fallback": 1}
# gates loosened so that 20 days of the sample promote candidates (the planted cascade fade on
# carry_pos, pooled: 26 discovery trades, q 0.14): the default candidate is then a promoted one
LOOSE_GATES = ["--var", "phase2_min_trades=20", "--var", "phase2_q_max=0.2"]


def test_the_folder_holds_the_analyses_and_each_is_documented():
    """The four analyses exist; each has a header saying what it answers and how to run it, and
    an entry with a description in analyses/_analyses.yml (and nothing there is stale)."""
    assert {"event_study_by_hour", "candidate_trades", "state_occupancy_over_time",
            "candidate_daily_pnl"} <= set(ANALYSES)
    doc = yaml.safe_load((ANALYSES_DIR / "_analyses.yml").read_text())
    described = {a["name"]: a.get("description", "") for a in doc["analyses"]}
    assert set(described) == set(ANALYSES)
    assert all(d.strip() for d in described.values()), described
    for name in ANALYSES:
        text = (ANALYSES_DIR / f"{name}.sql").read_text()
        assert text.startswith("-- "), f"{name}: no header comment"
        assert f"dbt compile --select {name}" in text, f"{name}: the header does not say how to run it"
        assert "with " in text.lower() and "{{ ref(" in text, f"{name}: not CTEs over ref()"


# --------------------------------------------------------------------------------------------
# a sample warehouse, the compiled analyses, and how to run them
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A finished warehouse: the Milestone D run on the generated sample (the e2e test's window)."""
    tmp = tmp_path_factory.mktemp("analyses_run")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["run", "--run_id", RUN_ID, "--start_date", START, "--end_date", END,
                       "--symbols", "BTC,ETH,SOL", "--lookback-days", "7", "--generate",
                       "--data-dir", str(tmp / "raw"), "--out-dir", str(tmp / "out"),
                       "--var", "n_boot=200", *LOOSE_GATES])
    assert rc == 0, err.getvalue()[-3000:] + out.getvalue()[-3000:]
    wh = tmp / "out" / "warehouse" / f"{RUN_ID}.duckdb"
    assert wh.is_file()
    return wh


def query(wh: Path, sql: str) -> pd.DataFrame:
    """``sql`` on the warehouse, read-only; the connection is closed again (dbt compile opens the
    file read-write and would find it locked)."""
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql(sql).df()


def compile_analyses(wh: Path, target: Path, vars: dict | None = None) -> dict[str, str]:
    """``dbt compile`` of every analysis; name -> compiled SQL. Every file of analyses/ must be
    compiled."""
    run_dbt(["compile", "--select", "resource_type:analysis"], warehouse=wh, target_dir=target,
            vars=vars)
    folder = target / "compiled" / "lifthouse" / "analyses"
    compiled = {p.stem: p.read_text() for p in folder.glob("*.sql")}
    assert set(compiled) == set(ANALYSES), "dbt did not compile every file of analyses/"
    return compiled


@pytest.fixture(scope="module")
def compiled(warehouse, tmp_path_factory) -> dict[str, str]:
    return compile_analyses(warehouse, tmp_path_factory.mktemp("analyses_target"))


@pytest.fixture(scope="module")
def results(warehouse, compiled) -> dict[str, pd.DataFrame]:
    return {name: query(warehouse, sql) for name, sql in compiled.items()}


@pytest.fixture(scope="module")
def named(warehouse, tmp_path_factory):
    """The analyses compiled with every var they read set: the candidate that trades most among
    the pooled ones (not the default one), weekly occupancy, a 15-minute horizon."""
    cands = query(warehouse, "select candidate_id, status, n_trades from phase2_candidate_results")
    default = default_candidate(cands)
    pooled = cands[cands.candidate_id.str.endswith("__pooled") & (cands.candidate_id != default)]
    candidate = pooled.sort_values(["n_trades", "candidate_id"], ascending=[False, True]
                                   ).candidate_id.iloc[0]
    vars_ = {"analysis_candidate_id": candidate, "analysis_occupancy_period": "week",
             "analysis_horizon_min": 15}
    sqls = compile_analyses(warehouse, tmp_path_factory.mktemp("analyses_target_vars"), vars_)
    return vars_, {name: query(warehouse, sql) for name, sql in sqls.items()}


def default_candidate(cands: pd.DataFrame) -> str:
    """The analyses' default: the first promoted by id, else the first fallback, else the first
    candidate that trades."""
    trading = cands[cands.n_trades > 0].assign(rank=lambda d: d.status.map(STATUS_ORDER).fillna(2))
    return trading.sort_values(["rank", "candidate_id"]).candidate_id.iloc[0]


# --------------------------------------------------------------------------------------------
# every analysis
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_compiles_and_returns_rows(name, compiled, results):
    sql = compiled[name]
    assert "{{" not in sql and "ref(" not in sql
    assert '"main".' in sql                      # ref() resolved to the run's relations
    assert len(results[name]) > 0, f"{name} returned no rows on the sample run"


@pytest.mark.slow
@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_runs_in_the_duckdb_cli(name, compiled, results, warehouse, tmp_path):
    """The README's command: the compiled file on stdin of ``duckdb -readonly <warehouse>``."""
    cli_bin = Path(sys.executable).parent / "duckdb"
    if not cli_bin.exists():
        pytest.skip("the DuckDB CLI (duckdb-cli in requirements.txt) is not installed")
    sql_file = tmp_path / f"{name}.sql"
    sql_file.write_text(compiled[name])
    with sql_file.open() as stdin:
        proc = subprocess.run([str(cli_bin), "-readonly", "-csv", str(warehouse)], stdin=stdin,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split(",") == list(results[name].columns)
    assert len(lines) - 1 == len(results[name])


# --------------------------------------------------------------------------------------------
# event_study_by_hour
# --------------------------------------------------------------------------------------------

def forward_returns(wh: Path, horizon_min: int) -> pd.DataFrame:
    """Per event, computed here from features_v1 by lookup: entry at the open of the bar after
    detection, exit at the close horizon_min minutes after the entry, in the event's direction
    (bps); NaN out of window or without both bars."""
    ev = query(wh, "select event_id, event_type, symbol, detected_at, direction, in_window "
                   "from event_registry")
    bars = query(wh, "select symbol, open_time, close_time, open, close from features_v1")
    step = (bars.close_time - bars.open_time).iloc[0]
    entry_time = ev.detected_at + step
    opens = bars.set_index(["symbol", "open_time"])["open"]
    closes = bars.set_index(["symbol", "close_time"])["close"]
    entry = opens.reindex(pd.MultiIndex.from_arrays([ev.symbol, entry_time])).to_numpy()
    exit_ = closes.reindex(pd.MultiIndex.from_arrays(
        [ev.symbol, entry_time + pd.Timedelta(minutes=horizon_min)])).to_numpy()
    fwd = (exit_ / entry - 1) * 1e4 * ev.direction.to_numpy()
    ok = ev.in_window.to_numpy() & (entry > 0)
    return ev.assign(hour_utc=ev.detected_at.dt.hour, fwd_ret_bps=np.where(ok, fwd, np.nan))


def check_event_study(es: pd.DataFrame, wh: Path, horizon_min: int) -> None:
    counts = query(wh, "select event_type, count(*) as n, count(case when in_window then 1 end) "
                       "as n_in from event_registry group by event_type")
    got = es.groupby("event_type")[["n_events", "n_in_window"]].sum()
    for row in counts.itertuples():
        assert got.loc[row.event_type, "n_events"] == row.n, row.event_type
        assert got.loc[row.event_type, "n_in_window"] == row.n_in, row.event_type
    assert set(got.index) == set(counts.event_type)
    assert es.hour_utc.between(0, 23).all() and not es.duplicated(["event_type", "hour_utc"]).any()
    assert np.allclose(es.groupby("event_type").share_of_type.sum(), 1.0)
    assert (es.horizon_min == horizon_min).all()

    fwd = forward_returns(wh, horizon_min)
    want = (fwd.astype({"hour_utc": "int64"}).groupby(["event_type", "hour_utc"])
            .fwd_ret_bps.agg(["count", "mean"]))
    es = es.astype({"hour_utc": "int64"}).set_index(["event_type", "hour_utc"])
    assert set(es.index) == set(want.index)
    want = want.reindex(es.index)
    assert (es.n_with_return.to_numpy() == want["count"].to_numpy()).all()
    assert es.n_with_return.sum() > 50
    assert np.allclose(es.mean_fwd_ret_bps, want["mean"], rtol=1e-9, atol=1e-9, equal_nan=True)
    assert ((es.hit_rate >= 0) & (es.hit_rate <= 1) | es.hit_rate.isna()).all()


@pytest.mark.slow
def test_event_study_counts_every_event_and_its_forward_return(results, warehouse):
    check_event_study(results["event_study_by_hour"], warehouse, HORIZON_DEFAULT)


@pytest.mark.slow
def test_event_study_forward_return_is_the_backtests_gross(warehouse):
    """The analysis's forward return is the gross return of a follow trade of phase2_trades (the
    unconditioned per-symbol candidates at the same horizon, trades that exited on schedule)."""
    fwd = forward_returns(warehouse, HORIZON_DEFAULT).set_index("event_id").fwd_ret_bps
    trades = query(warehouse, f"""
        select trades.event_id, trades.gross_bps
        from phase2_trades as trades
        inner join candidate_plan as plan on plan.candidate_id = trades.candidate_id
        where plan.condition = 'all' and plan.horizon_min = {HORIZON_DEFAULT}
          and plan.direction_rule = 'follow' and plan.symbol_scope <> 'pooled'
          and trades.trade_status = 'traded' and trades.exit_time_used = trades.exit_time""")
    assert len(trades) > 30
    assert np.allclose(fwd.reindex(trades.event_id).to_numpy(), trades.gross_bps, rtol=1e-9,
                       atol=1e-6)


# --------------------------------------------------------------------------------------------
# candidate_trades and candidate_daily_pnl
# --------------------------------------------------------------------------------------------

TRADE_COLUMNS = ["event_id", "symbol", "block", "trade_status", "detected_at", "side",
                 "entry_time", "entry_price", "exit_time_used", "exit_price", "gross_bps",
                 "fee_bps", "slippage_bps", "funding_bps", "net_bps"]


def check_candidate_trades(ct: pd.DataFrame, wh: Path, candidate: str) -> None:
    assert set(ct.candidate_id) == {candidate}
    want = query(wh, f"select * from phase2_trades where candidate_id = '{candidate}'")
    got = ct.rename(columns={"exit_time_scheduled": "exit_time"})
    assert len(got) == len(want) > 0
    cols = TRADE_COLUMNS + ["exit_time"]
    pd.testing.assert_frame_equal(
        got[cols].sort_values("event_id").reset_index(drop=True),
        want[cols].sort_values("event_id").reset_index(drop=True), check_dtype=False)
    traded = ct[ct.trade_status == "traded"]
    assert len(traded) > 0
    # the costs add up, and the cumulative net is the running sum in the listed (entry) order
    assert np.allclose(traded.gross_bps - traded.cost_bps, traded.net_bps)
    assert ct.entry_time.is_monotonic_increasing
    assert np.allclose(traded.cum_net_bps, traded.net_bps.cumsum())
    assert ct.loc[ct.trade_status != "traded", "cum_net_bps"].isna().all()
    minutes = (traded.exit_time_used - traded.entry_time).dt.total_seconds() / 60
    assert (traded.holding_minutes == minutes).all()


def check_daily_pnl(pnl: pd.DataFrame, wh: Path, candidate: str) -> None:
    assert set(pnl.candidate_id) == {candidate}
    assert pnl.day.is_unique and pnl.day.is_monotonic_increasing
    assert np.allclose(pnl.cum_net_bps, pnl.net_bps.cumsum())
    assert np.allclose(pnl.peak_cum_net_bps, np.maximum(pnl.cum_net_bps.cummax(), 0))
    assert (pnl.drawdown_bps >= -1e-9).all()
    # every discovery and holdout day, and the net of the candidate's trades in those blocks
    days = query(wh, f"select count(distinct day) as n from phase2_candidate_daily "
                     f"where candidate_id = '{candidate}'").n.iloc[0]
    assert len(pnl) == days > 0
    trades = query(wh, f"""
        select count(*) as n, coalesce(sum(net_bps), 0) as net from phase2_trades
        where candidate_id = '{candidate}' and trade_status = 'traded'
          and block in ('discovery', 'holdout')""")
    assert pnl.n_trades.sum() == trades.n.iloc[0] > 0
    assert np.isclose(pnl.net_bps.sum(), trades.net.iloc[0])


@pytest.mark.slow
def test_default_candidate_is_the_first_promoted_and_both_analyses_use_it(results, warehouse):
    cands = query(warehouse, "select candidate_id, status, n_trades from phase2_candidate_results")
    candidate = default_candidate(cands)
    assert set(results["candidate_trades"].candidate_id) == {candidate}
    assert set(results["candidate_daily_pnl"].candidate_id) == {candidate}
    assert (cands.status == "promoted").any(), "the sample run promotes nothing (LOOSE_GATES)"
    assert cands.set_index("candidate_id").status[candidate] == "promoted"
    assert set(results["candidate_trades"].candidate_status) == {"promoted"}
    assert set(results["candidate_daily_pnl"].candidate_status) == {"promoted"}


@pytest.mark.slow
def test_candidate_trades_are_the_candidates_rows_of_phase2_trades(results, warehouse):
    ct = results["candidate_trades"]
    check_candidate_trades(ct, warehouse, ct.candidate_id.iloc[0])


@pytest.mark.slow
def test_candidate_daily_pnl_cumulates_the_daily_net(results, warehouse):
    pnl = results["candidate_daily_pnl"]
    check_daily_pnl(pnl, warehouse, pnl.candidate_id.iloc[0])


# --------------------------------------------------------------------------------------------
# state_occupancy_over_time
# --------------------------------------------------------------------------------------------

def check_occupancy(occ: pd.DataFrame, wh: Path, period: str) -> None:
    assert set(occ.period) == {period}
    assert set(occ.dimension) == {"vol_regime", "carry_state"}
    sums = occ.groupby(["symbol", "period_start", "dimension"]).share.sum()
    assert np.allclose(sums, 1.0), sums[~np.isclose(sums, 1.0)]
    assert ((occ.share > 0) & (occ.share <= 1)).all()
    # every in-window bar is counted once per dimension, in its own period
    bars = query(wh, "select symbol, count(*) as n from market_context where in_window "
                     "group by symbol").set_index("symbol").n
    per_dim = occ.groupby(["symbol", "dimension"]).n_bars.sum().unstack()
    for dim in ("vol_regime", "carry_state"):
        pd.testing.assert_series_equal(per_dim[dim].sort_index(), bars.sort_index(),
                                       check_names=False, check_dtype=False)
    starts = pd.to_datetime(occ.period_start)
    if period == "week":
        assert (starts.dt.day_of_week == 0).all()       # weeks start on Monday
    window_days = pd.date_range(START, pd.Timestamp(END) - pd.Timedelta(days=1), freq="D")
    n_periods = window_days.nunique() if period == "day" else window_days.to_period("W").nunique()
    assert (occ.groupby("symbol").period_start.nunique() == n_periods).all()


@pytest.mark.slow
def test_state_occupancy_shares_sum_to_one_per_symbol_and_day(results, warehouse):
    check_occupancy(results["state_occupancy_over_time"], warehouse, "day")


# --------------------------------------------------------------------------------------------
# the vars
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_analyses_follow_their_vars(named, warehouse):
    vars_, res = named
    candidate = vars_["analysis_candidate_id"]
    check_candidate_trades(res["candidate_trades"], warehouse, candidate)
    check_daily_pnl(res["candidate_daily_pnl"], warehouse, candidate)
    check_occupancy(res["state_occupancy_over_time"], warehouse, "week")
    check_event_study(res["event_study_by_hour"], warehouse, vars_["analysis_horizon_min"])
