"""DuckDB resource settings (lifthouse.run.resources): defaults that fit the machine, the
environment overrides them, and dbt gets them through profiles.yml's env vars."""

from pathlib import Path

import pytest

from lifthouse.run import resources
from lifthouse.run.dbt import dbt_env


def test_default_memory_limit_is_a_quarter_of_ram_clamped():
    gb = 1024 ** 3
    assert resources.default_memory_limit(24 * gb) == "4GB"
    assert resources.default_memory_limit(8 * gb) == "2GB"
    assert resources.default_memory_limit(2 * gb) == "1GB"
    assert resources.default_memory_limit(None) == "4GB"


def test_environment_overrides_and_temp_dir_defaults_beside_the_warehouse(tmp_path):
    wh = tmp_path / "w" / "run.duckdb"
    r = resources.resolve(wh, {})
    assert r.temp_directory == Path(f"{wh.resolve()}.tmp")
    assert r.threads >= 1
    r = resources.resolve(wh, {resources.MEMORY_LIMIT_ENV: "900MB", resources.THREADS_ENV: "1",
                               resources.TEMP_DIR_ENV: str(tmp_path / "spill")})
    assert (r.memory_limit, r.threads, r.temp_directory) == ("900MB", 1, tmp_path / "spill")
    with pytest.raises(ValueError, match="LIFTHOUSE_DUCKDB_THREADS"):
        resources.resolve(wh, {resources.THREADS_ENV: "two"})


def test_dbt_gets_the_settings_and_profiles_yml_reads_them(tmp_path, monkeypatch):
    monkeypatch.setenv(resources.MEMORY_LIMIT_ENV, "1GB")
    env = dbt_env(tmp_path / "x.duckdb", tmp_path / "target")
    assert env[resources.MEMORY_LIMIT_ENV] == "1GB"
    assert env[resources.TEMP_DIR_ENV] == f"{(tmp_path / 'x.duckdb').resolve()}.tmp"
    profile = (Path(__file__).resolve().parents[2] / "profiles.yml").read_text()
    for name, setting in ((resources.MEMORY_LIMIT_ENV, "memory_limit"),
                          (resources.THREADS_ENV, "threads"),
                          (resources.TEMP_DIR_ENV, "temp_directory")):
        assert f"{setting}: \"{{{{ env_var('{name}'" in profile
    assert "config_options:" in profile  # once per database: a SET per cursor fails after a spill


def test_lift_workers_default_and_override():
    from lifthouse.run.resources import LIFT_WORKERS_ENV, available_cpus, lift_workers

    assert lift_workers({}) == available_cpus()
    assert lift_workers({LIFT_WORKERS_ENV: "3"}) == 3
    for bad in ("0", "two"):
        with pytest.raises(ValueError, match=LIFT_WORKERS_ENV):
            lift_workers({LIFT_WORKERS_ENV: bad})
