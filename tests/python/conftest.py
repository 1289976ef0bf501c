"""Shared fixtures. Real Binance data lives beside the repo in ../shared/data; tests that need it
skip with a clear message when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lifthouse.run.dbt import REPO_ROOT

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

REAL_DATA = Path(os.environ.get("LIFTHOUSE_REAL_DATA", REPO_ROOT.parent / "shared" / "data" / "binance"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real Binance data folder (../shared/data/binance), or skip."""
    if not (REAL_DATA / "um_klines_1m").is_dir():
        pytest.skip(f"real Binance data not found at {REAL_DATA} (set LIFTHOUSE_REAL_DATA or "
                    "place shared/data beside the repository); this test needs it")
    return REAL_DATA


@pytest.fixture
def dbt_paths(tmp_path: Path) -> dict[str, Path]:
    """An isolated warehouse file and dbt target folder for one test."""
    return {"warehouse": tmp_path / "wh.duckdb", "target_dir": tmp_path / "target"}
