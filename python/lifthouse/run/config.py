"""The run's configuration (SPEC 10): window, symbols, folders, and the dbt vars it passes,
checked against the vars dbt_project.yml declares (the one home of their defaults)."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifthouse import defaults
from lifthouse.data.raw import normalize_symbol
from lifthouse.data.schema import BAR_MINUTES
from lifthouse.run.dbt import REPO_ROOT
from lifthouse.run.errors import RunError
from lifthouse.run.export import ExportLayout

# the report's tables (models/marts/reporting/rpt_*) are built and tested with the run's models
DEFAULT_SELECT = ("+lift_summary", "+phase2_candidate_results", "+phase2_grid_tests",
                  "+dq_perp_kline_gaps",
                  "+path:models/marts/reporting")
# vars that have their own option (a --var for them would silently disagree with the option)
RESERVED_VARS = ("run_id", "symbols", "start_date", "end_date", "lookback_days", "raw_dir",
                 "bar_minutes")
# a var of dbt_project.yml that is a table of defaults, not a setting (resolved into the vars)
GRAIN_DEFAULTS_VAR = "grain_defaults"
ENGINES = ("duckdb", "spark")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class RunConfig:
    run_id: str
    start_date: dt.date
    end_date: dt.date
    symbols: list[str]
    data_dir: Path
    out_dir: Path
    lookback_days: int = defaults.LOOKBACK_DAYS
    extra_vars: dict[str, Any] = field(default_factory=dict)
    fill: str | None = None          # None | "ingest" | "generate"
    warehouse: Path | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    reproduce: list[str] = field(default_factory=list)
    synthetic: bool = False
    sample_seed: int | None = None
    verbose: bool = False            # show dbt's own lines (else the progress of lifthouse.run.progress)
    engine: str = "duckdb"           # "duckdb" | "spark" (lifthouse.run.spark, docs/spark.md)
    bar_minutes: int = 1             # the bar grain: 1 or 5 (var bar_minutes, macros/grain.sql)

    def __post_init__(self) -> None:
        if not RUN_ID_RE.match(self.run_id):
            raise RunError(f"run_id {self.run_id!r} must be letters, digits, '_', '-' or '.' "
                           "(it names files and folders)", 2)
        if self.end_date <= self.start_date:
            raise RunError(f"end_date {self.end_date} must be after start_date {self.start_date} "
                           "(the window is [start_date, end_date))", 2)
        if self.lookback_days < 0:
            raise RunError("--lookback-days must be >= 0", 2)
        self.symbols = [normalize_symbol(s) for s in self.symbols]
        if not self.symbols:
            raise RunError("no symbols given", 2)
        bad = sorted(set(self.extra_vars) & set(RESERVED_VARS))
        if bad:
            raise RunError(f"--var {', '.join(bad)}: use the dedicated option instead "
                           "(--run-id, --symbols, --start-date, --end-date, --lookback-days, "
                           "--data-dir, --bar-minutes)", 2)
        if self.bar_minutes not in BAR_MINUTES:
            raise RunError(f"--bar-minutes {self.bar_minutes}: the bar grain must be one of "
                           f"{', '.join(map(str, BAR_MINUTES))}", 2)
        check_vars(self.extra_vars)
        check_grain(self.extra_vars, self.bar_minutes)
        if self.engine not in ENGINES:
            raise RunError(f"engine {self.engine!r} must be one of {', '.join(ENGINES)}", 2)

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.out_dir / "warehouse" / f"{self.run_id}.duckdb"

    @property
    def spark_dir(self) -> Path:
        """A Spark build's tables and metastore, beside the warehouse file (docs/spark.md)."""
        return self.warehouse_path.with_suffix(".spark")

    @property
    def target_dir(self) -> Path:
        return self.out_dir / "target" / self.run_id

    @property
    def layout(self) -> ExportLayout:
        return ExportLayout(self.out_dir / "data" / "reports", self.run_id)

    @property
    def report_dir(self) -> Path:
        return self.out_dir / "reports" / self.run_id

    def dbt_vars(self) -> dict[str, Any]:
        v: dict[str, Any] = dict(self.extra_vars)
        v.update(run_id=self.run_id, symbols=list(self.symbols),
                 start_date=self.start_date.isoformat(), end_date=self.end_date.isoformat(),
                 lookback_days=self.lookback_days, bar_minutes=self.bar_minutes,
                 raw_dir=self.data_dir.resolve().as_posix())
        return dict(sorted(v.items()))


def project_vars(project_file: Path = REPO_ROOT / "dbt_project.yml") -> dict[str, Any]:
    """The var defaults of dbt_project.yml (what dbt uses for every var not passed)."""
    import yaml  # a dbt dependency

    data = yaml.safe_load(project_file.read_text()) or {}
    return dict(data.get("vars") or {})


