"""What a report is rendered from: the exported tables of a run (never the warehouse, so a
report can be regenerated while the warehouse is locked) and the run's metadata. A var the
run did not pass has its dbt_project.yml default (:func:`lifthouse.run.config.project_vars`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lifthouse.run.config import project_vars
from lifthouse.run.export import ExportLayout
from lifthouse.run.report.format import to_number


@dataclass
class ReportInputs:
    """The exported tables a report is rendered from (see docs/running.md for columns)."""

    lift_summary: pd.DataFrame
    results: pd.DataFrame
    occupancy: pd.DataFrame = field(default_factory=pd.DataFrame)
    event_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    trade_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)   # rpt_screen_funnel
    grid_tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # phase2_grid_tests


@dataclass
class ReportMeta:
    run_id: str
    start_date: str
    end_date: str
    symbols: list[str]
    vars: dict[str, Any] = field(default_factory=dict)
    reproduce: list[str] = field(default_factory=list)
    min_n: int | None = None          # default: var lift_min_n
    min_days: int | None = None       # default: var lift_min_days
    ci_level: float | None = None     # e.g. 0.95 (1 - lift_alpha)
    lookback_days: int | None = None
    synthetic: bool = False
    manifest_path: str | None = None

    def __post_init__(self) -> None:
        if self.min_n is None:
            self.min_n = int(self.var("lift_min_n"))
        if self.min_days is None:
            self.min_days = int(self.var("lift_min_days"))

    def var(self, name: str) -> Any:
        """The run's value of a dbt var, else its dbt_project.yml default."""
        return self.vars[name] if name in self.vars else project_vars()[name]

    def bar_text(self) -> str:
        """The run's grain in words: '1-minute bars' or '5-minute bars' (var bar_minutes)."""
        return f"{int(self.var('bar_minutes'))}-minute bars"

    def costs_text(self) -> str:
        """e.g. 'fee 4.5 + slippage 1.5 bp per side' from the run's vars."""
        fee = self.var("phase2_fee_bps_per_side")
        slip = self.var("phase2_slippage_bps_per_side")
        return f"fee {fee:g} + slippage {slip:g} bp per side"

    def figure_title(self) -> str:
        return (f"run {self.run_id} · [{self.start_date}, {self.end_date}) UTC · "
                f"{self.costs_text()}")

    def too_few(self, n: Any, days: Any = None) -> str | None:
        """'n < 10' (or 'days < 5') when a lift has too little data for a CI to mean anything
        (vars lift_min_n, lift_min_days), else None."""
        n_v, d_v = to_number(n), to_number(days)
        if n_v is None or n_v < self.min_n:
            return f"n < {self.min_n}"
        if days is not None and (d_v is None or d_v < self.min_days):
            return f"days < {self.min_days}"
        return None


def rows_of_type(df: pd.DataFrame, row_type: str) -> pd.DataFrame:
    if df is None or df.empty or "row_type" not in df.columns:
        return pd.DataFrame(columns=list(df.columns) if df is not None else [])
    return df[df["row_type"] == row_type]


def first_value(row: pd.Series | dict, *names: str) -> Any:
    for n in names:
        if n in row and not (isinstance(row[n], float) and math.isnan(row[n])) and row[n] is not pd.NA:
            return row[n]
    return None


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if Path(path).exists() else pd.DataFrame()


def load_inputs(layout: ExportLayout) -> ReportInputs:
    """Read a run's exported tables (Parquet for the models, CSV for the report tables)."""
    ls_path = layout.ablation_dir / "lift_summary.parquet"
    res_path = layout.phase2_dir / "phase2_candidate_results.parquet"
    for p in (ls_path, res_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run the export stage first")
    t = layout.tables_dir
    return ReportInputs(
        lift_summary=pd.read_parquet(ls_path),
        results=pd.read_parquet(res_path),
        occupancy=_read_csv(t / "state_occupancy.csv"),
        event_counts=_read_csv(t / "event_counts.csv"),
        trade_counts=_read_csv(t / "trade_counts.csv"),
        coverage=_read_csv(t / "data_coverage.csv"),
        paths=_read_csv(t / "event_paths.csv"),
        funnel=_read_csv(t / "rpt_screen_funnel.csv"),
        grid_tests=(pd.read_parquet(layout.phase2_dir / "phase2_grid_tests.parquet")
                    if (layout.phase2_dir / "phase2_grid_tests.parquet").exists()
                    else pd.DataFrame()),
    )
