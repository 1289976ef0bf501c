"""The data layer's fingerprint, plan, append bounds and store (lifthouse.run.layer*): no dbt
build here (test_layer_runs.py builds)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.data.checksum import CHECKSUM_KEY, rows_checksum
from lifthouse.run import layer as L
from lifthouse.run.config import RunConfig, effective_vars
from lifthouse.run.dbt import REPO_ROOT
from lifthouse.run.layer_plan import (GRID_BLOCK_BARS, LayerPlan, append_bounds, plan_layer,
                                      publish_layer)
from lifthouse.run.warehouse_cli import leftovers, superseded


def _month(path: Path, rows: list[float], days: list[int] | None = None) -> None:
    """A raw month file as the writer stores it (its rows checksum in the metadata): row i on
    day ``days[i]`` of the file's month (default i + 1)."""
    first = dt.datetime.strptime(path.stem, "%Y-%m")
    days = days or list(range(1, len(rows) + 1))
    times = pa.array([first + dt.timedelta(days=d - 1) for d in days],
                     type=pa.timestamp("us"))
    t = pa.table({"symbol": ["BTCUSDT"] * len(rows), "open_time": times, "close": rows})
    t = t.replace_schema_metadata({CHECKSUM_KEY: rows_checksum(t).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, path)


def _cfg(tmp: Path, **kw) -> RunConfig:
    args = dict(run_id="t", start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 3, 1),
                symbols=["BTCUSDT"], data_dir=tmp / "raw", out_dir=tmp / "out")
    args.update(kw)
    return RunConfig(**args)


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    for m in ("2024-12", "2025-01", "2025-02"):
        _month(tmp_path / "raw" / "um_klines_1m" / "symbol=BTCUSDT" / f"{m}.parquet", [1.0, 2.0])
    return tmp_path / "raw"


def _fingerprint(cfg: RunConfig) -> tuple[str, str]:
    plan = plan_layer(cfg, effective_vars(cfg))
    return plan.base_id, plan.layer_id


def test_a_replaced_month_changes_the_layer_id_and_is_the_first_changed(tmp_path, raw):
    cfg = _cfg(tmp_path)
    before = plan_layer(cfg, effective_vars(cfg))
    _month(raw / "um_klines_1m" / "symbol=BTCUSDT" / "2025-01.parquet", [1.0, 2.5])
    after = plan_layer(cfg, effective_vars(cfg))
    assert after.base_id == before.base_id
    assert after.layer_id != before.layer_id
    assert L.first_changed(before.months, after.months) == "2025-01"


def test_rewriting_the_same_rows_keeps_the_layer_id(tmp_path, raw):
    cfg = _cfg(tmp_path)
    before = _fingerprint(cfg)
    _month(raw / "um_klines_1m" / "symbol=BTCUSDT" / "2025-02.parquet", [1.0, 2.0])
    assert _fingerprint(cfg) == before


def test_a_new_month_and_a_later_end_change_the_layer_id_not_the_base(tmp_path, raw):
    cfg = _cfg(tmp_path)
    base, lid = _fingerprint(cfg)
    _month(raw / "um_klines_5m" / "symbol=BTCUSDT" / "2025-02.parquet", [1.0])
    base2, lid2 = _fingerprint(cfg)
    assert base2 == base and lid2 != lid
    assert _fingerprint(_cfg(tmp_path, end_date=dt.date(2025, 2, 20)))[0] == base
    # a file outside the months the run reads does not enter it
    _month(raw / "um_klines_1m" / "symbol=BTCUSDT" / "2025-06.parquet", [9.0])
    assert _fingerprint(cfg) == (base2, lid2)