def resolve_grain_vars(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (project defaults overridden by a run's vars) with every null var set to its
    grain's default from ``grain_defaults`` (as macros/grain.sql ``grain_var`` does) and the
    ``grain_defaults`` table itself left out: the values the build actually uses."""
    table = values.get(GRAIN_DEFAULTS_VAR) or {}
    grain = int(values.get("bar_minutes", 1))
    by_grain = table.get(grain, table.get(str(grain), {})) or {}
    out = {k: v for k, v in values.items() if k != GRAIN_DEFAULTS_VAR}
    for key, value in by_grain.items():
        if out.get(key) is None:
            out[key] = value
    return out


def effective_vars(cfg: "RunConfig") -> dict[str, Any]:
    """Project defaults overridden by the run's vars: the values the build actually used."""
    v = project_vars()
    v.update(cfg.dbt_vars())
    v = resolve_grain_vars(v)
    return {k: v[k] for k in sorted(v)}


# the window vars (minutes) the grid turns into rows: each a multiple of bar_minutes (the same
# list as macros/validate_vars.sql grain_window_vars, which refuses them in a plain dbt run)
GRAIN_WINDOW_VARS = ("baseline_minutes", "vol_regime_sample_minutes", "cascade_cooldown_minutes",
                     "vacuum_thin_minutes", "vacuum_baseline_minutes", "vacuum_sample_minutes",
                     "vacuum_cooldown_minutes", "phase2_embargo_minutes")


def check_grain(extra: dict[str, Any], bar_minutes: int,
                defaults: dict[str, Any] | None = None) -> None:
    """Refuse, before anything is built, a window var or candidate horizon that is not a whole
    multiple of the grain, naming it and the grain (windows stay in minutes at any grain)."""
    values = dict(project_vars() if defaults is None else defaults)
    values.update(extra)
    values["bar_minutes"] = bar_minutes
    values = resolve_grain_vars(values)
    for key in GRAIN_WINDOW_VARS:
        value = values.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0 \
                or value % bar_minutes:
            hint = (f"--var {key}={(value // bar_minutes + 1) * bar_minutes}"
                    if isinstance(value, int) and value > 0 else f"--var {key}=<minutes>")
            raise RunError(f"var {key} = {json.dumps(value)} minutes is not a whole multiple of "
                           f"--bar-minutes {bar_minutes} (windows stay in minutes; the grid steps "
                           f"by {bar_minutes}): pass {hint} or another multiple", 2)
    horizons = _seed_horizons()
    bad = [h for h in horizons if h % bar_minutes]
    if bad:
        raise RunError(f"candidate horizons {bad} (seeds/candidate_horizons.csv) are not "
                       f"multiples of --bar-minutes {bar_minutes}: change the seed or the grain",
                       2)


def _seed_horizons(seed_file: Path = REPO_ROOT / "seeds" / "candidate_horizons.csv") -> list[int]:
    """The horizon_min values of the candidate grid's seed."""
    lines = [x.strip() for x in seed_file.read_text().splitlines()[1:] if x.strip()]
    return [int(float(x)) for x in lines]


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "text",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def check_vars(extra: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
    """Refuse, before anything is built, a var dbt_project.yml does not declare (naming the
    close ones) and a value whose type differs from the declared default's (an integer var
    takes an integer, a number var an integer or a decimal, a true/false var true or false)."""
    defaults = project_vars() if defaults is None else defaults
    for key, value in sorted(extra.items()):
        if key not in defaults:
            close = difflib.get_close_matches(key, sorted(defaults), n=3, cutoff=0.6)
            raise RunError(f"--var {key}: dbt_project.yml declares no var {key!r}"
                           + (f"; did you mean {', '.join(close)}?" if close else "")
                           + " (every var is listed under vars: in dbt_project.yml)", 2)
        default = defaults[key]
        if default is None:
            continue
        ok = (isinstance(value, bool) if isinstance(default, bool)
              else isinstance(value, (int, float)) and not isinstance(value, bool)
              if isinstance(default, float)
              else isinstance(value, int) and not isinstance(value, bool)
              if isinstance(default, int)
              else isinstance(value, type(default)))
        if not ok:
            raise RunError(f"--var {key}={json.dumps(value) if not isinstance(value, str) else value}"
                           f": {key} takes {_type_name(default)} (default {json.dumps(default)} "
                           "in dbt_project.yml)", 2)


def parse_var(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it parses (numbers, true, lists), else text."""
    if "=" not in text:
        raise RunError(f"--var {text!r}: expected key=value", 2)
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise RunError(f"--var {text!r}: empty key", 2)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-01") from None
