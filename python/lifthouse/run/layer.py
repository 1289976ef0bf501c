"""The data layer: the models that depend only on the raw data and the feature / context vars
(staging, the bar grid, the features, the vol tertiles, ``market_context``), built once per data
version and reused by every run that asks another question of the same data (docs/running.md,
"Reuse of the data layer").

A layer is a DuckDB file in the layer store (``<out>/warehouse/layers``, or
``$LIFTHOUSE_LAYER_DIR``) holding only these relations, plus a JSON record of its fingerprint:

- ``base``: what the layer is computed from apart from the data (:func:`layer_base`): the vars
  that feed it (every var except :data:`DOWNSTREAM_VARS`), the code of its models and of every
  macro (:func:`code_digest`), the grain, the window's start and lookback, the symbols, the raw
  folder, the versions of dbt and DuckDB;
- ``months``: one digest per raw month file the run reads (:func:`month_digests`): the row
  checksum the writer records in the file (``lifthouse.rows_sha256``, verified against the rows
  by every preflight), or the sha256 of the file's bytes when the file has none;
- ``end_date``: the end of the window it covers.

The layer id is the sha256 of all three. :mod:`lifthouse.run.layer_plan` decides, per run,
whether to reuse a layer, extend one (:mod:`lifthouse.run.layer_append`) or build cold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifthouse.run.dbt import REPO_ROOT

LAYER_DIR_ENV = "LIFTHOUSE_LAYER_DIR"
# bump when the layer's file layout or the fingerprint's rules change: older layers stop matching
LAYER_FORMAT = 1

# The layer's tables and the time column each is spliced on by an append (rows from a time on).
LAYER_TABLES: dict[str, str] = {
    "stg_binance__perp_klines": "open_time",
    "stg_binance__spot_klines": "open_time",
    "stg_binance__liquidations": "liquidated_at",
    "int_perp_bars_gridded": "open_time",
    "int_features_bars_computed": "open_time",
    "int_features_liquidations_bucketed": "open_time",
    "int_features_open_interest_computed": "oi_time",
    "int_features_series_attached": "open_time",
    "int_features_joined": "open_time",
    "int_context_vol_tertiles_sampled": "sampled_at",
    "market_context": "open_time",
}
# The layer's views: reused as they are; an append re-creates them for its window.
LAYER_VIEWS: tuple[str, ...] = ("stg_binance__funding_rates", "stg_binance__open_interest_5m",
                                "int_funding_rates_settled", "features_v1")
LAYER_MODELS: tuple[str, ...] = (*LAYER_TABLES, *LAYER_VIEWS)
# the primary key of each layer table (its unique_combination test): the append's seam check
# pairs rows on it
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    **{t: ("symbol", "open_time") for t in LAYER_TABLES},
    "stg_binance__liquidations": ("symbol", "liquidated_at", "side", "price", "quantity"),
    "int_features_open_interest_computed": ("symbol", "oi_time"),
    "int_context_vol_tertiles_sampled": ("symbol", "sampled_at"),
}

# The vars that feed only the models after the layer (events, plan, backtest, lift, snooping,
# report), or that the run handles itself (end_date: the layer's coverage; append_load_from: the
# append's own). Every other var of dbt_project.yml is part of the layer's fingerprint, so a new
# var is safe by default (test_layer checks that no layer model reads one of these).
DOWNSTREAM_VAR_PREFIXES = ("cascade_", "phase2_", "snoop_", "lift_")
DOWNSTREAM_VARS = ("run_id", "end_date", "append_load_from", "vacuum_shock_sigma",
                   "vacuum_thin_minutes", "vacuum_baseline_minutes", "vacuum_sample_minutes",
                   "vacuum_range_quantile", "vacuum_illiq_quantile", "vacuum_cooldown_minutes",
                   "fault_ignore_condition_filter", "bootstrap_seed", "n_boot")


def is_downstream_var(name: str) -> bool:
    return name in DOWNSTREAM_VARS or name.startswith(DOWNSTREAM_VAR_PREFIXES)


def layer_dir(out_dir: Path) -> Path:
    """The layer store of an out dir (``$LIFTHOUSE_LAYER_DIR`` when set)."""
    env = os.environ.get(LAYER_DIR_ENV)
    return Path(env) if env else Path(out_dir) / "warehouse" / "layers"


def layer_model_files(repo: Path = REPO_ROOT) -> list[Path]:
    """The SQL file of each layer model (found by name under models/)."""
    files = {p.stem: p for p in (repo / "models").rglob("*.sql")}
    missing = [m for m in LAYER_MODELS if m not in files]
    if missing:
        raise FileNotFoundError(f"layer models without a file under models/: {missing}")
    return [files[m] for m in LAYER_MODELS]


def _project_without_vars(text: str) -> str:
    """dbt_project.yml without its ``vars:`` block (the vars enter the fingerprint by value)."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("vars:"):
            skipping = True
            continue
        if skipping and line and not line[0].isspace() and not line.startswith("#"):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def code_digest(repo: Path = REPO_ROOT) -> str:
    """sha256 of the layer models' SQL, every macro, dbt_project.yml (its vars aside) and the
    versions of dbt-core, dbt-duckdb and duckdb: any change to them makes a new layer."""
    from importlib.metadata import version

    h = hashlib.sha256(f"format {LAYER_FORMAT}\n".encode())
    files = [*layer_model_files(repo), *sorted((repo / "macros").rglob("*.sql"))]
    for path in files:
        h.update(f"{path.relative_to(repo).as_posix()}\n".encode())
        h.update(path.read_bytes())
    h.update(_project_without_vars((repo / "dbt_project.yml").read_text()).encode())
    for pkg in ("dbt-core", "dbt-duckdb", "duckdb"):
        h.update(f"{pkg} {version(pkg)}\n".encode())
    return h.hexdigest()