def test_a_file_without_a_recorded_checksum_is_identified_by_its_bytes(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    first = L.file_digest(path)
    assert first.startswith("bytes:")
    pq.write_table(pa.table({"a": [2]}), path)
    assert L.file_digest(path) != first


@pytest.mark.parametrize("change", [
    {"extra_vars": {"baseline_minutes": 720}},          # a feature var
    {"extra_vars": {"carry_pos_min_bps": 1.0}},         # a state var
    {"bar_minutes": 5},                                  # the grain
    {"start_date": dt.date(2025, 1, 2)},                 # the window's start
    {"lookback_days": 6},
    {"symbols": ["BTCUSDT", "ETHUSDT"]},
])
def test_what_feeds_the_layer_changes_its_base(tmp_path, raw, change):
    assert _fingerprint(_cfg(tmp_path, **change))[0] != _fingerprint(_cfg(tmp_path))[0]


@pytest.mark.parametrize("var", [{"cascade_zmove_min": 3.5}, {"phase2_min_trades": 10},
                                 {"n_boot": 100}, {"snoop_reps": 50}, {"lift_min_n": 3},
                                 {"vacuum_shock_sigma": 3.0}])
def test_event_plan_and_lift_vars_reuse_the_layer(tmp_path, raw, var):
    assert _fingerprint(_cfg(tmp_path, extra_vars=var)) == _fingerprint(_cfg(tmp_path))


def test_a_changed_layer_model_or_macro_changes_the_code_digest(tmp_path):
    repo = tmp_path / "repo"
    for part in ("models", "macros"):
        shutil.copytree(REPO_ROOT / part, repo / part)
    shutil.copy(REPO_ROOT / "dbt_project.yml", repo / "dbt_project.yml")
    first = L.code_digest(repo)
    model = next((repo / "models").rglob("int_features_bars_computed.sql"))
    model.write_text(model.read_text() + "\n-- changed\n")
    second = L.code_digest(repo)
    assert second != first
    later = next((repo / "models").rglob("phase2_trades.py"))   # not a layer model
    later.write_text(later.read_text() + "\n# changed\n")
    assert L.code_digest(repo) == second
    macro = next((repo / "macros").rglob("grid_frames.sql"))
    macro.write_text(macro.read_text() + "\n")
    assert L.code_digest(repo) != second
    # the vars block enters by value, not as text
    project = repo / "dbt_project.yml"
    text = project.read_text()
    project.write_text(text.replace("n_boot: 2000", "n_boot: 2001"))
    third = L.code_digest(repo)
    project.write_text(text.replace("materialized: table", "materialized: view", 1))
    assert L.code_digest(repo) != third


def test_no_layer_model_reads_a_downstream_var():
    """Every var a layer model's SQL names is in the fingerprint (DOWNSTREAM_VARS are not)."""
    import re

    declared = set(effective_vars(_cfg(Path("/nonexistent"))))
    text = "\n".join(p.read_text() for p in L.layer_model_files())
    named = set(re.findall(r"""var\(\s*['"]([a-z0-9_]+)['"]""", text))
    assert named, "the layer models name vars"
    assert named <= declared | {"append_load_from"}
    assert not [v for v in named if L.is_downstream_var(v) and v != "end_date"]


def test_append_bounds_start_on_whole_grid_blocks():
    load_start = dt.datetime(2024, 12, 25)
    for bar in (1, 5):
        cut = dt.datetime(2025, 3, 1)
        load_from, check_from, splice_from = append_bounds(cut, load_start, bar, 8 * 1440)
        assert splice_from == cut - dt.timedelta(days=1)
        assert check_from == splice_from - dt.timedelta(days=1)
        offset = (load_from - load_start) / dt.timedelta(minutes=bar)
        assert offset % GRID_BLOCK_BARS == 0 and offset > 0
        assert check_from - load_from >= dt.timedelta(minutes=8 * 1440)
        assert check_from - load_from < dt.timedelta(minutes=8 * 1440 + GRID_BLOCK_BARS * bar)
    assert append_bounds(dt.datetime(2025, 1, 3), load_start, 1, 8 * 1440) is None


def _store_layer(cfg: RunConfig, plan: LayerPlan, tmp: Path) -> None:
    import duckdb

    wh = tmp / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create or replace table market_context as select 1 as x")
    con.execute("create or replace table lift_summary as select 1 as x")
    con.close()
    publish_layer(plan, wh, cfg.run_id)


def test_plan_reuses_extends_or_builds_cold(tmp_path, raw):
    cfg = _cfg(tmp_path, end_date=dt.date(2025, 2, 20))
    first = plan_layer(cfg, effective_vars(cfg))
    assert first.mode == "cold" and first.reason == "no layer of this fingerprint"
    _store_layer(cfg, first, tmp_path)
    import duckdb

    con = duckdb.connect(str(L.layer_path(first.store, first.layer_id)), read_only=True)
    names = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    con.close()
    assert names == {"market_context"}, "only the layer's relations are published"
    again = plan_layer(cfg, effective_vars(cfg))
    assert again.mode == "reuse" and again.source.layer_id == first.layer_id
    assert plan_layer(_cfg(tmp_path, end_date=dt.date(2025, 2, 20), fresh=True),
                      effective_vars(cfg)).mode == "cold"
    later = _cfg(tmp_path, end_date=dt.date(2025, 3, 1))
    ext = plan_layer(later, effective_vars(later))
    assert ext.mode == "append" and ext.cut == dt.datetime(2025, 2, 20)
    # a replaced month in the covered span moves the cut back to that month's start
    _month(raw / "um_klines_1m" / "symbol=BTCUSDT" / "2025-02.parquet", [3.0])
    ext = plan_layer(later, effective_vars(later))
    assert ext.mode == "append" and ext.cut == dt.datetime(2025, 2, 1)
    # ... and a change near the window's start leaves nothing to extend: cold
    _month(raw / "um_klines_1m" / "symbol=BTCUSDT" / "2024-12.parquet", [3.0])
    assert plan_layer(later, effective_vars(later)).mode == "cold"
    # a layer covering a later end is not cut back
    assert plan_layer(_cfg(tmp_path, end_date=dt.date(2025, 2, 10)),
                      effective_vars(cfg)).mode == "cold"


def test_a_half_published_layer_is_never_reused_and_prune_removes_it(tmp_path, raw):
    cfg = _cfg(tmp_path)
    plan = plan_layer(cfg, effective_vars(cfg))
    plan.store.mkdir(parents=True)
    # an interrupted publish: the file without its record, a partial copy of a dead process
    L.layer_path(plan.store, plan.layer_id).write_bytes(b"x")
    (plan.store / f".{plan.layer_id}.999999999.partial").write_bytes(b"x")
    assert plan_layer(cfg, effective_vars(cfg)).mode == "cold"
    assert len(leftovers(plan.store)) == 2
    from lifthouse import cli

    assert cli.main(["warehouse", "prune", "--out-dir", str(cfg.out_dir)]) == 0
    assert leftovers(plan.store) == []


def test_prune_keeps_the_newest_layer_of_each_base(tmp_path, raw):
    recs = []
    for end in (dt.date(2025, 2, 10), dt.date(2025, 2, 20)):
        cfg = _cfg(tmp_path, end_date=end)
        plan = plan_layer(cfg, effective_vars(cfg))
        _store_layer(cfg, plan, tmp_path)
        recs.append(plan.layer_id)
    layers = L.read_layers(L.layer_dir(tmp_path / "out"))
    assert [r.layer_id for r in superseded(layers)] == [recs[0]]
    from lifthouse import cli

    assert cli.main(["warehouse", "prune", "--out-dir", str(tmp_path / "out")]) == 0
    assert [r.layer_id for r in L.read_layers(L.layer_dir(tmp_path / "out"))] == [recs[1]]
    record = json.loads(L.record_path(L.layer_dir(tmp_path / "out"), recs[1]).read_text())
    assert record["end_date"] == "2025-02-20" and record["bytes"] > 0


def test_a_layer_changed_after_publishing_is_not_reused(tmp_path, raw):
    cfg = _cfg(tmp_path)
    plan = plan_layer(cfg, effective_vars(cfg))
    _store_layer(cfg, plan, tmp_path)
    assert plan_layer(cfg, effective_vars(cfg)).mode == "reuse"
    import duckdb

    con = duckdb.connect(str(L.layer_path(plan.store, plan.layer_id)))
    con.execute("insert into market_context values (2)")
    con.close()
    again = plan_layer(cfg, effective_vars(cfg))
    assert again.mode == "cold" and "changed after it was published" in again.reason


def test_a_day_landing_in_the_current_month_cuts_at_that_day(tmp_path, raw):
    """The layer records day digests of its last months: rows added on 2025-02-12 to the
    covered month cut there (not at 2025-02-01); a changed older day cuts at that day."""
    from lifthouse.run.layer_plan import last_months

    cfg = _cfg(tmp_path, end_date=dt.date(2025, 2, 20))
    plan = plan_layer(cfg, effective_vars(cfg))
    days = L.day_digests(cfg.data_dir, list(cfg.symbols), last_months(plan.months))
    assert "um_klines_1m/BTCUSDT/2025-02-02" in days and len(last_months(plan.months)) == 2
    import duckdb

    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    publish_layer(plan, wh, "t", days)
    month = raw / "um_klines_1m" / "symbol=BTCUSDT" / "2025-02.parquet"
    _month(month, [1.0, 2.0, 5.0], [1, 2, 12])          # a row lands on 2025-02-12
    later = _cfg(tmp_path, end_date=dt.date(2025, 3, 1))
    ext = plan_layer(later, effective_vars(later))
    assert ext.mode == "append" and ext.cut == dt.datetime(2025, 2, 12)
    _month(month, [1.0, 2.5, 5.0], [1, 2, 12])          # and the 2nd changes
    assert plan_layer(later, effective_vars(later)).cut == dt.datetime(2025, 2, 2)


def test_a_run_waits_for_the_layer_another_run_builds_and_says_so(tmp_path):
    """The layer lock: a second holder waits, says why, and gives up with a RunError naming the
    lock and the fix once the timeout passes."""
    from lifthouse.run.errors import RunError
    from lifthouse.run.layer_plan import layer_lock

    said = []
    with layer_lock(tmp_path, "abc", 5, said.append):
        with pytest.raises(RunError, match="stayed locked by another run") as exc:
            with layer_lock(tmp_path, "abc", 0.6, said.append):
                pass
    assert "LIFTHOUSE_LOCK_TIMEOUT" in str(exc.value) and "abc.lock" in str(exc.value)
    assert said and "another run is building the data layer abc" in said[0]
    with layer_lock(tmp_path, "abc", 0.6, said.append):   # released: taken at once
        pass
