"""What `lifthouse run`, `demo`, `preflight` and the benchmark refuse before anything runs (issue
35, items 12, 13, 16, 18): run ids that cannot name files, environment variables, a Spark run
from the DuckDB-only venv, vars outside their range, a --min-coverage that is no share, and a
window in the future. Each is one clear line with the fix, and nothing is written. Fast: no dbt
build starts."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.preflight import check_coverage
from lifthouse.run.config import RunConfig, check_vars, project_vars
from lifthouse.run.errors import RunError
from lifthouse.run.log import RunLog


def config(tmp_path: Path, **kw) -> RunConfig:
    args = dict(run_id="rc", symbols=["BTC"], data_dir=tmp_path / "raw", out_dir=tmp_path / "out",
                start_date=dt.date(2025, 1, 3), end_date=dt.date(2025, 1, 5), lookback_days=1)
    args.update(kw)
    return RunConfig(**args)


def run_cli(tmp_path: Path, *extra: str) -> int:
    return cli_main(["run", "--start", "2025-01-03", "--end", "2025-01-05", "--symbols", "BTC",
                     "--data-dir", str(tmp_path / "raw"), "--out-dir", str(tmp_path / "out"),
                     *extra])


def written(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []


# --------------------------------------------------------------------------------------------
# item 12: run ids


@pytest.mark.parametrize("run_id", ["rp\n", "rp\r\n", "r p", "-rp", ""])
def test_a_run_id_that_cannot_name_files_is_refused(tmp_path: Path, run_id: str):
    with pytest.raises(RunError) as err:
        config(tmp_path, run_id=run_id)
    assert err.value.exit_code == 2 and "letters, digits" in str(err.value)


def test_a_run_id_with_a_trailing_newline_writes_nothing(tmp_path: Path, capsys):
    assert run_cli(tmp_path, "--run-id", "rp\n") == 2
    assert "must be letters, digits" in capsys.readouterr().err
    assert written(tmp_path) == []


def test_a_300_character_run_id_gets_the_length_limit(tmp_path: Path, capsys):
    assert run_cli(tmp_path, "--run-id", "a" * 300) == 2
    err = capsys.readouterr().err
    assert "300 characters" in err and "at most 100" in err and "Traceback" not in err
    assert written(tmp_path) == []
    assert config(tmp_path, run_id="a" * 100).run_id == "a" * 100


# --------------------------------------------------------------------------------------------
# item 13: environment variables, wherever a user can hit them


@pytest.mark.parametrize("name", ["LIFTHOUSE_LIFT_WORKERS", "LIFTHOUSE_DUCKDB_THREADS"])
def test_demo_names_a_zero_count_variable_in_one_line(tmp_path: Path, monkeypatch, capsys, name):
    monkeypatch.setenv(name, "0")
    rc = cli_main(["demo", "--data-dir", str(tmp_path / "raw"), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and f"{name}=0 must be >= 1" in err and "Traceback" not in err
    assert written(tmp_path) == [] and not (tmp_path / "raw").exists()


@pytest.mark.parametrize("name", ["LIFTHOUSE_LIFT_WORKERS", "LIFTHOUSE_DUCKDB_THREADS"])
def test_the_benchmark_names_a_zero_count_variable_before_it_starts(tmp_path: Path, monkeypatch,
                                                                    capsys, name):
    from lifthouse.run import bench

    monkeypatch.setenv(name, "0")
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--only-scale", "--out", str(tmp_path / "bench.json")])
    assert exit_.value.code == 2
    assert f"{name}=0 must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "bench.json").exists()


def test_snoop_calibration_names_a_bad_variable_before_it_starts(monkeypatch, capsys):
    from lifthouse.run import snoop_calibration

    monkeypatch.setenv("LIFTHOUSE_DUCKDB_THREADS", "two")
    monkeypatch.setattr(snoop_calibration, "calibrate",
                        lambda *a: pytest.fail("the calibration started"))
    with pytest.raises(SystemExit) as exit_:
        snoop_calibration.main(["--null-seeds", "1", "--planted-seeds", "7"])
    assert exit_.value.code == 2
    assert "LIFTHOUSE_DUCKDB_THREADS='two' must be a whole number" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# item 16: --engine spark from the DuckDB-only venv


def test_a_spark_run_without_pyspark_says_to_use_the_spark_venv(tmp_path: Path, monkeypatch,
                                                                capsys):
    from lifthouse.run import spark

    monkeypatch.setattr(spark, "REQUIRED_MODULES", {"pyspark_not_installed_here": "pyspark",
                                                    "dbt.adapters.not_spark": "dbt-spark"})
    with pytest.raises(RunError) as err:
        config(tmp_path, engine="spark")
    msg = str(err.value)
    assert "pyspark" in msg and "dbt-spark" in msg
    assert "make setup-spark" in msg and ".venv-spark/bin/lifthouse" in msg
    assert run_cli(tmp_path, "--run-id", "sp", "--engine", "spark") == 2
    assert "make setup-spark" in capsys.readouterr().err
    assert written(tmp_path) == []


def test_spark_requirements_match_what_this_python_can_import(monkeypatch):
    import importlib.util

    from lifthouse.run.spark import missing_requirements

    have = importlib.util.find_spec("pyspark") is not None
    assert ("pyspark" in missing_requirements()) == (not have)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    assert "java (a Java runtime)" in missing_requirements()


def test_a_duckdb_run_does_not_check_for_spark(tmp_path: Path, monkeypatch):
    from lifthouse.run import spark

    monkeypatch.setattr(spark, "REQUIRED_MODULES", {"pyspark_not_installed_here": "pyspark"})
    assert config(tmp_path).engine == "duckdb"


# --------------------------------------------------------------------------------------------
# item 18: var ranges, --min-coverage, a window in the future


@pytest.mark.parametrize("key,value,range_text", [
    ("n_boot", -1, ">= 1"), ("n_boot", 0, ">= 1"), ("lift_alpha", 1.5, "in (0, 1)"),
    ("lift_alpha", 0, "in (0, 1)"), ("snoop_alpha", float("nan"), "in (0, 1)"),
    ("phase2_discovery_fraction", 1, "in (0, 1)"), ("feature_min_coverage", 0, "in (0, 1]"),
    ("lift_q_max", 1.01, "in (0, 1]"), ("lift_min_n", 0, ">= 1"), ("snoop_reps", 0, ">= 1"),
    ("snoop_pbo_blocks", 15, ">= 2 and even"),
    ("vacuum_sample_minutes", 7, "in [1, 60] and divide 60"),
    ("phase2_fee_bps_per_side", -1, ">= 0"), ("cascade_zmove_min", 0, "> 0"),
    ("cascade_oi_drop_pct", 150, "in (0, 100]"), ("vacuum_thin_minutes", -3, "> 0"),
    ("phase2_q_column", "q_xx", "one of q_bh, q_by"),
    ("phase2_condition_state_at", "later", "one of detection, pre_event"),
    ("oi_stamp_jitter_seconds", -1, ">= 0"), ("funding_lookback_days", -2, ">= 0"),
])
def test_a_var_outside_its_range_is_refused_naming_the_range(key, value, range_text):
    with pytest.raises(RunError) as err:
        check_vars({key: value})
    msg = str(err.value)
    assert err.value.exit_code == 2
    assert f"--var {key}=" in msg and f"must be {range_text}" in msg, msg


@pytest.mark.parametrize("key,value", [
    ("n_boot", 1), ("lift_alpha", 0.01), ("lift_q_max", 1), ("feature_min_coverage", 1),
    ("snoop_pbo_blocks", 8), ("vacuum_sample_minutes", 15), ("phase2_fee_bps_per_side", 0),
    ("phase2_holdout_lift_min_bps", -5.0), ("phase2_q_column", "q_by"),
    ("vacuum_thin_minutes", 5)])
def test_a_var_inside_its_range_passes(key, value):
    check_vars({key: value})


def test_every_default_of_dbt_project_is_inside_its_range():
    from lifthouse.run.config import VAR_RANGES, resolve_grain_vars

    defaults = project_vars()
    assert set(VAR_RANGES) <= set(defaults), set(VAR_RANGES) - set(defaults)
    for grain in (1, 5):
        values = resolve_grain_vars({**defaults, "bar_minutes": grain})
        for key, rng in VAR_RANGES.items():
            assert rng.holds(values[key]), (key, values[key], rng.text())


def test_the_run_refuses_a_negative_n_boot_before_anything_runs(tmp_path: Path, capsys):
    assert run_cli(tmp_path, "--run-id", "nb", "--var", "n_boot=-1") == 2
    assert "n_boot must be >= 1" in capsys.readouterr().err
    assert written(tmp_path) == []


@pytest.mark.parametrize("value", ["2", "0", "-0.5", "nan"])
def test_preflight_refuses_a_min_coverage_that_is_no_share(tmp_path: Path, capsys, value):
    rc = cli_main(["preflight", "--start", "2025-01-03", "--end", "2025-01-05", "--symbols", "BTC",
                   "--data-dir", str(tmp_path), "--min-coverage", value])
    out = capsys.readouterr().out
    assert rc == 2 and "--min-coverage" in out and "(0, 1]" in out


def test_min_coverage_one_is_a_share(tmp_path: Path):
    rep = check_coverage(tmp_path, ["BTC"], "2025-01-03", "2025-01-05", 1, min_coverage=1.0)
    assert rep.future is None and not rep.ok      # empty dir: fails on data, not on the option


def test_a_window_in_the_future_says_so_and_suggests_no_ingest(tmp_path: Path):
    rep = check_coverage(tmp_path, ["BTC"], "2099-01-03", "2099-01-05", 1)
    assert not rep.ok and rep.ingest_command is None and rep.optional_command is None
    assert "in the future" in rep.errors[0] and "in the future" in rep.render()
    assert "lifthouse ingest" not in rep.render()


def test_a_window_ending_after_today_ingests_only_the_days_before_today(tmp_path: Path):
    today = dt.datetime.now(dt.timezone.utc).date()
    start, end = today - dt.timedelta(days=5), today + dt.timedelta(days=5)
    rep = check_coverage(tmp_path, ["BTC"], start, end, 1)
    assert f"after today {today}" in rep.errors[0]
    assert f"--end {today} " in rep.ingest_command and f"--end {end}" not in rep.ingest_command


def test_a_past_window_keeps_its_ingest_command(tmp_path: Path):
    rep = check_coverage(tmp_path, ["BTC"], "2025-01-03", "2025-01-05", 1)
    assert rep.future is None
    assert "--end 2025-01-05 " in rep.ingest_command


def test_run_ingest_over_a_future_window_says_so_before_ingesting(tmp_path: Path, monkeypatch):
    from lifthouse.run import fill

    monkeypatch.setattr(fill, "fill_by_ingest", lambda *a: pytest.fail("ingest started"))
    cfg = config(tmp_path, start_date=dt.date(2099, 1, 3), end_date=dt.date(2099, 1, 5),
                 fill="ingest")
    with pytest.raises(RunError) as err:
        fill.stage_preflight(cfg, RunLog(stream=io.StringIO()))
    assert "in the future" in str(err.value) and "lifthouse ingest" not in str(err.value)


def test_what_a_hand_run_dbt_build_meets_with_zero_counts():
    """docs/failure_modes.md, "dbt run directly": DuckDB refuses threads=0 when profiles.yml
    passes it, and the lift model's worker count refuses LIFTHOUSE_LIFT_WORKERS=0."""
    import duckdb

    from lifthouse.run.resources import lift_workers

    with pytest.raises(duckdb.Error, match="at least 1 thread"):
        duckdb.connect(config={"threads": "0"})
    with pytest.raises(ValueError, match="LIFTHOUSE_LIFT_WORKERS=0 must be >= 1"):
        lift_workers({"LIFTHOUSE_LIFT_WORKERS": "0"})
    profiles = (Path(__file__).resolve().parents[2] / "profiles.yml").read_text()
    assert "env_var('LIFTHOUSE_DUCKDB_THREADS', '2')" in profiles   # the default is safe