def layer_vars(effective: dict[str, Any]) -> dict[str, Any]:
    """The vars that feed the layer: every effective var but the downstream ones."""
    return {k: effective[k] for k in sorted(effective) if not is_downstream_var(k)}


def layer_base(effective: dict[str, Any], code: str) -> dict[str, Any]:
    """What a layer is computed from apart from the data. ``effective``: the run's effective vars
    (``lifthouse.run.config.effective_vars``; they hold the window, symbols, grain and raw
    folder)."""
    return {"format": LAYER_FORMAT, "vars": layer_vars(effective), "code": code}


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def base_id(base: dict[str, Any]) -> str:
    return _digest(base)[:20]


def layer_id(base: dict[str, Any], months: dict[str, str], end_date: str) -> str:
    return _digest({"base": base, "months": months, "end_date": end_date})[:20]


# ----------------------------------------------------------------------------------------------
# the raw months a run reads

def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_read(start_date: dt.date, end_date: dt.date, lookback_days: int,
                funding_lookback_days: int) -> list[str]:
    """``YYYY-MM`` of every month the run's staging can read: from the earliest load start (the
    funding lookback, one more day for open interest and liquidations) to the window's end."""
    first = _month_start(start_date - dt.timedelta(days=lookback_days + funding_lookback_days + 1))
    last = _month_start(end_date - dt.timedelta(days=1))
    out, m = [], first
    while m <= last:
        out.append(f"{m:%Y-%m}")
        m = (m + dt.timedelta(days=32)).replace(day=1)
    return out


# file_digest's results in this process, by (path, size, mtime_ns, inode): a run plans twice
# (before and after its preflight); the writer replaces a file by a rename, a new inode
_DIGESTS: dict[tuple, str] = {}


def file_digest(path: Path) -> str:
    """The row checksum the writer recorded in the file, else the sha256 of its bytes. The
    recorded checksum changes with the rows (a ``--replace`` writes new rows and their new
    checksum), and preflight verifies it against the rows on every run."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        _DIGESTS[key] = _file_digest(path)
    return _DIGESTS[key]


def _file_digest(path: Path) -> str:
    import pyarrow.parquet as pq

    from lifthouse.data.checksum import recorded_checksum

    try:
        recorded = recorded_checksum(pq.read_metadata(path).metadata)
    except Exception:  # noqa: BLE001 - unreadable: the bytes still identify it
        recorded = None
    if recorded:
        return f"rows:{recorded}"
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"bytes:{h.hexdigest()}"


def month_files(data_dir: Path, symbols: list[str], months: list[str]) -> dict[str, Path]:
    """``{"<dataset>/<symbol>/<YYYY-MM>": path}`` of every raw month file of the run's symbols
    in ``months``, for every dataset folder under ``data_dir``."""
    wanted = set(months)
    paths: dict[str, Path] = {}
    data_dir = Path(data_dir)
    if data_dir.is_dir():
        for ds in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            for sym in symbols:
                folder = ds / f"symbol={sym}"
                if not folder.is_dir():
                    continue
                for f in folder.glob("*.parquet"):
                    if f.stem in wanted:
                        paths[f"{ds.name}/{sym}/{f.stem}"] = f
    return dict(sorted(paths.items()))


def month_digests(data_dir: Path, symbols: list[str], months: list[str]) -> dict[str, str]:
    """``{"<dataset>/<symbol>/<YYYY-MM>": digest}`` (:func:`file_digest`) of every raw month file
    of the run's symbols in ``months``."""
    from concurrent.futures import ThreadPoolExecutor

    paths = month_files(data_dir, symbols, months)
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = dict(zip(paths, pool.map(file_digest, paths.values())))
    return dict(sorted(digests.items()))


