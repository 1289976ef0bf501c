"""Property test of the import (issue 35, acceptance): random corruptions of valid input files
(NaN / inf / negative / zero / huge values, NULLs, shifted stamps, duplicated, dropped and
swapped rows, mixed symbols, mis-scaled bars and funding) are either refused, leaving the raw
layer byte-identical, or stored exactly as given; and no write changes a stored month it did not
announce (``WriteReport.files_written``) or one the input has no rows in.

numpy's seeded RNG draws a fixed number of cases, so every run checks the same cases; a failing
case prints its number and corruptions (re-run one with ``-k "case_17"``)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lifthouse.data.importer import import_files
from lifthouse.data.raw import read_dataset
from lifthouse.data.schema import DATASETS, RawDataError

SEED = 35
N_CASES = 80
QUIET = {"log": lambda *_: None}
DATASET_NAMES = ("um_klines_1m", "um_funding_rate", "um_open_interest_5m", "um_liquidations")


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under root (to prove nothing changed)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def ms(start: str, n: int, step: str) -> np.ndarray:
    return pd.date_range(start, periods=n, freq=step).as_unit("ms").asi8.astype("int64")


def _truth(dataset: str) -> pd.DataFrame:
    """A valid series per dataset, Binance-style (epoch ms), across the Jan/Feb 2025 month
    boundary: the store holds its first part, each case's file a random window of it (so rows
    both hold agree)."""
    rng = np.random.default_rng(SEED + DATASET_NAMES.index(dataset))
    if dataset == "um_klines_1m":
        n = 480
        close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
        open_ = np.r_[100.0, close[:-1]]
        return pd.DataFrame({
            "open_time": ms("2025-01-31 20:00", n, "1min"), "open": open_,
            "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
            "close": close, "volume": rng.uniform(1, 5, n)})
    if dataset == "um_funding_rate":
        n = 63
        rate = np.where(rng.uniform(size=n) < 0.4, 1e-4, rng.normal(5e-5, 4e-5, n))
        return pd.DataFrame({"funding_time": ms("2025-01-20", n, "8h"), "funding_rate": rate})
    if dataset == "um_open_interest_5m":
        n = 96
        oi = 80_000 + np.cumsum(rng.normal(0, 50, n))
        return pd.DataFrame({"timestamp": ms("2025-01-31 20:00", n, "5min"),
                             "sum_open_interest": oi, "sum_open_interest_value": oi * 100_000.0})
    n = 60
    t = np.sort(rng.choice(np.arange(1738353600000, 1738382400000, 1000), n, replace=False))
    return pd.DataFrame({"time": t.astype("int64"),
                         "side": rng.choice(["BUY", "SELL"], n).astype(object),
                         "price": np.round(rng.uniform(99_000, 101_000, n), 1),
                         "quantity": np.round(rng.uniform(0.001, 3, n), 3)})


TRUTH = {d: _truth(d) for d in DATASET_NAMES}


def stored_part(dataset: str) -> pd.DataFrame:
    """The truth's first third: what the store holds before every case."""
    df = TRUTH[dataset]
    return df.iloc[: len(df) // 3].reset_index(drop=True)


def valid_input(dataset: str, rng: np.random.Generator) -> pd.DataFrame:
    """A random window (at least 12 rows) of the dataset's truth: a valid file's rows."""
    n = len(TRUTH[dataset])
    a = int(rng.integers(0, n - 12))
    b = int(rng.integers(a + 12, n + 1))
    return TRUTH[dataset].iloc[a:b].reset_index(drop=True)


def numeric_columns(df: pd.DataFrame, time_col: str) -> list[str]:
    return [c for c in df.columns if c not in (time_col, "side", "symbol")]


def corrupt(df: pd.DataFrame, dataset: str, kind: str, rng: np.random.Generator) -> pd.DataFrame:
    """One corruption of a valid file's rows (a copy)."""
    spec = DATASETS[dataset]
    t = spec.time_column
    df = df.copy()
    n = len(df)
    i = int(rng.integers(0, n))
    col = str(rng.choice(numeric_columns(df, t)))
    if kind in ("nan", "inf", "-inf", "negative", "zero", "huge", "null"):
        df[col] = df[col].astype("float64")
        value = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "zero": 0.0, "huge": 1e300,
                 "negative": -abs(float(df.at[i, col])) - (col != "funding_rate"),
                 "null": None}[kind]  # a negative funding rate is valid, the others are not
        df[col] = df[col].astype(object)
        df.at[i, col] = value
    elif kind == "nan_time":
        df[t] = df[t].astype("float64")
        df.at[i, t] = np.nan
    elif kind == "shift_one":
        step = int(rng.choice([1_000, 30_000, 60_000, 300_000, 3_600_000, -60_000]))
        df.at[i, t] = int(df.at[i, t]) + step
    elif kind == "shift_all":
        step = int(rng.choice([1_000, 60_000, 300_000, 3_600_000, 86_400_000, 31 * 86_400_000]))
        df[t] = df[t] + step
    elif kind == "duplicate":
        rows = rng.choice(n, size=int(rng.integers(1, 4)))
        df = pd.concat([df, df.iloc[rows]]).sort_values(t, kind="stable").reset_index(drop=True)
    elif kind == "drop":
        keep = np.ones(n, dtype=bool)
        keep[rng.choice(n, size=int(rng.integers(1, max(2, n // 3))), replace=False)] = False
        keep[0] = True
        df = df[keep].reset_index(drop=True)
    elif kind == "swap" and n > 2:
        j = (i + 1) % n
        df.iloc[[i, j]] = df.iloc[[j, i]].to_numpy()
    elif kind == "mixed_symbols":
        df["symbol"] = "BTCUSDT"
        df.loc[rng.choice(n, size=int(rng.integers(1, n)), replace=False), "symbol"] = "ETHUSDT"
    elif kind == "symbol_column":
        df["symbol"] = "BTCUSDT"
    elif kind == "scale":
        factor = float(rng.choice([1000.0, 0.001, 100.0, 1.5]))
        if dataset == "um_klines_1m":
            for c in ("open", "high", "low", "close"):
                df[c] = df[c].astype("float64")
                df.at[i, c] = df.at[i, c] * factor
        elif dataset == "um_funding_rate":
            df["funding_rate"] = df["funding_rate"] * factor
        else:
            df[col] = df[col].astype("float64") * factor
    return df


KINDS = ("none", "nan", "inf", "-inf", "negative", "zero", "huge", "null", "nan_time",
         "shift_one", "shift_all", "duplicate", "drop", "swap", "mixed_symbols",
         "symbol_column", "scale")
# kinds that often leave a valid file are drawn more often, so that about a third of the cases
# are accepted (and their rows compared) rather than refused
_WEIGHTS = np.array([4 if k in ("none", "drop", "shift_all", "symbol_column", "negative", "zero")
                     else 1 for k in KINDS], dtype=float)


def write_input(df: pd.DataFrame, path: Path) -> Path:
    """Write as given: NaN stays IEEE NaN (as pyarrow, DuckDB and polars write it), None is
    NULL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for c in df.columns:
        values = df[c].tolist()
        if c in ("side", "symbol"):
            arrays[c] = pa.array(values, type=pa.string())
        elif all(isinstance(v, (int, np.integer)) for v in values):
            arrays[c] = pa.array(values, type=pa.int64())
        else:
            arrays[c] = pa.array([None if v is None else float(v) for v in values],
                                 type=pa.float64(), from_pandas=False)
    pq.write_table(pa.table(arrays), path)
    return path


def expected_rows(dataset: str, df: pd.DataFrame) -> pd.DataFrame:
    """The rows the raw layer must hold for an accepted input, by the dataset's key."""
    spec = DATASETS[dataset]
    out = df.drop(columns=[c for c in ("symbol",) if c in df.columns]).copy()
    out[spec.time_column] = pd.to_datetime(out[spec.time_column].astype("int64"),
                                           unit="ms").astype("datetime64[us]")
    if dataset == "um_liquidations":
        out["notional_usd"] = out["price"].astype(float) * out["quantity"].astype(float)
    for c in out.columns:
        if c not in (spec.time_column, "side"):
            out[c] = out[c].astype("float64")
    return out


def stored_rows(data_dir: Path, dataset: str) -> pd.DataFrame:
    return read_dataset(data_dir, dataset, "BTCUSDT").to_pandas()


def same_rows(got: pd.DataFrame, want: pd.DataFrame, dataset: str) -> None:
    spec = DATASETS[dataset]
    keys = list(spec.key_columns)
    cols = [c for c in want.columns]
    g = got[cols].sort_values(keys, kind="stable").reset_index(drop=True)
    w = want[cols].sort_values(keys, kind="stable").reset_index(drop=True)
    g[spec.time_column] = g[spec.time_column].astype("datetime64[us]")
    w[spec.time_column] = w[spec.time_column].astype("datetime64[us]")
    pd.testing.assert_frame_equal(g, w, check_dtype=False, check_exact=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A raw layer holding valid rows of each dataset (some overlap the cases' inputs)."""
    d = tmp_path_factory.mktemp("store") / "raw"
    for dataset in DATASET_NAMES:
        path = write_input(stored_part(dataset), d.parent / "in" / dataset / "BTCUSDT.parquet")
        import_files([path], dataset, data_dir=d, **QUIET)
    return d


CASES = []
_rng = np.random.default_rng(SEED)
for _k in range(N_CASES):
    _dataset = DATASET_NAMES[_k % len(DATASET_NAMES)]
    _kinds = tuple(str(k) for k in _rng.choice(KINDS, size=int(_rng.integers(1, 3)),
                                               replace=False, p=_WEIGHTS / _WEIGHTS.sum()))
    if _k < len(KINDS):  # every kind at least once
        _kinds = (KINDS[_k],) + tuple(k for k in _kinds[1:] if k != KINDS[_k])
    CASES.append((_k, _dataset, _kinds, int(_rng.integers(0, 2**31))))


@pytest.mark.parametrize("case,dataset,kinds,seed", CASES,
                         ids=[f"case_{c[0]}-{c[1]}-{'+'.join(c[2])}" for c in CASES])
def test_a_corrupted_file_is_refused_or_stored_exactly(store: Path, tmp_path: Path, case: int,
                                                       dataset: str, kinds: tuple, seed: int):
    rng = np.random.default_rng(seed)
    data_dir = tmp_path / "raw"
    shutil.copytree(store, data_dir)
    df = valid_input(dataset, rng)
    for kind in kinds:
        df = corrupt(df, dataset, kind, rng)
    path = write_input(df, tmp_path / "in" / "BTCUSDT.parquet")
    before = tree_digest(data_dir)
    before_rows = stored_rows(data_dir, dataset)
    try:
        reports = import_files([path], dataset, data_dir=data_dir, **QUIET)
    except RawDataError as exc:
        assert str(path) in str(exc), exc
        assert tree_digest(data_dir) == before, f"refused ({exc}) but the raw layer changed"
        return
    # accepted: exactly the input's rows (and the stored ones) are stored, all finite
    want = expected_rows(dataset, df)
    required = [c for c in DATASETS[dataset].required if c in want.columns]
    assert not want[required].isna().any().any(), f"{kinds}: NULL or NaN accepted"
    table = read_dataset(data_dir, dataset, "BTCUSDT")
    for name in table.column_names:
        if pa.types.is_floating(table.schema.field(name).type):
            col = table.column(name)
            assert not pc.any(pc.is_nan(col)).as_py(), f"{kinds}: NaN stored in {name}"
            assert not pc.any(pc.is_inf(col)).as_py(), f"{kinds}: inf stored in {name}"
    got = table.to_pandas()
    keys = list(DATASETS[dataset].key_columns)
    kept = before_rows.merge(want[keys].assign(_new=1), on=keys, how="left")
    old = before_rows[kept["_new"].isna().to_numpy()]
    same_rows(got, pd.concat([old[want.columns], want], ignore_index=True), dataset)
    # ... and only months it announced, each one the input has rows in, changed
    after = tree_digest(data_dir)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    announced = {str(Path(p).relative_to(data_dir)) for r in reports for p in r.files_written}
    assert changed == announced, (changed, announced)
    months = {str(m)[:7] for m in want[DATASETS[dataset].time_column].dt.to_period("M")}
    assert {Path(p).stem for p in announced} <= months


def test_the_cases_cover_every_corruption_and_dataset():
    """The fixed cases exercise every corruption kind and every dataset."""
    kinds = {k for c in CASES for k in c[2]}
    assert kinds == set(KINDS)
    assert {c[1] for c in CASES} == set(DATASET_NAMES)
