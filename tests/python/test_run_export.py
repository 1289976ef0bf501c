"""Exports from a hand-built warehouse: determinism, formats, report tables, the lock message.

The marts are hand-built tables; the report tables on top of them are the real dbt models
(models/marts/reporting/rpt_*), built here with ``dbt build`` (their unit and data tests run too).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.run.dbt import run_dbt
from lifthouse.run.export import REPORT_TABLES, ExportLayout, csv_bytes, export_run, phase2_counts
from lifthouse.run.warehouse import WarehouseError, WarehouseLockedError, connect

CASC, VAC = "LIQUIDATION_CASCADE", "liquidity_vacuum"


def build_report_tables(path: Path, vars: dict | None = None,
                        models: tuple[str, ...] | None = None) -> Path:
    """``dbt build`` of the report models on the hand-built marts of ``path``."""
    models = models or tuple(relation for relation, _ in REPORT_TABLES.values())
    run_dbt(["build", "--select", *models], warehouse=path,
            target_dir=path.parent / f"target_{path.stem}", vars=vars)
    return path


def build_warehouse(path: Path, *, reverse: bool = False) -> Path:
    """A tiny warehouse with the marts the exporter and the report models read. ``reverse``
    inserts every table's rows in the opposite physical order (the export must not depend on
    it)."""
    order = "desc" if reverse else "asc"
    con = duckdb.connect(str(path))
    con.execute(f"""
        create table features_v1 as
        select s.symbol, t.open_time, t.open_time + interval 1 minute as close_time,
               t.open_time >= timestamp '2025-01-01 01:00' as in_window,
               false as is_gap,
               100 + i * 0.01 as open, 100 + i * 0.01 + 0.02 as high, 100 + i * 0.01 - 0.02 as low,
               100 + (i + 1) * 0.01 as close, 1.0 as volume,
               case when s.symbol = 'BTCUSDT' then 1e9 end as oi,
               cast(null as double) as liq_long_usd, cast(null as double) as liq_short_usd,
               cast(null as double) as basis_bps
        from (values ('BTCUSDT'), ('SOLUSDT')) s(symbol),
             (select range as i, timestamp '2025-01-01' + range * interval 1 minute as open_time
              from range(0, 300)) t
        order by s.symbol {order}, t.open_time {order}
    """)
    con.execute(f"""
        create table market_context as
        select symbol, open_time, in_window,
               case when minute(open_time) % 3 = 0 then 'vol_low' when minute(open_time) % 3 = 1
                    then 'vol_mid' else 'vol_high' end as vol_regime,
               case when hour(open_time) = 1 then 'carry_pos' else 'carry_neutral' end as carry_state
        from features_v1 order by symbol {order}, open_time {order}
    """)
    con.execute(f"""
        create table event_registry as
        select * from (values
            ('{CASC}:BTCUSDT:20250101T0130', '{CASC}', 'BTCUSDT', timestamp '2025-01-01 01:30', 1,
             'vol_high', 'carry_pos', 'open_interest', true, 'vol_low', 'carry_neutral'),
            ('{VAC}:SOLUSDT:20250101T0200', '{VAC}', 'SOLUSDT', timestamp '2025-01-01 02:00', -1,
             'vol_low', 'carry_neutral', 'illiquidity', true, 'vol_low', 'carry_neutral'),
            ('{VAC}:BTCUSDT:20250101T0210', '{VAC}', 'BTCUSDT', timestamp '2025-01-01 02:10', 1,
             'vol_mid', 'carry_neutral', 'illiquidity', true, null, null)
        ) v(event_id, event_type, symbol, detected_at, direction, vol_regime, carry_state,
            evidence, in_window, vol_regime_pre, carry_state_pre)
        order by event_id {order}
    """)
    con.execute(f"""
        create table candidate_plan as select * from (values
            ('{CASC}__all__h15__follow__BTCUSDT', '{CASC}', 'all', 15, 'follow', 'BTCUSDT'),
            ('{VAC}__all__h15__follow__SOLUSDT', '{VAC}', 'all', 15, 'follow', 'SOLUSDT'),
            ('{VAC}__all__h30__follow__BTCUSDT', '{VAC}', 'all', 30, 'follow', 'BTCUSDT'),
            ('{VAC}__vol_low__h15__follow__SOLUSDT', '{VAC}', 'vol_low', 15, 'follow', 'SOLUSDT')
        ) v(candidate_id, event_type, condition, horizon_min, direction_rule, symbol_scope)
        order by candidate_id {order}
    """)
    con.execute(f"""
        create table phase2_trades as select * from (values
            ('{CASC}__all__h15__follow__BTCUSDT', '{CASC}:BTCUSDT:20250101T0130', 'BTCUSDT',
             timestamp '2025-01-01 01:30', 'traded', 1.23456789012345),
            ('{VAC}__all__h15__follow__SOLUSDT', '{VAC}:SOLUSDT:20250101T0200', 'SOLUSDT',
             timestamp '2025-01-01 02:00', 'traded', -0.5),
            ('{VAC}__all__h30__follow__BTCUSDT', '{VAC}:BTCUSDT:20250101T0210', 'BTCUSDT',
             timestamp '2025-01-01 02:10', 'skipped_overlap', null)
        ) v(candidate_id, event_id, symbol, detected_at, trade_status, net_bps)
        order by candidate_id {order}
    """)
    con.execute(f"""
        create table phase2_candidate_results as
        select candidate_id, event_type, 1 as n_trades, 1.0 / 3 as disc_mean_bps,
               'rejected' as status
        from candidate_plan order by candidate_id {order}
    """)
    con.execute(f"""
        create table lift_summary as select * from (values
            (1, 'candidate', '{VAC}__vol_low__h15__follow__SOLUSDT', '{VAC}', 'vol_low',
             0.1 + 0.2, -1.0, 2.0, 'inconclusive'),
            (2, 'rollup', '{VAC}|vol_low|edge', '{VAC}', 'vol_low', 2.0 / 3, -1.0, 2.0,
             'inconclusive')
        ) v(row_num, row_type, row_key, event_type, condition, lift_bps, lift_ci_low,
            lift_ci_high, verdict)
        order by row_num {order}
    """)
    con.execute(f"""
        create table phase2_candidate_daily as select * from (values
            ('{VAC}__all__h30__follow__BTCUSDT', 'discovery', date '2025-01-01', 1.0 / 3, 1),
            ('{VAC}__all__h30__follow__BTCUSDT', 'discovery', date '2025-01-02', 0.0, 0),
            ('{VAC}__all__h30__follow__BTCUSDT', 'holdout', date '2025-01-03', -2.5, 2)
        ) v(candidate_id, block, day, net_bps, n_trades)
        order by day {order}
    """)
    con.execute(f"""
        create table phase2_grid_tests as select * from (values
            ('all', 2, 1, 0.42, 0, 1.0 / 3), ('event_type={VAC}', 2, 1, 0.42, 0, 1.0 / 3)
        ) v(scope, k, k_tested, spa_p_consistent, stepm_n_selected, pbo)
        order by scope {order}
    """)
    con.execute(f"""
        create table rpt_screen_funnel as select * from (values
            ('{VAC}', 2, 0, 0, 30, 1), ('LIQUIDATION_CASCADE', 2, 0, 0, 30, 0)
        ) v(event_type, n_planned, n_enough_disc_trades, n_promoted, min_disc_trades_required,
            max_disc_n)
        order by event_type {order}
    """)
    con.close()
    return path


@pytest.fixture(scope="module")
def two_warehouses(tmp_path_factory):
    """The same marts inserted in two physical orders, report tables built by dbt on each."""
    base = tmp_path_factory.mktemp("export_wh")
    return (build_report_tables(build_warehouse(base / "a.duckdb")),
            build_report_tables(build_warehouse(base / "b.duckdb", reverse=True)))


def test_exports_are_byte_identical(tmp_path, two_warehouses):
    a, b = two_warehouses
    ra = export_run(a, ExportLayout(tmp_path / "out_a", "r1"))
    rb = export_run(b, ExportLayout(tmp_path / "out_b", "r1"))
    again = export_run(a, ExportLayout(tmp_path / "out_c", "r1"))
    assert sorted(ra.files) == sorted(rb.files)
    csvs = [k for k in ra.files if k.endswith(".csv")]
    assert {"lift_summary.csv", "phase2_candidate_results.csv", "event_registry.csv",
            "state_occupancy.csv", "event_counts.csv", "trade_counts.csv", "data_coverage.csv",
            "event_paths.csv"} <= set(csvs)
    for k in csvs:
        assert ra.files[k].read_bytes() == rb.files[k].read_bytes(), k
        assert ra.files[k].read_bytes() == again.files[k].read_bytes(), k


def test_export_layout_and_formats(tmp_path, two_warehouses):
    lay = ExportLayout(tmp_path / "reports", "r1")
    res = export_run(two_warehouses[0], lay)
    assert res.files["lift_summary.csv"] == lay.root / "ablation" / "r1" / "lift_summary.csv"
    assert (lay.root / "ablation" / "r1" / "lift_summary.parquet").exists()
    for name in ("phase2_candidate_results.csv", "phase2_candidate_results.parquet",
                 "phase2_trades.parquet"):
        assert (lay.root / "phase2" / "r1" / name).exists()
    text = res.files["lift_summary.csv"].read_text()
    assert "\r" not in text
    # fixed float format: 0.1 + 0.2 and 2/3 with 10 significant digits
    assert ",0.3," in text and ",0.6666666667," in text
    trades = pq.read_table(lay.root / "phase2" / "r1" / "phase2_trades.parquet")
    assert trades.schema.field("detected_at").type == pa.timestamp("us")
    # total row order: by candidate_id
    assert trades.column("candidate_id").to_pylist() == sorted(trades.column("candidate_id").to_pylist())
    ev = pd.read_csv(res.files["event_registry.csv"])
    assert ev["detected_at"].iloc[0] == "2025-01-01 01:30:00"


def test_report_tables(tmp_path, two_warehouses):
    lay = ExportLayout(tmp_path / "reports", "r1")
    res = export_run(two_warehouses[0], lay)
    occ = pd.read_csv(res.files["state_occupancy.csv"])
    # 240 in-window minutes per symbol; shares sum to 1 per (symbol, dimension)
    assert occ.groupby(["symbol", "dimension"])["n_minutes"].sum().eq(240).all()
    assert occ.groupby(["symbol", "dimension"])["share"].sum().sub(1).abs().lt(1e-9).all()
    counts = pd.read_csv(res.files["event_counts.csv"]).set_index(["symbol", "event_type"])
    assert counts.loc[("SOLUSDT", CASC), "n_events"] == 0  # zero rows are kept
    assert counts.loc[("BTCUSDT", CASC), "evidence"] == "open_interest"
    cov = pd.read_csv(res.files["data_coverage.csv"]).set_index("symbol")
    assert cov.loc["BTCUSDT", "n_bars_with_oi"] == 240 and cov.loc["SOLUSDT", "n_bars_with_oi"] == 0
    tc = pd.read_csv(res.files["trade_counts.csv"]).set_index(["symbol", "event_type"])
    assert tc.loc[("BTCUSDT", VAC), "n_skipped_overlap"] == 1
    assert tc.loc[("SOLUSDT", VAC), "n_traded"] == 1
    assert tc.loc[("SOLUSDT", CASC), "n_traded"] == 0  # zero rows are kept
    funnel = pd.read_csv(res.files["rpt_screen_funnel.csv"])
    assert res.files["rpt_screen_funnel.csv"] == lay.tables_dir / "rpt_screen_funnel.csv"
    assert funnel["event_type"].tolist() == ["LIQUIDATION_CASCADE", VAC]   # sorted by key
    paths = pd.read_csv(res.files["event_paths.csv"])
    # horizons up to max(horizon_min) = 30; minute 0 is 0 bps; cascade split by carry_state
    assert paths["minute"].max() == 30
    assert (paths.loc[paths["minute"] == 0, "mean_ret_bps"] == 0).all()
    casc = paths[paths["event_type"] == CASC]
    assert set(casc["state_dimension"]) == {"carry_state"}
    assert set(casc["state"]) == {"carry_pos", "all"}
    # the SOL vacuum is short (direction -1) on a rising price: negative path in its direction
    sol = paths[(paths["event_type"] == VAC) & (paths["state"] == "vol_low") & (paths["minute"] == 10)]
    assert sol["mean_ret_bps"].iloc[0] < 0
    # entry at the open of the bar after detection (02:01), exit k minutes later at a close
    f_entry = 100 + 121 * 0.01
    f_close = 100 + (121 + 10) * 0.01
    assert sol["mean_ret_bps"].iloc[0] == pytest.approx(-(f_close / f_entry - 1) * 1e4)


def test_phase2_counts(two_warehouses):
    assert phase2_counts(two_warehouses[0]) == (4, 2)


def test_csv_bytes_stable_float_format():
    df = pd.DataFrame({"x": [1 / 3, 1e-12, 12.0, float("nan")], "n": pd.array([1, None, 3, 4],
                                                                               dtype="Int64")})
    assert csv_bytes(df) == b"x,n\n0.3333333333,1\n1e-12,\n12,3\n,4\n"


def test_missing_warehouse_and_table(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        connect(tmp_path / "nope.duckdb")
    p = tmp_path / "empty.duckdb"
    duckdb.connect(str(p)).close()
    with pytest.raises(WarehouseError, match="lift_summary.*not in the warehouse"):
        export_run(p, ExportLayout(tmp_path / "r", "x"))


def test_locked_warehouse_gives_clear_message(tmp_path, two_warehouses):
    p = Path(shutil.copy(two_warehouses[0], tmp_path / "locked.duckdb"))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(p)!r})
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLockedError) as info:
            export_run(p, ExportLayout(tmp_path / "r", "x"))
        msg = str(info.value)
        assert "locked by another process" in msg and "exported Parquet" in msg
        assert "copy" in msg
    finally:
        holder.kill()
        holder.wait()
    # once the other process is gone the export works
    time.sleep(0.1)
    export_run(p, ExportLayout(tmp_path / "r", "x"))


def test_event_paths_follow_the_state_timing(tmp_path, two_warehouses):
    """Paths are split by the states the run's conditions matched (phase2_condition_state_at)."""
    def states(state_at: str) -> set[tuple[str, str]]:
        wh = Path(shutil.copy(two_warehouses[0], tmp_path / f"{state_at}.duckdb"))
        build_report_tables(wh, vars={"phase2_condition_state_at": state_at},
                            models=("rpt_event_paths",))
        res = export_run(wh, ExportLayout(tmp_path / state_at, "r1"))
        p = pd.read_csv(res.files["event_paths.csv"])
        return set(zip(p["event_type"], p["state"]))

    assert (CASC, "carry_pos") in states("detection")
    pre = states("pre_event")
    assert (CASC, "carry_neutral") in pre and (CASC, "carry_pos") not in pre
    assert (VAC, "warmup") in pre  # NULL pre-event state counts as warm-up