# a layer records per-day digests of its last months: a new day landing in the current month
# (the daily ingest) then cuts at that day, not at the month's start
DAY_DIGEST_MONTHS = 2


def day_digests(data_dir: Path, symbols: list[str], months: list[str]) -> dict[str, str]:
    """``{"<dataset>/<symbol>/<YYYY-MM-DD>": "<rows>:<sum of row hashes>"}`` of the raw files of
    ``months`` (datasets of the raw schema only), by the UTC day of each row's time."""
    import duckdb

    from lifthouse.data.raw import sql_string
    from lifthouse.data.schema import DATASETS

    by_dataset: dict[str, dict[str, Path]] = {}
    for key, path in month_files(data_dir, symbols, months).items():
        by_dataset.setdefault(key.split("/", 1)[0], {})[key] = path
    out: dict[str, str] = {}
    con = duckdb.connect()
    try:
        for ds, files in sorted(by_dataset.items()):
            spec = DATASETS.get(ds)
            if spec is None:
                continue
            for key, path in files.items():
                sym = key.split("/")[1]
                rows = con.execute(
                    f'select cast("{spec.time_column}" as date), count(*), sum(hash(t)) '
                    f"from read_parquet({sql_string(path.as_posix())}) t group by 1 order by 1"
                ).fetchall()
                for day, n, total in rows:
                    out[f"{ds}/{sym}/{day.isoformat()}"] = f"{n}:{total}"
    finally:
        con.close()
    return dict(sorted(out.items()))


def first_changed_day(old: dict[str, str], new: dict[str, str], month: str) -> str | None:
    """The earliest ``YYYY-MM-DD`` of ``month`` whose rows differ between two day digests."""
    keys = {k for k in set(old) | set(new) if k.rsplit("/", 1)[1].startswith(month)}
    changed = sorted(k.rsplit("/", 1)[1] for k in keys if old.get(k) != new.get(k))
    return changed[0] if changed else None


def first_changed(old: dict[str, str], new: dict[str, str]) -> str | None:
    """The earliest ``YYYY-MM`` whose files differ between two month digests (added, removed or
    changed), or None."""
    keys = set(old) | set(new)
    changed = sorted(k.rsplit("/", 1)[1] for k in keys if old.get(k) != new.get(k))
    return changed[0] if changed else None


# ----------------------------------------------------------------------------------------------
# the store

@dataclass(frozen=True)
class LayerRecord:
    """A finished layer: its file and its fingerprint record (``<id>.json``)."""
    layer_id: str
    path: Path
    record: dict[str, Any]

    @property
    def base_id(self) -> str:
        return self.record["base_id"]

    @property
    def end_date(self) -> dt.date:
        return dt.date.fromisoformat(self.record["end_date"])

    @property
    def months(self) -> dict[str, str]:
        return self.record["months"]

    def intact(self) -> bool:
        """The file is as it was published (size and modification time): a layer opened for
        writing since, by hand, is never reused."""
        try:
            st = self.path.stat()
        except OSError:
            return False
        return (st.st_size == self.record.get("bytes")
                and st.st_mtime_ns == self.record.get("mtime_ns"))


def layer_path(store: Path, lid: str) -> Path:
    return Path(store) / f"{lid}.duckdb"


def record_path(store: Path, lid: str) -> Path:
    return Path(store) / f"{lid}.json"


def read_layers(store: Path) -> list[LayerRecord]:
    """The finished layers of a store: a record (written last, when the file is complete) beside
    its file. A file without a record (an interrupted publish) is never reused; nor is one
    changed since it was published (:meth:`LayerRecord.intact`, checked by the plan)."""
    out = []
    store = Path(store)
    if not store.is_dir():
        return out
    for rec in sorted(store.glob("*.json")):
        db = rec.with_suffix(".duckdb")
        if not db.is_file():
            continue
        try:
            data = json.loads(rec.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("layer_id") == rec.stem:
            out.append(LayerRecord(rec.stem, db, data))
    return out
