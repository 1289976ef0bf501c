"""The raw layer's one writer: concurrent writers never lose rows, generated data never replaces
imported data, implausible times are refused, symbols are never guessed (docs/failure_modes.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifthouse.importer import import_files
from lifthouse.raw import RawDataError, read_dataset

N_TRIALS = 10
HALF = 20_000  # bars per half: ~14 days each, so both halves fall in January 2025


def bars(n: int, start: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[100.0, close[:-1]]
    t = pd.date_range(start, periods=n, freq="1min")
    return pd.DataFrame({
        "open_time": t.as_unit("ms").asi8.astype("int64"),
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.uniform(1, 5, n),
    })


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


# Each writer imports its modules, then spins until the go file appears, so both merge the
# stored month at the same moment.
WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from lifthouse.importer import import_files
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.001)
    import_files([Path(sys.argv[2])], "um_klines_1m", data_dir=Path(sys.argv[3]),
                 log=lambda *_: None)
""")


def test_two_concurrent_imports_of_one_month_keep_every_row(tmp_path: Path):
    a = write_parquet(bars(HALF, "2025-01-01", seed=1), tmp_path / "in_a" / "BTCUSDT.parquet")
    b = write_parquet(bars(HALF, "2025-01-01") .assign(
        open_time=lambda d: d.open_time + HALF * 60_000), tmp_path / "in_b" / "BTCUSDT.parquet")
    lost = []
    for trial in range(N_TRIALS):
        data_dir = tmp_path / f"raw{trial}"
        go = tmp_path / f"go{trial}"
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(go), str(f), str(data_dir)],
                                  stderr=subprocess.PIPE, text=True) for f in (a, b)]
        time.sleep(1.5)  # both have imported pandas/pyarrow and are spinning
        go.touch()
        errs = [p.communicate(timeout=120)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errs
        n = read_dataset(data_dir, "um_klines_1m", "BTCUSDT").num_rows
        if n != 2 * HALF:
            lost.append((trial, n))
    assert not lost, f"rows lost in {len(lost)} of {N_TRIALS} trials (trial, rows kept): {lost}"
