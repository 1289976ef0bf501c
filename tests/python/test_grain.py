"""The bar grain (var bar_minutes, issue 33): the frames at 5m, the windows a grain refuses, and a
run refused before anything is built when a window is not a multiple of the grain.

The builds at 5m (two routes to the same bars, the truncation test) are in
tests/python/test_grain_real.py."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifthouse.research.backtest import check_horizons, compute_legs
from lifthouse.run.config import RunConfig, check_grain
from lifthouse.run.dbt import run_dbt
from lifthouse.run.errors import RunError


def compile_inline(tmp_path: Path, sql: str, **vars_) -> tuple[int, str]:
    """``dbt compile --inline`` of ``sql`` with ``vars_``: (return code, dbt's output)."""
    run = run_dbt(["compile", "--inline", sql, "--no-use-colors"], vars=vars_,
                  warehouse=tmp_path / "wh.duckdb", target_dir=tmp_path / "target", check=False)
    return run.returncode, run.stdout


FRAMES = ("{{ lifthouse.trailing_minutes_frame(60) }} | {{ lifthouse.minutes_frame(1445, 5) }} | "
          "{{ lifthouse.bars(15) }} | {{ lifthouse.klines_dataset('um') }} | "
          "{{ lifthouse.grain_var('vacuum_thin_minutes') }}")


def test_frames_at_5m_step_by_the_grain(tmp_path):
    rc, out = compile_inline(tmp_path, FRAMES, bar_minutes=5)
    assert rc == 0, out[-2000:]
    # 60 minutes = 12 rows of 5m bars; 1445..5 minutes before = rows 289..1 preceding;
    # a 15-minute horizon = 3 bars; the 5m dataset; the grain's default thin run
    assert ("rows between 11 preceding and current row | rows between 289 preceding and 1 "
            "preceding | 3 | um_klines_5m | 5") in out, out[-1500:]


def test_frames_at_1m_are_the_minute_frames(tmp_path):
    rc, out = compile_inline(tmp_path, FRAMES.replace("1445", "1444"))
    assert rc == 0, out[-2000:]
    assert ("rows between 59 preceding and current row | rows between 1444 preceding and 5 "
            "preceding | 15 | um_klines_1m | 3") in out, out[-1500:]


def test_a_7_minute_window_is_refused_at_5m(tmp_path):
    rc, out = compile_inline(tmp_path, "{{ lifthouse.trailing_minutes_frame(7) }}", bar_minutes=5)
    assert rc != 0
    assert "must be multiples of the grid step 5" in out


@pytest.mark.parametrize("var,value,match", [
    ("vacuum_thin_minutes", 3, r"var vacuum_thin_minutes = 3 minutes must be a whole multiple of "
                               r"bar_minutes 5 .* pass --vars '\{vacuum_thin_minutes: 5\}'"),
    ("baseline_minutes", 1442, r"var baseline_minutes = 1442 minutes must be a whole multiple"),
])
def test_dbt_refuses_a_window_var_off_the_grain_before_building(tmp_path, var, value, match):
    run = run_dbt(["build", "--select", "stg_binance__perp_klines", "--no-use-colors"],
                  vars={"bar_minutes": 5, var: value, "raw_dir": str(tmp_path)},
                  warehouse=tmp_path / "wh.duckdb", target_dir=tmp_path / "target",
                  check=False)
    assert run.returncode != 0
    assert re.search(match, run.stdout), run.stdout[-2000:]


def test_dbt_refuses_a_grain_other_than_1_or_5(tmp_path):
    run = run_dbt(["build", "--select", "stg_binance__perp_klines", "--no-use-colors"],
                  vars={"bar_minutes": 3, "raw_dir": str(tmp_path)},
                  warehouse=tmp_path / "wh.duckdb", target_dir=tmp_path / "target", check=False)
    assert run.returncode != 0
    assert "var bar_minutes = 3 must be 1 or 5" in run.stdout


def _config(tmp_path: Path, **kw) -> RunConfig:
    return RunConfig(run_id="g", start_date=dt.date(2025, 1, 3), end_date=dt.date(2025, 1, 5),
                     symbols=["BTC"], data_dir=tmp_path / "raw", out_dir=tmp_path / "out", **kw)


def test_a_run_refuses_a_window_var_off_the_grain_before_anything_runs(tmp_path):
    with pytest.raises(RunError, match=r"var vacuum_cooldown_minutes = 32 minutes is not a whole "
                                       r"multiple of --bar-minutes 5 .* --var "
                                       r"vacuum_cooldown_minutes=35"):
        _config(tmp_path, bar_minutes=5, extra_vars={"vacuum_cooldown_minutes": 32})
    with pytest.raises(RunError, match="--bar-minutes 15: the bar grain must be one of 1, 5"):
        _config(tmp_path, bar_minutes=15)
    with pytest.raises(RunError, match="use the dedicated option"):
        _config(tmp_path, extra_vars={"bar_minutes": 5})
    # the defaults hold at both grains (vacuum_thin_minutes takes its grain's default)
    assert _config(tmp_path, bar_minutes=5).dbt_vars()["bar_minutes"] == 5
    check_grain({}, 1)
    check_grain({}, 5)


def test_horizons_off_the_grain_are_refused():
    assert check_horizons([15, 5, 240, 15], 5).tolist() == [5, 15, 240]
    with pytest.raises(ValueError, match=r"horizon_min \[7\] is not a positive multiple of "
                                         r"bar_minutes 5"):
        check_horizons([5, 7], 5)


def test_a_15_minute_horizon_at_5m_is_three_bars():
    """Detected at the bar opening 10:00 (known at its close 10:05): entry at the open of the
    10:05 bar, exit at the close of the third bar (10:15, closing 10:20)."""
    t = pd.date_range("2025-01-01 10:00", periods=8, freq="5min")
    bars = pd.DataFrame({"symbol": "BTCUSDT", "open_time": t,
                         "open": 100.0 + np.arange(8), "close": 100.5 + np.arange(8)})
    events = pd.DataFrame({"symbol": ["BTCUSDT"], "detected_at": [t[0]]})
    funding = pd.DataFrame({"symbol": [], "funding_time": pd.to_datetime([]), "funding_rate": []})
    legs = compute_legs(events, bars, funding, [15], bar_minutes=5)
    assert legs["entry_px"][0, 0] == 101.0           # open of the 10:05 bar
    assert legs["exit_px"][0, 0] == 103.5            # close of the 10:15 bar
    assert pd.Timestamp(legs["exit_used_us"][0, 0], unit="us") == pd.Timestamp("2025-01-01 10:20")
    # the same bars read as a 1m grid would exit at the close of the bar 14 minutes after entry
    legs_1m = compute_legs(events, bars, funding, [15], bar_minutes=1)
    assert legs_1m["entry_px"][0, 0] != 101.0 or legs_1m["exit_px"][0, 0] != 103.5


def test_the_run_and_dbt_check_the_same_window_vars():
    """GRAIN_WINDOW_VARS (the run's check) and grain_window_vars() (plain dbt's) are one list."""
    import ast
    import re

    from lifthouse.run.config import GRAIN_WINDOW_VARS
    from lifthouse.run.dbt import REPO_ROOT

    text = (REPO_ROOT / "macros" / "validate_vars.sql").read_text()
    body = re.search(r"macro grain_window_vars\(\).*?return\((\[.*?\])\)", text, re.S).group(1)
    assert tuple(ast.literal_eval(body)) == GRAIN_WINDOW_VARS
