"""The run's configuration (SPEC 10): window, symbols, folders, and the dbt vars it passes,
checked against the vars dbt_project.yml declares (the one home of their defaults)."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifthouse import defaults
from lifthouse.data.schema import BAR_MINUTES
from lifthouse.data.symbols import normalize_symbol
from lifthouse.run.dbt import REPO_ROOT
from lifthouse.run.errors import RunError
from lifthouse.run.export import ExportLayout

# the report's tables (models/marts/reporting/rpt_*) are built and tested with the run's models
DEFAULT_SELECT = ("+lift_summary", "+phase2_candidate_results", "+phase2_grid_tests",
                  "+dq_perp_kline_gaps",
                  "+path:models/marts/reporting")
# vars that have their own option (a --var for them would silently disagree with the option)
RESERVED_VARS = ("run_id", "symbols", "start_date", "end_date", "lookback_days", "raw_dir",
                 "bar_minutes", "append_load_from")
# a var of dbt_project.yml that is a table of defaults, not a setting (resolved into the vars)
GRAIN_DEFAULTS_VAR = "grain_defaults"
ENGINES = ("duckdb", "spark")
# matched with fullmatch: `$` alone would accept a trailing newline ("rp\n")
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# the run id names files and folders (<id>.duckdb.tmp, previous/<id>.incomplete): well
# under the 255-byte limit of a file name
RUN_ID_MAX_LEN = 100


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
    fresh: bool = False              # build the data layer cold, reuse none (lifthouse.run.layer)

    def __post_init__(self) -> None:
        check_run_id(self.run_id)
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
                           "--data-dir, --bar-minutes; append_load_from is internal)", 2)
        if self.bar_minutes not in BAR_MINUTES:
            raise RunError(f"--bar-minutes {self.bar_minutes}: the bar grain must be one of "
                           f"{', '.join(map(str, BAR_MINUTES))}", 2)
        check_vars(self.extra_vars)
        check_grain(self.extra_vars, self.bar_minutes)
        if self.engine not in ENGINES:
            raise RunError(f"engine {self.engine!r} must be one of {', '.join(ENGINES)}", 2)
        if self.engine == "spark":
            check_spark_engine()

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


def check_spark_engine() -> None:
    """RunError (exit 2), before dbt starts, when this Python cannot run a Spark build (the
    DuckDB-only .venv): pyspark and dbt-spark live in .venv-spark (docs/spark.md)."""
    import sys

    from lifthouse.run.spark import missing_requirements

    missing = missing_requirements()
    if not missing:
        return
    if all(m.startswith("java") for m in missing):
        fix = ("install a Java runtime (`make setup-spark` installs openjdk-17-jre-headless) or "
               "set JAVA_HOME")
    else:
        fix = ("run `make setup-spark`, then use .venv-spark/bin/lifthouse for --engine spark "
               "(.venv is DuckDB-only)")
    raise RunError(f"--engine spark needs {', '.join(missing)}, which {sys.executable} cannot "
                   f"find\n  fix: {fix}; docs/spark.md", 2)


def check_run_id(run_id: str) -> str:
    """``run_id`` if it can name the run's files and folders, else RunError (exit 2): letters,
    digits, '_', '-' or '.' (not first), at most :data:`RUN_ID_MAX_LEN` characters."""
    if len(run_id) > RUN_ID_MAX_LEN:
        raise RunError(f"run_id is {len(run_id)} characters long ({run_id[:20]!r}...); at most "
                       f"{RUN_ID_MAX_LEN} (it names files and folders): pass a shorter --run-id",
                       2)
    if not RUN_ID_RE.fullmatch(run_id):
        raise RunError(f"run_id {run_id!r} must be letters, digits, '_', '-' or '.' (not "
                       "first, and no spaces or line breaks: it names files and folders)", 2)
    return run_id


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


@dataclass(frozen=True)
class VarRange:
    """The values a var of dbt_project.yml takes: ``low`` / ``high`` bounds (``*_open``: the
    bound itself excluded), ``choices`` for a text var, ``even``, ``divides`` (a divisor of it)."""
    what: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    even: bool = False
    divides: int | None = None

    def text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            out = (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                   f"{')' if self.high_open else ']'}")
        elif self.low is not None:
            out = f"{'>' if self.low_open else '>='} {self.low:g}"
        else:
            out = f"{'<' if self.high_open else '<='} {self.high:g}"
        if self.even:
            out += " and even"
        if self.divides:
            out += f" and divide {self.divides}"
        return out

    def holds(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open
                                      else value > self.high):
            return False
        if self.even and value % 2:
            return False
        return not (self.divides and (value <= 0 or self.divides % value))


def _positive(what: str) -> VarRange:
    return VarRange(what, 0, low_open=True)


def _share(what: str, one: bool = False) -> VarRange:
    """(0, 1), or (0, 1] when ``one`` may be reached."""
    return VarRange(what, 0, 1, low_open=True, high_open=not one)


# The values each var of dbt_project.yml takes (the one home of these ranges): a --var outside
# is refused before anything runs, naming the var and its range. Vars not listed take any value
# of their type (a bps threshold may be negative; the seed is any integer).
VAR_RANGES: dict[str, VarRange] = {
    "funding_lookback_days": VarRange("days", 0),
    "feature_min_coverage": _share("a share of a window's inputs", one=True),
    "baseline_minutes": _positive("minutes"),
    "oi_max_age_minutes": _positive("minutes"),
    "oi_stamp_jitter_seconds": VarRange("seconds", 0),
    "funding_max_age_minutes": _positive("minutes"),
    "vol_regime_window_days": _positive("days"),
    "vol_regime_sample_minutes": VarRange("minutes", 1, 60, divides=60),
    "cascade_zmove_min": _positive("a |z| threshold"),
    "cascade_liq_multiple": _positive("a multiple of the trailing mean"),
    "cascade_oi_drop_pct": VarRange("percent", 0, 100, low_open=True),
    "cascade_cooldown_minutes": _positive("minutes"),
    "vacuum_shock_sigma": _positive("a multiple of the trailing std"),
    "vacuum_thin_minutes": _positive("minutes"),
    "vacuum_baseline_minutes": _positive("minutes"),
    "vacuum_sample_minutes": VarRange("minutes", 1, 60, divides=60),
    "vacuum_range_quantile": _share("a quantile"),
    "vacuum_illiq_quantile": _share("a quantile"),
    "vacuum_cooldown_minutes": _positive("minutes"),
    "phase2_fee_bps_per_side": VarRange("bps", 0),
    "phase2_slippage_bps_per_side": VarRange("bps", 0),
    "phase2_discovery_fraction": _share("a share of the window"),
    "phase2_embargo_minutes": _positive("minutes"),
    "phase2_min_trades": VarRange("a count of trades", 1),
    "phase2_q_max": _share("a q-value bound", one=True),
    "phase2_q_column": VarRange("the q-value column", choices=("q_bh", "q_by")),
    "phase2_condition_state_at": VarRange("the state's bar", choices=("detection", "pre_event")),
    "snoop_alpha": _share("an error rate"),
    "snoop_reps": VarRange("a count of resamples", 1),
    "snoop_block_days": _positive("days"),
    "snoop_pbo_blocks": VarRange("a count of blocks (CSCV splits them in halves)", 2, even=True),
    "n_boot": VarRange("a count of bootstrap draws", 1),
    "lift_alpha": _share("an error rate"),
    "lift_q_max": _share("a q-value bound", one=True),
    "lift_min_n": VarRange("a count of trades", 1),
    "lift_min_days": VarRange("a count of days", 1),
}


def check_range(key: str, value: Any, defaults: dict[str, Any] | None = None) -> None:
    """RunError (exit 2) when ``value`` is outside :data:`VAR_RANGES` of ``key``."""
    rng = VAR_RANGES.get(key)
    if rng is None or value is None or rng.holds(value):
        return
    default = (defaults or {}).get(key)
    shown = value if isinstance(value, str) else json.dumps(value)
    raise RunError(f"--var {key}={shown}: {key} must be {rng.text()} ({rng.what}; default "
                   f"{json.dumps(default)} in dbt_project.yml)", 2)


def check_vars(extra: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
    """Refuse, before anything is built, a var dbt_project.yml does not declare (naming the
    close ones) and a value whose type differs from the declared default's (an integer var
    takes an integer, a number var an integer or a decimal, a true/false var true or false) or
    whose value is outside its range (:data:`VAR_RANGES`)."""
    defaults = project_vars() if defaults is None else defaults
    for key, value in sorted(extra.items()):
        if key not in defaults:
            close = difflib.get_close_matches(key, sorted(defaults), n=3, cutoff=0.6)
            raise RunError(f"--var {key}: dbt_project.yml declares no var {key!r}"
                           + (f"; did you mean {', '.join(close)}?" if close else "")
                           + " (every var is listed under vars: in dbt_project.yml)", 2)
        default = defaults[key]
        if default is None:
            check_range(key, value, defaults)
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
        check_range(key, value, defaults)


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
